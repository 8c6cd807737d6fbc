"""cctui over SSH: ``--ssh HOST`` and ``cctui.connect(..., ssh=HOST)`` against a real sshd.

The module starts its own ``sshd`` on 127.0.0.1 (a free port, a throwaway host
key, one authorized throwaway client key, all in a temp dir; nothing system-wide
but /run/sshd, sshd's standard privilege-separation directory, created when
missing). The client reaches it through an ssh config file given in
CCTUI_SSH_OPTIONS, as a user would; the "remote" is this same machine, and its
``cctui proxy`` uses its own socket directory, so a local client without --ssh
sees no server at all: whatever works went through ssh.
"""
from __future__ import annotations

import asyncio
import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

import cctui
from cctui.server import client
from cctui.server import ssh as ssh_module
from cctui.server.ssh import SshError
from cctui.server.wire import VERSION, Frame, decode_json, decoder, encode_json
from helpers.processes import wait_exit
from helpers.net import free_port
from helpers.wait import wait_until

SSHD = "/usr/sbin/sshd"
HOST = "cctui-test"             # an alias in the module's ssh config, as a user would write one


class Sshd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env: Dict[str, str] = {}
        self.remote_dir = ""
        self.config = root / "ssh_config"


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cctui-test", "-f", str(path)],
                   check=True, timeout=30)
    return path.with_suffix(".pub").read_text().strip()


