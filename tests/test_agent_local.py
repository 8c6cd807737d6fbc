"""The guest agent run as a local process over a socketpair, driven with raw frames."""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from guest_pty_agent import protocol, reports
from helpers.processes import alive
from helpers.wait import wait_until
from guest_pty_agent.protocol import FrameType as T

ROOT = Path(__file__).resolve().parent.parent
Frame = Tuple[int, int, bytes]
TIMEOUT = 15.0


class Client:
    """A tiny blocking host: send frames, wait for matching ones (others are kept)."""

    def __init__(self, env: Optional[Dict[str, str]] = None, flags: Tuple[str, ...] = ()) -> None:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, *flags, "-m", "guest_pty_agent", "--fd", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], cwd=ROOT, env=env)
        theirs.close()
        self.sock = ours
        self.decoder = protocol.FrameDecoder()
        self.inbox: List[Frame] = []
        self.eof = False
        self.next_id = 1
        self.hello = self.wait(lambda f: f[0] == T.HELLO)
        self.send_json(T.HELLO, 0, {"version": 1})

    def send(self, ftype: int, ident: int, payload: bytes = b"") -> None:
        self.sock.sendall(protocol.encode(ftype, ident, payload))

    def send_json(self, ftype: int, ident: int, obj: Dict[str, Any]) -> None:
        self.sock.sendall(protocol.encode_json(ftype, ident, obj))

    def _read(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        if not data:
            self.eof = True
            return False
        self.inbox.extend(self.decoder.feed(data))
        return True

    def wait(self, match: Callable[[Frame], bool], timeout: float = TIMEOUT) -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            for i, frame in enumerate(self.inbox):
                if match(frame):
                    return self.inbox.pop(i)
            if not self._read(deadline):
                raise AssertionError(f"no matching frame within {timeout}s (eof={self.eof}); "
                                     f"inbox: {[(T(f[0]).name, f[1]) for f in self.inbox][:20]}")

    def frames_within(self, seconds: float) -> List[Frame]:
        """Everything that arrives in the next `seconds` (for asserting silence)."""
        deadline = time.monotonic() + seconds
        while self._read(deadline):
            pass
        frames, self.inbox = self.inbox, []
        return frames

    def start(self, argv: List[str], **spec: Any) -> int:
        ident = self.next_id
        self.next_id += 1
        body = {"argv": argv, "env": spec.pop("env", {"PATH": os.environ["PATH"]}),
                "tty": False, "window": 1 << 30}
        body.update(spec)
        self.send_json(T.START, ident, body)
        return ident

    def started(self, ident: int) -> Dict[str, Any]:
        t, _, payload = self.wait(lambda f: f[1] == ident and f[0] in (T.STARTED, T.START_FAILED))
        assert t == T.STARTED, json.loads(payload)
        return json.loads(payload)

    def start_failed(self, ident: int) -> Dict[str, Any]:
        t, _, payload = self.wait(lambda f: f[1] == ident and f[0] in (T.STARTED, T.START_FAILED))
        assert t == T.START_FAILED, json.loads(payload)
        return json.loads(payload)

    def collect(self, ident: int, credit: bool = False) -> Tuple[bytes, bytes, Dict[str, Any]]:
        """stdout, stderr and the EXIT payload of one exec; checks nothing follows EXIT data."""
        out, err = bytearray(), bytearray()
        while True:
            t, _, payload = self.wait(lambda f: f[1] == ident and f[0] in (T.STDOUT, T.STDERR, T.EXIT))
            if t == T.EXIT:
                return bytes(out), bytes(err), json.loads(payload)
            (out if t == T.STDOUT else err).extend(payload)
            if credit:
                self.sock.sendall(protocol.encode_credit(ident, len(payload)))

    def run(self, argv: List[str], **spec: Any) -> Tuple[bytes, bytes, Dict[str, Any]]:
        ident = self.start(argv, **spec)
        self.started(ident)
        return self.collect(ident)

    def request(self, ident: int, header: Dict[str, Any], blob: bytes = b"") -> Tuple[Dict[str, Any], bytes]:
        self.send(T.REQUEST, ident, protocol.pack_blob(header, blob))
        _, _, payload = self.wait(lambda f: f[0] == T.RESPONSE and f[1] == ident)
        return protocol.unpack_blob(payload)

    def close(self) -> int:
        self.sock.close()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture
def agent():
    client = Client()
    yield client
    if client.proc.poll() is None:
        assert client.close() == 0


def test_hello_describes_the_agent():
    c = Client(env={**os.environ, "AGENT_MARKER": "m1"})
    hello = json.loads(c.hello[2])
    assert hello["version"] == 1
    assert hello["pid"] == c.proc.pid
    assert hello["env"]["AGENT_MARKER"] == "m1"
    assert hello["uname"] == os.uname().release
    assert hello["python"] == sys.version.split()[0]
    assert {"tty", "pipes", "files"} <= set(hello["caps"])
    assert c.close() == 0


def test_ping_is_answered_with_the_same_payload(agent):
    agent.send(T.PING, 0, b"\x00beat\xff")
    assert agent.wait(lambda f: f[0] == T.PONG)[2] == b"\x00beat\xff"


def test_echo_through_pipes(agent):
    out, err, exit_ = agent.run(["sh", "-c", "echo hello; echo oops >&2; exit 3"])
    assert (out, err) == (b"hello\n", b"oops\n")
    assert exit_ == {"code": 3, "signal": None}


def test_echo_through_a_tty(agent):
    out, err, exit_ = agent.run(["sh", "-c", "echo hello; echo oops >&2; test -t 0"], tty=True)
    assert out == b"hello\r\noops\r\n" and err == b""
    assert exit_ == {"code": 0, "signal": None}


def test_env_and_dir_are_those_given(agent, tmp_path):
    out, _, _ = agent.run(["sh", "-c", 'pwd; echo "$ONLY"; env | wc -l'], dir=str(tmp_path),
                          env={"PATH": os.environ["PATH"], "ONLY": "this"})
    lines = out.decode().split()
    assert lines[0] == str(tmp_path) and lines[1] == "this"
    assert int(lines[2]) <= 4      # PATH, ONLY, and what sh itself adds (PWD, SHLVL)


@pytest.mark.parametrize("tty", [False, True])
def test_start_failures_have_kinds(agent, tmp_path, tty):
    plain = tmp_path / "plain"
    plain.write_text("data")
    cases = [
        (["no-such-command-xyz"], {}, "not_found", "executable file not found in $PATH: no-such-command-xyz"),
        ([str(tmp_path / "missing")], {}, "not_found", str(tmp_path / "missing")),
        ([str(plain)], {}, "permission", str(plain)),
        ([str(tmp_path)], {}, "permission", str(tmp_path)),
        (["true"], {"dir": str(tmp_path / "nodir")}, "bad_dir", str(tmp_path / "nodir")),
        (["true"], {"dir": str(plain)}, "bad_dir", str(plain)),
        (["true"], {"user": "no-such-user-xyz"}, "bad_user", "no-such-user-xyz"),
    ]
    for argv, extra, kind, text in cases:
        failed = agent.start_failed(agent.start(argv, tty=tty, **extra))
        assert failed["kind"] == kind, (argv, extra, failed)
        assert text in failed["message"]


def test_exec_errors_are_found_in_the_parent(agent, tmp_path):
    script = tmp_path / "bad-interpreter"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    failed = agent.start_failed(agent.start([str(script)]))
    assert failed["kind"] == "not_found" and str(script) in failed["message"]
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x7fELF\x00garbage")
    junk.chmod(0o755)
    failed = agent.start_failed(agent.start([str(junk)], tty=True))
    assert failed["kind"] == "other" and "Exec format error" in failed["message"]


def test_current_user_by_name_needs_no_privilege(agent):
    import pwd
    out, _, exit_ = agent.run(["id", "-u"], user=pwd.getpwuid(os.getuid()).pw_name)
    assert out == f"{os.getuid()}\n".encode() and exit_["code"] == 0


def test_reused_live_id_is_refused(agent):
    ident = agent.start(["sleep", "30"])
    agent.started(ident)
    agent.send_json(T.START, ident, {"argv": ["true"], "env": {}, "tty": False})
    assert agent.start_failed(ident)["kind"] == "other"
    agent.send_json(T.SIGNAL, ident, {"signal": 9, "group": False})
    assert agent.collect(ident)[2] == {"code": None, "signal": 9}


def test_signal_and_group_signal(agent):
    ident = agent.start(["sleep", "30"])
    agent.started(ident)
    agent.send_json(T.SIGNAL, ident, {"signal": signal.SIGTERM, "group": False})
    assert agent.collect(ident)[2] == {"code": None, "signal": signal.SIGTERM}
    # the group signal reaches the background child, which alone holds the pipe
    ident = agent.start(["sh", "-c", "sleep 30 & echo $!; wait"])
    pid = int(agent.wait(lambda f: f[1] == ident and f[0] == T.STDOUT)[2])
    agent.send_json(T.SIGNAL, ident, {"signal": signal.SIGKILL, "group": True})
    assert agent.collect(ident)[2] == {"code": None, "signal": signal.SIGKILL}
    assert _gone(pid)


def _gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_stdin_then_close_with_cat(agent):
    ident = agent.start(["cat"])
    agent.started(ident)
    data = os.urandom(300_000)
    sent = 0
    credited = 0
    for chunk in protocol.chunks(data):
        while sent + len(chunk) - credited > protocol.DEFAULT_WINDOW:
            f = agent.wait(lambda f: f[1] == ident and f[0] == T.CREDIT)
            credited += protocol.decode_credit(f[2])
        agent.send(T.STDIN, ident, chunk)
        sent += len(chunk)
    agent.send(T.STDIN_CLOSE, ident)
    out, _, exit_ = agent.collect(ident)
    assert out == data and exit_["code"] == 0
    while credited < len(data):
        credited += protocol.decode_credit(agent.wait(lambda f: f[1] == ident and f[0] == T.CREDIT)[2])
    assert credited == len(data)


@pytest.mark.parametrize("text", [b"hello\n", b"no newline"])
def test_tty_stdin_close_ends_cat(agent, text):
    ident = agent.start(["cat"], tty=True)
    agent.started(ident)
    agent.send(T.STDIN, ident, text)
    agent.send(T.STDIN_CLOSE, ident)
    out, _, exit_ = agent.collect(ident)
    assert exit_ == {"code": 0, "signal": None}
    assert text.rstrip(b"\n") in out


def test_resize_then_stty_size(agent):
    ident = agent.start(["sh", "-c", "stty size; read go; stty size"], tty=True, rows=24, cols=80)
    agent.started(ident)
    first = agent.wait(lambda f: f[1] == ident and f[0] == T.STDOUT)[2]
    assert first == b"24 80\r\n"
    agent.send_json(T.RESIZE, ident, {"rows": 50, "cols": 132})
    agent.send(T.STDIN, ident, b"go\n")
    out, _, _ = agent.collect(ident)
    assert out.endswith(b"50 132\r\n")


def test_resize_delivers_sigwinch(agent):
    ident = agent.start(["sh", "-c", "trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done"],
                        tty=True)
    agent.started(ident)
    agent.wait(lambda f: f[1] == ident and f[0] == T.STDOUT and b"ready" in f[2])
    agent.send_json(T.RESIZE, ident, {"rows": 33, "cols": 99})
    out, _, exit_ = agent.collect(ident)
    assert b"33 99" in out and exit_["code"] == 0


def test_output_stops_at_the_credit_and_resumes(agent):
    window = 64 * 1024
    ident = agent.start(["yes"], window=window)
    agent.started(ident)
    received = 0
    while received < window:
        received += len(agent.wait(lambda f: f[1] == ident and f[0] == T.STDOUT)[2])
    assert received == window
    assert not [f for f in agent.frames_within(0.5) if f[0] in (T.STDOUT, T.STDERR)]
    agent.sock.sendall(protocol.encode_credit(ident, 100_000))
    while received < window + 100_000:
        received += len(agent.wait(lambda f: f[1] == ident and f[0] == T.STDOUT)[2])
    assert received == window + 100_000
    assert not [f for f in agent.frames_within(0.3) if f[0] in (T.STDOUT, T.STDERR)]
    agent.send_json(T.SIGNAL, ident, {"signal": 9, "group": True})
    # what the pipe still holds is forwarded (once the host hands credit back) before EXIT
    agent.sock.sendall(protocol.encode_credit(ident, received))
    assert agent.collect(ident, credit=True)[2]["signal"] == 9


def test_a_flood_does_not_starve_other_execs(agent):
    flood = agent.start(["yes"], window=protocol.DEFAULT_WINDOW)
    agent.started(flood)
    seen = 0
    quiet = agent.start(["echo", "still here"])
    # keep the flood going at full speed while waiting for the other exec
    while True:
        t, ident, payload = agent.wait(lambda f: f[1] in (flood, quiet))
        if ident == flood and t == T.STDOUT:
            seen += len(payload)
            agent.sock.sendall(protocol.encode_credit(flood, len(payload)))
        elif ident == quiet and t == T.EXIT:
            break
    assert seen > 0
    agent.send_json(T.SIGNAL, flood, {"signal": 9, "group": True})
    agent.collect(flood, credit=True)


def test_output_is_drained_before_exit_through_pipes(agent):
    ident = agent.start(["head", "-c", "3000000", "/dev/zero"], window=protocol.DEFAULT_WINDOW)
    agent.started(ident)
    out, _, exit_ = agent.collect(ident, credit=True)
    assert len(out) == 3_000_000 and exit_["code"] == 0


def test_output_is_drained_before_exit_on_a_tty(agent):
    ident = agent.start(["seq", "1", "100000"], tty=True, window=protocol.DEFAULT_WINDOW)
    agent.started(ident)
    out, _, exit_ = agent.collect(ident, credit=True)
    expected = "".join(f"{i}\r\n" for i in range(1, 100001)).encode()
    assert out == expected and exit_["code"] == 0


def test_a_daemon_holding_the_output_does_not_delay_exit(agent):
    start = time.monotonic()
    out, _, exit_ = agent.run(["sh", "-c", "sleep 30 & echo bye"])
    assert out == b"bye\n" and exit_["code"] == 0
    out, _, exit_ = agent.run(["sh", "-c", "sleep 30 & echo bye"], tty=True)
    assert out == b"bye\r\n" and exit_["code"] == 0
    assert time.monotonic() - start < 8


@pytest.mark.parametrize("tty", [False, True])
def test_a_background_writer_does_not_delay_exit_forever(agent, tty):
    ident = agent.start(["sh", "-c", "yes & echo started"], tty=tty, window=protocol.DEFAULT_WINDOW)
    agent.started(ident)
    out, _, exit_ = agent.collect(ident, credit=True)
    assert exit_ == {"code": 0, "signal": None} and b"started" in out


def test_reports_follow_cd_in_an_interactive_shell(agent, tmp_path):
    env = {"PATH": os.environ["PATH"], "PS1": "$ ", "REPORT_MARK": "yes"}
    ident = agent.start(["sh", "-i"], tty=True, reports=True, dir=str(tmp_path), env=env)
    agent.started(ident)
    first = json.loads(agent.wait(lambda f: f[1] == ident and f[0] == T.REPORT)[2])
    assert first["cwd"] == str(tmp_path) and first["env"]["REPORT_MARK"] == "yes"
    agent.send(T.STDIN, ident, b"cd /tmp\n")
    moved = json.loads(agent.wait(lambda f: f[1] == ident and f[0] == T.REPORT)[2])
    assert moved["cwd"] == os.path.realpath("/tmp")
    agent.send(T.STDIN, ident, b"exit 5\n")
    assert agent.collect(ident)[2]["code"] == 5


def test_reports_name_what_a_shell_without_job_control_runs(agent):
    """sh -c runs sleep in its own process group: the report follows it to the child."""
    ident = agent.start(["sh", "-c", "sleep 30; exit 4"], tty=True, reports=True,
                        env={"PATH": os.environ["PATH"]})
    pid = agent.started(ident)["pid"]
    report = json.loads(agent.wait(lambda f: f[1] == ident and f[0] == T.REPORT
                                   and json.loads(f[2]).get("comm") == "sleep")[2])
    assert report["pid"] != pid
    os.kill(report["pid"], signal.SIGTERM)
    assert agent.collect(ident)[2]["code"] == 4


def test_a_process_name_of_any_bytes_is_read_as_bounded_text(tmp_path):
    """A child renames itself (control bytes, invalid UTF-8): read_comm keeps the
    controls for the host to escape and replaces what is not UTF-8."""
    flag = tmp_path / "named"
    child = subprocess.Popen([sys.executable, "-c", (
        "import pathlib, sys, time\n"
        "pathlib.Path('/proc/self/comm').write_bytes(b'\\x1b]2;x\\x07\\xff' + b'z' * 40)\n"
        f"pathlib.Path({str(flag)!r}).touch()\n"
        "time.sleep(60)\n")])
    try:
        wait_until(lambda: flag.exists() or child.poll() is not None, 30,
                   what="the child named")
        assert child.poll() is None
        name = reports.read_comm(child.pid)
        assert name is not None and name.startswith("\x1b]2;x\x07\ufffd") and len(name) <= 16
    finally:
        child.kill()
        child.wait()
    assert reports.read_comm(child.pid) is None


def test_file_operations(agent, tmp_path):
    base = tmp_path / "a" / "b"
    assert agent.request(1, {"op": "mkdir_all", "path": str(base), "mode": 0o755})[0] == {"ok": True}
    assert base.is_dir()
    target = base / "f.bin"
    first, second = os.urandom(700_000), os.urandom(300_000)
    assert agent.request(2, {"op": "write_file", "path": str(target), "mode": 0o600, "append": False}, first)[0]["ok"]
    assert agent.request(3, {"op": "write_file", "path": str(target), "mode": 0o600, "append": True}, second)[0]["ok"]
    assert target.read_bytes() == first + second and (target.stat().st_mode & 0o777) == 0o600
    header, blob = agent.request(4, {"op": "read_file", "path": str(target), "offset": 100, "length": 10_000_000})
    assert header == {"ok": True, "size": 1_000_000} and blob == (first + second)[100:100 + 512 * 1024]
    header, blob = agent.request(5, {"op": "read_file", "path": str(target), "offset": 999_990, "length": 100})
    assert blob == second[-10:]
    # errors carry errno and the path
    missing = str(tmp_path / "missing")
    header, _ = agent.request(6, {"op": "read_file", "path": missing, "offset": 0, "length": 1})
    assert header["ok"] is False and header["errno"] == errno.ENOENT and missing in header["error"]
    header, _ = agent.request(7, {"op": "mkdir_all", "path": str(target / "x"), "mode": 0o755})
    assert header["ok"] is False and header["errno"] == errno.ENOTDIR
    header, _ = agent.request(8, {"op": "write_file", "path": str(tmp_path / "no" / "f"), "mode": 0o644, "append": False})
    assert header["errno"] == errno.ENOENT
    assert agent.request(9, {"op": "frobnicate"})[0]["ok"] is False


MALFORMED = {
    "unknown type": protocol.HEADER.pack(0, 99, 0),
    "oversized": protocol.HEADER.pack(protocol.MAX_PAYLOAD + 1, T.STDIN, 1),
    "bad json": protocol.encode(T.START, 1, b"{not json"),
    "argv not a list": protocol.encode_json(T.START, 1, {"argv": "ls", "env": {}, "tty": False}),
    "env value not str": protocol.encode_json(T.START, 1, {"argv": ["ls"], "env": {"A": 1}, "tty": False}),
    "rows is bool": protocol.encode_json(T.START, 1, {"argv": ["ls"], "env": {}, "tty": True, "rows": True}),
    "short credit": protocol.encode(T.CREDIT, 1, b"\x00"),
    "bad signal": protocol.encode_json(T.SIGNAL, 1, {"signal": "KILL"}),
    "bad request": protocol.encode(T.REQUEST, 1, b"\x00\x00\x00\xffxx"),
    "agent-only type": protocol.encode(T.STDOUT, 1, b"x"),
    "wrong version": protocol.encode_json(T.HELLO, 0, {"version": 2}),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_frame_gets_error_and_exit(name):
    c = Client()
    ident = c.start(["sleep", "30"])
    pid = c.started(ident)["pid"]
    c.sock.sendall(MALFORMED[name])
    message = json.loads(c.wait(lambda f: f[0] == T.ERROR)[2])["message"]
    assert message
    assert c.proc.wait(timeout=10) != 0
    assert _gone(pid)
    c.sock.close()


def test_twenty_parallel_execs(agent):
    ids = {agent.start(["sh", "-c", f"sleep 0.{n % 3}; echo exec-{n}"], tty=bool(n % 2)): n for n in range(20)}
    for ident, n in ids.items():
        out, _, exit_ = agent.collect(ident)
        assert out.strip() == f"exec-{n}".encode() and exit_["code"] == 0


def test_frames_for_unknown_ids_are_ignored(agent):
    agent.send(T.STDIN, 77, b"x")
    agent.send(T.STDIN_CLOSE, 77)
    agent.send(T.CREDIT, 77, b"\x00\x00\x00\x01")
    agent.send_json(T.RESIZE, 77, {"rows": 1, "cols": 1})
    agent.send_json(T.SIGNAL, 77, {"signal": 9, "group": True})
    assert agent.run(["echo", "ok"])[0] == b"ok\n"


def test_peer_going_away_kills_execs():
    c = Client()
    ident = c.start(["sh", "-c", "sleep 60 & echo $!; wait"])
    bg = int(c.wait(lambda f: f[1] == ident and f[0] == T.STDOUT)[2])
    assert c.close() == 0
    assert _gone(bg)


def test_poweroff_ends_a_local_agent():
    c = Client()
    ident = c.start(["sleep", "30"])
    pid = c.started(ident)["pid"]
    c.send(T.POWEROFF, 0)
    assert c.proc.wait(timeout=10) == 0
    assert _gone(pid)
    c.sock.close()


def test_init_exec_exit_ends_a_local_agent():
    c = Client()
    ident = c.start(["sh", "-c", "echo last words"], init=True)
    out, _, exit_ = c.collect(ident)
    assert out == b"last words\n" and exit_["code"] == 0
    assert c.proc.wait(timeout=10) == 0
    c.sock.close()


def test_a_bare_python_without_ptyprocess_still_serves_ttys():
    """As in a guest run with `python3 -S`: no site-packages, so no ptyprocess."""
    c = Client(flags=("-S",))
    pty_out, _, exit_ = c.run(["sh", "-c", "stty size; exit 4"], tty=True, rows=12, cols=34)
    assert pty_out == b"12 34\r\n" and exit_["code"] == 4
    assert c.start_failed(c.start(["true"], tty=True, dir="/no/such/dir"))["kind"] == "bad_dir"
    assert c.run(["echo", "pipes"])[0] == b"pipes\n"
    assert c.close() == 0


def test_a_shrunk_window_pauses_output_until_the_host_catches_up(agent):
    """WINDOW moves the credit by the difference, even below zero (the TUI's yielding panes)."""
    ident = agent.start(["yes"], window=64 * 1024)
    agent.started(ident)
    received = 0
    while received < 64 * 1024:
        received += len(agent.wait(lambda f: f[1] == ident and f[0] == T.STDOUT)[2])
    assert received == 64 * 1024
    agent.sock.sendall(protocol.encode_window(ident, 16 * 1024))       # credit: 0 - 48 KiB
    agent.sock.sendall(protocol.encode_credit(ident, 48 * 1024))      # credit: 0
    assert not [f for f in agent.frames_within(0.5) if f[0] in (T.STDOUT, T.STDERR)]
    agent.sock.sendall(protocol.encode_credit(ident, 16 * 1024))      # credit: 16 KiB
    while received < 80 * 1024:
        received += len(agent.wait(lambda f: f[1] == ident and f[0] == T.STDOUT)[2])
    assert received == 80 * 1024
    assert not [f for f in agent.frames_within(0.3) if f[0] in (T.STDOUT, T.STDERR)]
    agent.sock.sendall(protocol.encode_window(ident, 48 * 1024))       # growth counts at once
    while received < 112 * 1024:
        received += len(agent.wait(lambda f: f[1] == ident and f[0] == T.STDOUT)[2])
    assert received == 112 * 1024
    agent.send_json(T.SIGNAL, ident, {"signal": 9, "group": True})
    agent.sock.sendall(protocol.encode_credit(ident, received))
    assert agent.collect(ident, credit=True)[2]["signal"] == 9
