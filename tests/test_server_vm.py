"""The cctui server with real VMs, driven as a user drives it: the CLI in subprocesses.

One server and one VM serve the module (session ``t``, its first pane a plain
``sh``); the tests that end the server come last. The socket directory is
private to this module (CCTUI_SOCKET_DIR), so no user's server is touched.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from typing import Dict, Iterator, List, Optional

import pytest

from cctui.server.wire import VERSION, Frame, decoder, encode, encode_json
from helpers.processes import wait_exit
from helpers.wait import wait_until

pytestmark = pytest.mark.vm
ENV: Dict[str, str] = {}


def cli(*args: str, input: Optional[bytes] = None, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "cctui", *args], env=ENV, input=input,
                          capture_output=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"cctui {' '.join(args)}: {done.returncode} {done.stderr.decode()}")
    return done


def ls() -> dict:
    return json.loads(cli("ls", "--json").stdout)


def pane(session: str, window: int = 0, index: int = 0) -> dict:
    for s in ls()["sessions"]:
        if s["name"] == session:
            for w in s["windows"]:
                if w["index"] == window:
                    return w["panes"][index]
    raise AssertionError(f"no pane {session}:{window}.{index}")


def capture(target: str, *args: str) -> List[str]:
    return cli("capture-pane", "-p", "-t", target, *args).stdout.decode().splitlines()


def raw_client(hello: bool = True) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(ENV["CCTUI_SOCKET_DIR"], "default"))
    sock.settimeout(60)
    if hello:
        sock.sendall(encode_json(Frame.HELLO, 0, {"version": VERSION}))
        assert read_frames(sock, 1)[0][0] == Frame.HELLO
    return sock


def read_frames(sock: socket.socket, count: int = 1 << 30) -> list:
    """Frames until ``count`` arrived or the server hung up."""
    dec = decoder(1 << 20)
    frames: list = []
    while len(frames) < count:
        data = sock.recv(1 << 16)
        if not data:
            break
        frames.extend(dec.feed(data))
    return frames


@pytest.fixture(scope="module", autouse=True)
def server() -> Iterator[int]:
    where = tempfile.mkdtemp(prefix="cctui-test-")       # in /tmp: the uid test must reach it
    ENV.clear()
    ENV.update(os.environ, CCTUI_SOCKET_DIR=where)
    cli("new", "-d", "-s", "t", "--", "sh")
    pid = ls()["server_pid"]
    try:
        yield pid
    finally:
        cli("kill-server", check=False)
        for p in (pid,):
            if not wait_exit(p, 20):
                os.kill(p, 9)
        shutil.rmtree(where, ignore_errors=True)


def test_new_and_ls_json(server: int) -> None:
    listing = ls()
    assert listing["server_pid"] == server
    (session,) = listing["sessions"]
    assert session["name"] == "t" and (session["cols"], session["rows"]) == (80, 24)
    (vm,) = session["vms"]
    assert vm["name"] == "vm1" and vm["state"] == "running" and vm["qemu_pid"] > 0
    first = session["windows"][0]["panes"][0]
    assert (first["index"], first["command"], first["state"], first["exit_code"]) == (0, "sh", "running", None)
    text = cli("ls").stdout.decode()
    assert text.startswith("t: 1 windows") and "0.0* %0 vm1 sh: running [80x24]" in text


def test_each_session_boots_with_the_transport_it_asked_for() -> None:
    cli("--transport", "virtio-serial", "new", "-d", "-s", "serial", "--", "sh")
    by_name = {s["name"]: s["vms"][0] for s in ls()["sessions"]}
    assert by_name["serial"]["transport"] == "virtio-serial" and by_name["serial"]["state"] == "running"
    assert by_name["t"]["transport"] in ("vsock", "vsock-user", "virtio-serial")
    assert cli("exec", "-t", "serial", "--", "echo", "over serial").stdout == b"over serial\n"
    cli("kill-session", "-t", "serial")
    assert [s["name"] for s in ls()["sessions"]] == ["t"]


def test_new_with_net_ports_and_a_volume_and_ls_shows_them(tmp_path) -> None:
    """`cctui new -d --net -p .. -v rel:/shared:ro`: the session's VM mounts the host folder
    (its relative path resolved by the client), serves on the published port, and ls says so."""
    import urllib.request
    with socket.socket() as probe:                  # a free host port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    share = tmp_path / "share"
    share.mkdir()
    (share / "hello.txt").write_text("from the host\n")
    done = subprocess.run([sys.executable, "-m", "cctui", "new", "-d", "-s", "netted", "--net",
                           "-p", f"{port}:8000", "-v", "share:/shared:ro", "--", "sh"],
                          env=ENV, cwd=tmp_path, capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr
    try:
        by_name = {s["name"]: s["vms"][0] for s in ls()["sessions"]}
        vm = by_name["netted"]
        assert (vm["state"], vm["net"], vm["ports"]) == ("running", "on", [f"127.0.0.1:{port}:8000/tcp"])
        assert vm["volumes"] == [f"{os.path.realpath(share)}:/shared:ro"]
        assert (by_name["t"]["net"], by_name["t"]["ports"], by_name["t"]["volumes"]) == ("off", [], [])
        assert "netted: 1 windows" in cli("ls").stdout.decode() and "vm1 running net=on" in cli("ls").stdout.decode()
        assert cli("exec", "-t", "netted", "--", "cat", "/shared/hello.txt").stdout == b"from the host\n"
        assert cli("exec", "-t", "netted", "--", "touch", "/shared/x", check=False).returncode != 0
        cli("exec", "-t", "netted", "--", "sh", "-c",
            "python3 -m http.server 8000 -d /shared >/dev/null 2>&1 </dev/null &")
        body: List[bytes] = []

        def fetched() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=5) as r:
                    body.append(r.read())
                return True
            except OSError:
                return False
        wait_until(fetched, 60, what="the guest's server on the published port")
        assert body[-1] == b"from the host\n"
    finally:
        cli("kill-session", "-t", "netted", check=False)
    assert [s["name"] for s in ls()["sessions"]] == ["t"]


def test_new_with_a_missing_volume_directory_is_an_error_reply(tmp_path) -> None:
    """A client that skips the local check: the server looks at the host directory itself
    and answers an error (the connection stays usable); a spelling it cannot parse is a
    protocol error that ends only that client."""
    sock = raw_client()
    sock.sendall(encode_json(Frame.REQUEST, 1, {"op": "new", "name": "nodir",
                                                "volumes": [f"{tmp_path}/missing:/x"]}))
    (reply,) = read_frames(sock, 1)
    assert reply[0] == Frame.REPLY and b'"ok":false' in reply[2] and b"does not exist" in reply[2]
    sock.sendall(encode_json(Frame.REQUEST, 2, {"op": "new", "volumes": ["rel:/x"]}))
    frames = read_frames(sock)
    assert [f[0] for f in frames] == [Frame.ERROR] and b"is not /HOST_DIR" in frames[0][2]
    sock.close()
    assert [s["name"] for s in ls()["sessions"]] == ["t"]


def test_send_keys_and_capture_round_trip() -> None:
    cli("send-keys", "-t", "t", "echo $((6*7))", "Enter")
    cli("wait-text", "-t", "t:0.0", "--timeout", "30", "42")   # only the output holds 42
    lines = capture("t")
    assert "42" in lines and any("echo $((6*7))" in line for line in lines)
    assert len(lines) == 24


def test_send_keys_literal_and_control_keys() -> None:
    cli("send-keys", "-t", "t", "-l", "echo lit", "Enter")       # -l: "Enter" is text
    cli("send-keys", "-t", "t", "C-c")
    cli("send-keys", "-t", "t", "echo ctl$((1+1))", "Enter")
    cli("wait-text", "-t", "t", "ctl2")
    joined = "\n".join(capture("t"))
    assert "echo litEnter" in joined and "litEnter\n" not in joined.replace("echo litEnter", "")


def test_capture_scrollback_with_negative_start() -> None:
    cli("send-keys", "-t", "t", "clear; seq 1 300", "Enter")
    cli("wait-text", "-t", "t", "299\n300\n#")      # the prompt: nothing scrolls after it
    screen = capture("t")
    first = int(screen[0])
    assert capture("t", "-S", "-5", "-E", "-1") == [str(n) for n in range(first - 5, first)]
    everything = capture("t", "-S", "-")
    assert everything[everything.index("1"):everything.index("300") + 1] == [str(n) for n in range(1, 301)]
    assert capture("t", "-S", "-3", "-E", "0") == [str(first - 3), str(first - 2), str(first - 1), str(first)]


def test_capture_with_escapes() -> None:
    cli("send-keys", "-t", "t", r"printf '\033[31m%s\033[0m\n' R$((1+1))", "Enter")
    cli("wait-text", "-t", "t", "R2")
    plain = capture("t")
    escaped = cli("capture-pane", "-p", "-e", "-t", "t").stdout.decode().splitlines()
    assert "R2" in plain and "\x1b[0;31mR2\x1b[0m" in escaped


def test_exec_exit_codes_and_streams() -> None:
    done = cli("exec", "-t", "t", "--", "sh", "-c", "echo out; echo err >&2; exit 7", check=False)
    assert (done.returncode, done.stdout, done.stderr) == (7, b"out\n", b"err\n")
    shell = subprocess.run(f"{sys.executable} -m cctui exec -t t -- sh -c 'exit 7'; echo $?", shell=True,
                           env=ENV, capture_output=True, timeout=60)
    assert shell.stdout == b"7\n"
    assert cli("exec", "-t", "t", "--", "sh", "-c", "kill -9 $$", check=False).returncode == 137
    missing = cli("exec", "-t", "t", "--", "no-such-command-here", check=False)
    assert missing.returncode == 127 and b"no-such-command-here" in missing.stderr
    assert cli("exec", "-t", "t", "--vm", "vm9", "--", "true", check=False).stderr.startswith(
        b"cctui: session t has no VM vm9")


def test_exec_streams_stdin() -> None:
    assert cli("exec", "-t", "t", "--", "tr", "a-z", "A-Z", input=b"hello\nworld\n").stdout == b"HELLO\nWORLD\n"
    data = os.urandom(3 << 20)
    assert cli("exec", "-t", "t", "--", "wc", "-c", input=data).stdout.split() == [str(len(data)).encode()]
    assert cli("exec", "-t", "t", "--", "cat", input=data).stdout == data


def test_split_new_window_and_kill_pane() -> None:
    cli("split-window", "-h", "-t", "t", "--", "sh", "-c", "echo side; exit 3")
    left, right = pane("t", 0, 0), pane("t", 0, 1)
    assert left["cols"] + right["cols"] + 1 == 80 and right["rows"] == 24
    cli("wait-text", "-t", "t:0.1", "side")
    # No event tells another process that a pane's command exited: a bounded poll.
    wait_until(lambda: pane("t", 0, 1)["state"] == "exited", timeout=30, what="the side pane's exit")
    assert pane("t", 0, 1)["exit_code"] == 3
    assert re.search(r"\n  0\.1\* %\d+ vm1 sh -c echo side; exit 3: exited \(3\) \[39x24\]\n",
                     cli("ls").stdout.decode())
    cli("split-window", "-v", "-t", "t:0.0", "--", "sh")
    assert pane("t", 0, 1)["rows"] + pane("t", 0, 0)["rows"] + 1 == 24
    cli("new-window", "-t", "t", "--", "sh")
    windows = ls()["sessions"][0]["windows"]
    assert [w["index"] for w in windows] == [0, 1] and windows[1]["active"]
    cli("kill-pane", "-t", "t:1.0")
    cli("kill-pane", "-t", "t:0.1")
    cli("kill-pane", "-t", "t:0.1")
    windows = ls()["sessions"][0]["windows"]
    assert [w["index"] for w in windows] == [0] and [p["cols"] for p in windows[0]["panes"]] == [80]
    assert windows[0]["panes"][0]["rows"] == 24


def test_new_refuses_a_taken_name_and_reports_a_failed_boot() -> None:
    taken = cli("new", "-d", "-s", "t", "--", "sh", check=False)
    assert taken.returncode == 1 and b"duplicate session: t" in taken.stderr
    bad = cli("new", "-d", "-s", "bad", "--image", "/nonexistent", "--", "sh", check=False)
    assert bad.returncode == 1 and b"session bad: image /nonexistent: no such file" in bad.stderr
    assert [s["name"] for s in ls()["sessions"]] == ["t"]


@pytest.mark.parametrize("target,message", [
    ("nosuch", "can't find session: nosuch"), ("t:9", "session t has no window 9"),
    ("t:0.5", "window 0 has no pane 5"), ("t:x", "the window must be a number"),
])
def test_bad_targets_fail_with_the_reason(target: str, message: str) -> None:
    done = cli("send-keys", "-t", target, "x", check=False)
    assert done.returncode == 1 and message in done.stderr.decode()


@pytest.mark.parametrize("frame,message", [
    (b"\0\0\0\0\x63\0\0\0\0", b"unknown frame type 99"),
    (b"\x7f\0\0\0\x02\0\0\0\x01", b"exceeds limit"),
    (encode(Frame.REQUEST, 1, b"[" * 5000 + b"]" * 5000), b"nested deeper"),
    (encode_json(Frame.REQUEST, 1, {"op": "rm"}), b"unknown request op 'rm'"),
    (encode_json(Frame.REQUEST, 1, {"op": "ls", "evil": 1}), b"unknown field 'evil'"),
    (encode_json(Frame.OUTPUT, 1, {}), b"may not send frame type OUTPUT"),
    (encode(Frame.STDIN, 5, b"x"), b"no running exec"),
])
def test_malformed_client_is_disconnected_and_others_unaffected(frame: bytes, message: bytes) -> None:
    bystander = raw_client()
    bad = raw_client()
    bad.sendall(frame)
    frames = read_frames(bad)
    assert [f[0] for f in frames] == [Frame.ERROR] and message in frames[0][2]
    bystander.sendall(encode_json(Frame.REQUEST, 3, {"op": "ls"}))
    (reply,) = read_frames(bystander, 1)
    assert reply[0] == Frame.REPLY and b'"state":"running"' in reply[2]
    bystander.close()


def test_first_frame_must_be_hello() -> None:
    sock = raw_client(hello=False)
    sock.sendall(encode_json(Frame.REQUEST, 1, {"op": "ls"}))
    frames = read_frames(sock)
    assert [f[0] for f in frames] == [Frame.ERROR] and b"the first frame must be HELLO" in frames[0][2]


def test_client_that_never_reads_replies_is_dropped(server: int) -> None:
    stuck = raw_client()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for i in range(200_000):            # ~1 KiB of reply each: the 8 MiB bound comes first
            stuck.sendall(encode_json(Frame.REQUEST, i + 1, {"op": "ls"}))
    assert ls()["server_pid"] == server
    log = open(os.path.join(ENV["CCTUI_SOCKET_DIR"], "default.log")).read()
    assert "a client left over 8388608 bytes of replies unread: disconnected" in log
    rss = int(open(f"/proc/{server}/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    assert rss < 400 << 20


def test_exec_client_that_stops_reading_pauses_only_its_command(server: int) -> None:
    stuck = raw_client()
    stuck.sendall(encode_json(Frame.REQUEST, 1, {"op": "exec", "target": "t", "argv": ["yes"]}))
    before = int(open(f"/proc/{server}/statm").read().split()[1])
    for _ in range(3):                      # the server serves others meanwhile
        assert cli("exec", "-t", "t", "--", "echo", "ok").stdout == b"ok\n"
    grown = (int(open(f"/proc/{server}/statm").read().split()[1]) - before) * os.sysconf("SC_PAGE_SIZE")
    assert grown < 32 << 20                 # the guest's yes waits for credit, nothing piles up
    assert b"yes" in cli("exec", "-t", "t", "--", "ps", "-eo", "comm").stdout
    stuck.close()                           # its client gone, the command is killed
    cli("exec", "-t", "t", "--", "sh", "-c", "while pgrep -x yes >/dev/null; do sleep 0.1; done", timeout=60)


def test_stdin_for_an_exec_that_ended_never_wedges_its_client() -> None:
    """A command that exits without reading: the stdin sent to it (more than the server
    queues) is dropped, and the same connection is still served afterwards."""
    sock = raw_client()
    sock.sendall(encode_json(Frame.REQUEST, 1, {"op": "exec", "target": "t", "argv": ["sh", "-c", "exit 5"]}))
    chunk = encode(Frame.STDIN, 1, b"x" * 65536)
    for _ in range(64):                     # 4 MiB: far past the queue and the guest's window
        sock.sendall(chunk)
    sock.sendall(encode(Frame.STDIN_CLOSE, 1))
    sock.sendall(encode_json(Frame.REQUEST, 2, {"op": "ls"}))
    frames = [f for f in read_frames(sock, 3) if f[1] in (1, 2)]
    kinds = [(f[0], f[1]) for f in frames]
    assert (Frame.EXIT, 1) in kinds and (Frame.REPLY, 2) in kinds
    assert [json.loads(f[2]) for f in frames if f[0] == Frame.EXIT] == [{"code": 5, "signal": None}]
    sock.close()


def test_another_uid_is_refused() -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to run a client as another user (nobody)")
    where = ENV["CCTUI_SOCKET_DIR"]
    sock_path = os.path.join(where, "default")
    # Open the directory and socket to everyone for this test only: the peer check must refuse
    # on its own (normally the 0700 directory already keeps other users out).
    os.chmod(where, 0o711)
    os.chmod(sock_path, 0o666)
    try:
        # The server refuses before it reads a byte: the client only listens.
        script = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); d=b''\n"
                  "while True:\n c=s.recv(4096)\n if not c: break\n d+=c\n"
                  "sys.stdout.write(repr(d))")
        done = subprocess.run(["/usr/bin/python3", "-c", script, sock_path],
                              user=65534, capture_output=True, timeout=30, cwd="/")
    finally:
        os.chmod(sock_path, 0o600)
        os.chmod(where, 0o700)
    assert done.returncode == 0, done.stderr
    assert "refused: this cctui server belongs to uid 0, you are uid 65534" in done.stdout.decode()
    assert ls()["sessions"][0]["name"] == "t"


def test_last_session_ending_ends_the_server(server: int) -> None:
    qemu = ls()["sessions"][0]["vms"][0]["qemu_pid"]
    cli("kill-session", "-t", "t")
    assert wait_exit(server, 30) and wait_exit(qemu, 30)
    done = cli("ls", check=False)
    assert done.returncode == 1 and b"no server running on" in done.stderr
    assert not os.path.exists(os.path.join(ENV["CCTUI_SOCKET_DIR"], "default"))


def test_sigkill_of_the_server_leaves_no_qemu_and_clients_say_so() -> None:
    cli("new", "-d", "-s", "k", "--", "sh")
    listing = ls()
    server, qemu = listing["server_pid"], listing["sessions"][0]["vms"][0]["qemu_pid"]
    waiting = subprocess.Popen([sys.executable, "-m", "cctui", "exec", "-t", "k", "--",
                                "sh", "-c", "echo started; exec sleep 600"],
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert waiting.stdout is not None and waiting.stdout.readline() == b"started\n"   # it is connected
    os.kill(server, 9)
    assert wait_exit(server, 10) and wait_exit(qemu, 10)
    _, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 1 and b"closed the connection: it exited or was killed" in err
    stale = cli("ls", check=False)
    assert stale.returncode == 1 and b"stale socket" in stale.stderr
    cli("new", "-d", "-s", "k2", "--", "sh")         # the stale socket is replaced
    assert [s["name"] for s in ls()["sessions"]] == ["k2"]
    new_server = ls()["server_pid"]
    cli("kill-server")
    assert wait_exit(new_server, 30)