def remote_command(socket_dir: str, *extra: str) -> str:
    """What the remote runs: this Python's ``cctui proxy`` with the test's socket directory."""
    return shlex.join(["env", f"CCTUI_SOCKET_DIR={socket_dir}", sys.executable, "-m", "cctui", "proxy", *extra])


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    assert os.path.exists(SSHD), f"{SSHD} is missing: ./quickstart installs openssh-server"
    # SHLVL=1: the login shell is not the first, so bash does not source the user's ~/.bashrc
    # for ssh: the "remote" runs only the test's command (a dotfile that hangs, or a
    # ~/.bashrc step cut short when a test kills ssh, stays out of it).
    root = Path(tempfile.mkdtemp(prefix="cctui-ssh-"))
    state = Sshd(root)
    port, closed_port = free_port(), free_port()
    host_pub = keygen(root / "host_key")
    authorized = keygen(root / "client_key")
    keygen(root / "other_key")                              # a key the server does not know
    (root / "authorized_keys").write_text(authorized + "\n")
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    (root / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {root / "host_key"}
AuthorizedKeysFile {root / "authorized_keys"}
StrictModes no
UsePAM no
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
SetEnv SHLVL=1
""")
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    common = (f"  HostName 127.0.0.1\n  User {user}\n  IdentitiesOnly yes\n  BatchMode yes\n"
              f"  UserKnownHostsFile {root / 'known_hosts'}\n  StrictHostKeyChecking yes\n")
    state.config.write_text(
        f"Host {HOST}\n  Port {port}\n  IdentityFile {root / 'client_key'}\n{common}"
        f"Host cctui-wrong-key\n  Port {port}\n  IdentityFile {root / 'other_key'}\n{common}"
        f"Host cctui-closed\n  Port {closed_port}\n  IdentityFile {root / 'client_key'}\n{common}")
    if os.getuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)     # sshd's privilege-separation dir
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(root / "sshd_config")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    said = b""
    while b"Server listening" not in said:                  # sshd says so once it listens: an event
        ready = select.select([proc.stderr], [], [], 30)[0]
        line = proc.stderr.readline() if ready else b""
        assert line, f"sshd did not start: {said.decode(errors='replace')}"
        said += line
    state.remote_dir = tempfile.mkdtemp(prefix="cctui-test-remote-")
    local_dir = tempfile.mkdtemp(prefix="cctui-test-local-")
    state.env = dict(os.environ, CCTUI_SOCKET_DIR=local_dir, CCTUI_SSH_OPTIONS=f"-F {state.config}",
                     CCTUI_SSH_REMOTE=remote_command(state.remote_dir))
    try:
        yield state
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(local_dir, ignore_errors=True)
        shutil.rmtree(state.remote_dir, ignore_errors=True)


def cli(env: Dict[str, str], *args: str, input: Optional[bytes] = None,
        timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cctui", *args], env=env, input=input,
                          capture_output=True, timeout=timeout)


def ssh_children() -> List[int]:
    """Our child processes named ssh (a zombie counts: reaping is part of the job)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            if comm == "ssh" and int(rest[1]) == os.getpid():
                found.append(int(entry))
    return found


# -- failures: each a clear line naming the host, none a hang (the subprocess timeout bounds it) --

def test_a_host_that_is_an_ssh_option_is_refused_before_ssh_runs(sshd: Sshd, tmp_path: Path) -> None:
    witness = tmp_path / "ran"
    done = cli(sshd.env, "ls", f"--ssh=-oProxyCommand=touch {witness}", timeout=30)
    assert done.returncode == 1 and b"not a host for ssh" in done.stderr
    assert not witness.exists()


def test_an_unreachable_port_says_ssh_failed_and_why(sshd: Sshd) -> None:
    done = cli(sshd.env, "ls", "--ssh", "cctui-closed", timeout=60)
    assert done.returncode == 1
    assert b"ssh to cctui-closed failed" in done.stderr and b"Connection refused" in done.stderr


def test_a_refused_key_says_permission_denied(sshd: Sshd) -> None:
    done = cli(sshd.env, "ls", "--ssh", "cctui-wrong-key", timeout=60)
    assert done.returncode == 1
    assert b"ssh to cctui-wrong-key failed" in done.stderr and b"Permission denied" in done.stderr


def test_a_remote_command_that_is_not_cctui_closes_before_hello(sshd: Sshd) -> None:
    done = cli(dict(sshd.env, CCTUI_SSH_REMOTE="true"), "ls", "--ssh", HOST, timeout=60)
    assert done.returncode == 1
    assert b"the remote end closed before HELLO" in done.stderr and HOST.encode() in done.stderr


def test_a_remote_command_that_is_missing_says_not_found(sshd: Sshd) -> None:
    done = cli(dict(sshd.env, CCTUI_SSH_REMOTE="cctui-no-such-command proxy"), "ls", "--ssh", HOST, timeout=60)
    assert done.returncode == 1
    assert b"`cctui-no-such-command proxy` is not found on cctui-test" in done.stderr


def test_ls_over_ssh_without_a_remote_server_says_so_and_starts_none(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "sock"
    done = cli(dict(sshd.env, CCTUI_SSH_REMOTE=remote_command(str(empty))), "ls", "--ssh", HOST, timeout=60)
    assert done.returncode == 1
    assert b"no server running on" in done.stderr and str(empty).encode() in done.stderr
    assert not (empty / "default").exists()


def test_proxy_relays_hello_to_the_server_it_starts(tmp_path: Path) -> None:
    where = tempfile.mkdtemp(prefix="cctui-test-proxy-")
    env = dict(os.environ, CCTUI_SOCKET_DIR=where)
    try:
        done = cli(env, "proxy", input=encode_json(Frame.HELLO, 0, {"version": VERSION}), timeout=60)
        assert done.returncode == 0, done.stderr
        (ftype, _, payload), = decoder(1 << 20).feed(done.stdout)
        hello = decode_json(payload)
        assert ftype == Frame.HELLO and hello["version"] == VERSION and isinstance(hello["pid"], int)
    finally:
        cli(env, "kill-server", timeout=60)
        shutil.rmtree(where, ignore_errors=True)


def test_proxy_that_cannot_reach_a_server_says_so_on_stderr(tmp_path: Path) -> None:
    unsafe = tmp_path / "open"
    unsafe.mkdir(mode=0o777)
    unsafe.chmod(0o777)
    done = cli(dict(os.environ, CCTUI_SOCKET_DIR=str(unsafe)), "proxy", input=b"", timeout=60)
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.startswith(b"cctui proxy: ") and b"others may enter it" in done.stderr


def use(sshd: Sshd, monkeypatch: pytest.MonkeyPatch, **override: str) -> None:
    """This process's environment as the CLI's (in-process clients read it)."""
    for name in ("CCTUI_SOCKET_DIR", "CCTUI_SSH_OPTIONS", "CCTUI_SSH_REMOTE"):
        monkeypatch.setenv(name, override.get(name, sshd.env[name]))


def test_connect_over_ssh_with_a_refused_key_raises_naming_the_host(sshd: Sshd,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    use(sshd, monkeypatch)
    with pytest.raises(SshError, match=r"ssh to cctui-wrong-key failed: .*Permission denied"):
        cctui.connect("r", ssh="cctui-wrong-key")
    wait_until(lambda: not ssh_children(), timeout=15, what="ssh to be reaped")


@pytest.mark.parametrize("way", ["cli", "library"])
def test_a_remote_that_never_answers_hits_the_deadline_and_ssh_is_killed(
        sshd: Sshd, monkeypatch: pytest.MonkeyPatch, way: str) -> None:
    use(sshd, monkeypatch, CCTUI_SSH_REMOTE="sh -c 'exec cat >/dev/null' remote")  # reads, never says HELLO
    monkeypatch.setattr(ssh_module, "HELLO_TIMEOUT", 2.0)
    with pytest.raises(SshError, match="no answer from cctui over ssh to cctui-test within 2s"):
        if way == "cli":
            client.connect(ssh=HOST)
        else:
            cctui.connect("r", ssh=HOST)
    wait_until(lambda: not ssh_children(), timeout=15, what="ssh to be killed and reaped")


# -- a real VM on the "remote" server, one for the module --

@pytest.fixture(scope="module")
def remote_session(sshd: Sshd) -> Iterator[str]:
    done = cli(sshd.env, "new", "-d", "-s", "r", "--ssh", HOST, "--", "sh")
    assert done.returncode == 0, done.stderr
    remote_env = dict(os.environ, CCTUI_SOCKET_DIR=sshd.remote_dir)
    listing = json.loads(cli(remote_env, "ls", "--json").stdout)
    pid = listing["server_pid"]
    try:
        yield "r"
    finally:
        cli(remote_env, "kill-server", timeout=60)
        assert wait_exit(pid, 30), "the remote server did not exit"


@pytest.mark.vm
def test_new_over_ssh_then_ls_over_ssh_shows_the_session(sshd: Sshd, remote_session: str) -> None:
    done = cli(sshd.env, "ls", "--json", "--ssh", HOST)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    (session,) = listing["sessions"]
    assert session["name"] == remote_session and session["vms"][0]["state"] == "running"
    environ = Path(f"/proc/{listing['server_pid']}/environ").read_bytes().split(b"\0")
    assert f"CCTUI_SOCKET_DIR={sshd.remote_dir}".encode() in environ     # the proxy's server
    local = cli(sshd.env, "ls")                      # the local socket directory: no server
    assert local.returncode == 1 and b"no server running" in local.stderr


@pytest.mark.vm
def test_exec_over_ssh_streams_and_exits_with_the_status(sshd: Sshd, remote_session: str) -> None:
    done = cli(sshd.env, "exec", "--ssh", HOST, "-t", remote_session, "--",
               "sh", "-c", "echo out; echo err >&2; exit 7")
    assert done.returncode == 7, done.stderr
    assert done.stdout == b"out\n" and b"err\n" in done.stderr
    piped = cli(sshd.env, "exec", "--ssh", HOST, "-t", remote_session, "--", "tr", "a-z", "A-Z",
                input=b"through ssh\n" * 1000)
    assert piped.returncode == 0 and piped.stdout == b"THROUGH SSH\n" * 1000


@pytest.mark.vm
def test_connect_over_ssh_runs_a_command_and_reaps_ssh(sshd: Sshd, remote_session: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    use(sshd, monkeypatch)
    instance = cctui.connect(remote_session, ssh=HOST)
    try:
        assert ssh_children(), "no ssh carries the connection"
        assert instance.command("echo", "hello from far away").output() == b"hello from far away\n"
    finally:
        instance.close()
    wait_until(lambda: not ssh_children(), timeout=15, what="ssh to exit and be reaped")


@pytest.mark.vm
def test_attach_over_ssh_shows_the_remote_pane_and_detaches(sshd: Sshd, remote_session: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The TUI through ``ssh HOST cctui proxy``: the remote pane is drawn, keys reach it,
    ctrl+b d leaves it running there, and ssh is reaped."""
    from cctui.tui.attached_app import AttachedApp
    from helpers.tui import drawn, frames
    from helpers.wait import until
    use(sshd, monkeypatch)
    remote_env = dict(os.environ, CCTUI_SOCKET_DIR=sshd.remote_dir)

    async def scenario() -> str:
        app = AttachedApp(remote_session, sock=ssh_module.open_ssh_socket(HOST, start=False))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(lambda: bool(frames(app)), 60, "the remote pane")
            (frame,) = frames(app)
            await pilot.press(*"echo over-ssh-$((6*7))", "enter")
            await until(lambda: "over-ssh-42" in drawn(frame), 60, "the echo drawn")
            await pilot.press("ctrl+b", "d")
            await until(lambda: bool(app.exit_message), 30, "the detach")
        return app.exit_message

    message = asyncio.run(asyncio.wait_for(scenario(), 240))
    assert message.startswith(f"[detached (from session {remote_session})")
    capture = cli(remote_env, "capture-pane", "-p", "-t", remote_session)
    assert b"over-ssh-42" in capture.stdout            # the remote session kept it
    wait_until(lambda: not ssh_children(), timeout=15, what="ssh to exit and be reaped")


def test_attach_over_ssh_with_a_refused_key_says_why(sshd: Sshd, monkeypatch: pytest.MonkeyPatch) -> None:
    from cctui.tui.attached_app import AttachedApp
    use(sshd, monkeypatch)

    async def scenario() -> str:
        app = AttachedApp("r", sock=ssh_module.open_ssh_socket("cctui-wrong-key", start=False))
        async with app.run_test(size=(100, 30)):
            pass
        return app.exit_message

    message = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert "cctui-wrong-key" in message and "Permission denied" in message, message
