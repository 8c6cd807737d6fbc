"""The warm spare VM (issue 12) and config.toml.

Units (no VM): config.toml parsing and its errors, which requests may take the
spare. VM tests (marked vm): a server with ``spare = 1`` boots a spare once idle
and hands it to the next plain ``cctui new`` (the session's VM has the spare's
QEMU pid, and its pane runs); ``spare = 0`` boots none; neither the server's end
nor its SIGKILL leaves a QEMU of the spare. Each server runs in a private CCTUI_SOCKET_DIR and reads a
private CCTUI_CONFIG_DIR.
"""
from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional

import pytest

from cctui.api.instance import AsyncInstance
from cctui.config import Config, ConfigError, load_config
from cctui.errors import Error
from cctui.server import spare as spare_module
from cctui.server.client import connect
from cctui.server.spare import SparePool, matches
from helpers.processes import alive, wait_exit
from helpers.wait import until, wait_until

DEFAULTS: Dict[str, object] = {"accel": "auto", "memory_mb": 1024, "cpus": 2, "transport": "auto",
                               "net": "off", "ports": [], "volumes": []}


@pytest.fixture(autouse=True)
def spare_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """conftest.py sets CCTUI_SPARE=0 for every other test's servers; these read the file."""
    monkeypatch.delenv("CCTUI_SPARE", raising=False)


# -- config.toml ------------------------------------------------------------------------------
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_missing_config_is_the_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "config.toml") == Config(spare=1, spare_idle=10.0)


def test_config_values_are_read(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "spare = 0\nspare_idle = 2.5\n")) == Config(spare=0, spare_idle=2.5)
    assert load_config(write(tmp_path, "spare_idle = 0\n")) == Config(spare=1, spare_idle=0.0)


def test_config_dir_override_and_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCTUI_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "cctui").mkdir(parents=True)
    write(tmp_path / "xdg" / "cctui", "spare = 0\n")
    assert load_config().spare == 0
    monkeypatch.setenv("CCTUI_CONFIG_DIR", str(tmp_path / "override"))
    assert load_config().spare == 1         # the override dir has no file: defaults


def test_spare_env_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "spare = 1\nspare_idle = 3\n")
    monkeypatch.setenv("CCTUI_SPARE", "0")
    assert load_config(path) == Config(spare=0, spare_idle=3.0)
    monkeypatch.setenv("CCTUI_SPARE", "yes")
    with pytest.raises(ConfigError, match=r"\$CCTUI_SPARE must be 0 or 1, not 'yes'"):
        load_config(path)


@pytest.mark.parametrize("text, words", [
    ("spare = 2\n", ["spare", "0 (off) or 1", "2"]),
    ("spare = true\n", ["spare", "True"]),
    ("spare = \"1\"\n", ["spare", "'1'"]),
    ("spare_idle = -1\n", ["spare_idle", "-1"]),
    ("spare_idle = nan\n", ["spare_idle", "nan"]),
    ("spare_idle = inf\n", ["spare_idle", "inf"]),
    ("spares = 1\n", ["unknown setting 'spares'", "spare_idle"]),
    ("spare = \n", ["config.toml"]),                  # a TOML syntax error
    ("[spare]\nx = 1\n", ["spare", "{'x': 1}"]),
])
def test_bad_config_names_the_file_and_the_key(tmp_path: Path, text: str, words: list) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word in message


def test_binary_and_huge_config_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"spare = 1 # \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
    path.write_bytes(b"# " + b"x" * (1 << 20) + b"\n")
    with pytest.raises(ConfigError, match="larger than 64 KiB"):
        load_config(path)
    path.unlink()
    path.mkdir()                                        # a directory where the file should be
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


# -- which requests take the spare ----------------------------------------------------------------
def test_only_a_default_host_request_matches_the_spare() -> None:
    assert matches("host", DEFAULTS)
    assert matches("host", {})
    assert matches("host", dict(DEFAULTS, net=False))
    for change in ({"accel": "tcg"}, {"memory_mb": 2048}, {"cpus": 1}, {"transport": "virtio-serial"},
                   {"net": "on"}, {"net": "restrict"}, {"ports": ["8080:80"]}, {"volumes": ["/tmp:/x"]},
                   {"something_new": 1}):
        assert not matches("host", dict(DEFAULTS, **change)), change
    assert not matches("alpine.tar", DEFAULTS)


# -- with VMs ------------------------------------------------------------------------------------------
class Server:
    """One private server: its own socket dir and config dir, driven through the CLI."""

    def __init__(self, config: Optional[str]) -> None:
        self.root = tempfile.mkdtemp(prefix="cctui-spare-")     # in /tmp: short socket paths
        config_dir = os.path.join(self.root, "config")
        os.mkdir(config_dir)
        if config is not None:
            Path(config_dir, "config.toml").write_text(config)
        self.env = dict(os.environ, CCTUI_SOCKET_DIR=os.path.join(self.root, "sock"),
                        CCTUI_CONFIG_DIR=config_dir)
        self.env.pop("CCTUI_TRANSPORT", None)       # a plain `new`: the spare's kind
        self.env.pop("CCTUI_SPARE", None)           # conftest's 0 would win over the file
        self.pid: Optional[int] = None

    def cli(self, *args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "cctui", *args], env=self.env,
                              capture_output=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"cctui {' '.join(args)}: {done.returncode} {done.stderr.decode()}")
        return done

    def ls(self) -> dict:
        return json.loads(self.cli("ls", "--json").stdout)

    def spare(self) -> dict:
        return self.ls()["spare"]

    def session_vm(self, name: str) -> dict:
        (session,) = [s for s in self.ls()["sessions"] if s["name"] == name]
        return session["vms"][0]

    def close(self) -> None:
        if self.pid is not None:
            self.cli("kill-server", check=False)
            if not wait_exit(self.pid, 30):
                os.kill(self.pid, 9)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def spare_server() -> Iterator[Server]:
    server = Server("spare = 1\nspare_idle = 1\n")
    try:
        yield server
    finally:
        server.close()


@pytest.mark.vm
def test_new_session_takes_the_ready_spare_and_the_last_session_ends_it(
        spare_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    server = spare_server
    server.cli("new", "-d", "-s", "a", "--", "sh")
    server.pid = server.ls()["server_pid"]
    first_pid = server.session_vm("a")["qemu_pid"]
    ready = wait_until(lambda: (lambda s: s if s["state"] == "ready" else None)(server.spare()),
                       timeout=240, interval=0.5, what="the spare VM to be ready")
    assert isinstance(ready, dict)
    spare_pid = ready["qemu_pid"]
    assert isinstance(spare_pid, int) and spare_pid != first_pid and alive(spare_pid)
    assert ready["nice"] == 10                      # it idles at low priority
    server.cli("new", "-d", "-s", "b", "--", "sh", "-c", "echo spare-pane-$((6*7)); exec sh")
    vm = server.session_vm("b")
    assert vm["qemu_pid"] == spare_pid and vm["state"] == "running" and vm["name"] == "vm1"
    assert os.getpriority(os.PRIO_PROCESS, spare_pid) == 0     # normal priority once taken
    server.cli("wait-text", "-t", "b", "spare-pane-42", "--timeout", "60")
    spare = server.spare()
    assert spare["taken"] == 1 and spare["qemu_pid"] != spare_pid
    # A request the spare does not match boots its own VM (and leaves the next spare alone).
    next_spare = wait_until(lambda: (lambda s: s if s["state"] == "ready" else None)(server.spare()),
                            timeout=240, interval=0.5, what="the next spare VM")
    assert isinstance(next_spare, dict)
    server.cli("new", "-d", "-s", "c", "--memory", "512", "--", "sh")
    assert server.session_vm("c")["qemu_pid"] != next_spare["qemu_pid"]
    assert server.spare()["qemu_pid"] == next_spare["qemu_pid"]
    # The boot dialog's new-vm op (a second VM in session a) takes it too.
    monkeypatch.setenv("CCTUI_SOCKET_DIR", server.env["CCTUI_SOCKET_DIR"])
    with connect() as conn:
        reply = conn.request("new-vm", target="a", argv=["sh", "-c", "echo vm-pane-$((6*7)); exec sh"])
    assert reply["vm"] == "vm2"
    (session_a,) = [s for s in server.ls()["sessions"] if s["name"] == "a"]
    assert {vm["name"]: vm["qemu_pid"] for vm in session_a["vms"]} == {"vm1": first_pid,
                                                                        "vm2": next_spare["qemu_pid"]}
    server.cli("wait-text", "-t", reply["target"], "vm-pane-42", "--timeout", "60")
    last = wait_until(lambda: (lambda s: s if s["state"] == "ready" else None)(server.spare()),
                      timeout=240, interval=0.5, what="a third spare VM")
    assert isinstance(last, dict) and last["taken"] == 2
    # The spare does not keep the server up: its last session's end ends both.
    for name in ("a", "b", "c"):
        server.cli("kill-session", "-t", name)
    assert wait_exit(server.pid, 30)
    server.pid = None
    wait_until(lambda: not alive(last["qemu_pid"]), timeout=10, what="the spare's QEMU to exit")


@pytest.mark.vm
def test_a_booting_spare_is_taken_and_sigkill_of_the_server_takes_the_next_with_it() -> None:
    server = Server("spare = 1\nspare_idle = 0\n")
    try:
        server.cli("new", "-d", "-s", "a", "--", "sh")
        server.pid = server.ls()["server_pid"]
        # QEMU started, its agent not answering yet (a TCG boot takes seconds more).
        booting = wait_until(lambda: (lambda s: s if s["state"] == "booting" and s["qemu_pid"] else None)(
            server.spare()), timeout=60, interval=0.1, what="the spare's QEMU to start")
        assert isinstance(booting, dict) and booting["nice"] == 10
        server.cli("new", "-d", "-s", "b", "--", "sh", "-c", "echo booting-spare-$((6*7)); exec sh")
        vm = server.session_vm("b")
        assert vm["qemu_pid"] == booting["qemu_pid"] and vm["state"] == "running"
        assert server.spare()["taken_booting"] == 1
        assert os.getpriority(os.PRIO_PROCESS, vm["qemu_pid"]) == 0
        server.cli("wait-text", "-t", "b", "booting-spare-42", "--timeout", "60")
        ready = wait_until(lambda: (lambda s: s if s["state"] == "ready" else None)(server.spare()),
                           timeout=240, interval=0.5, what="the spare VM to be ready")
        assert isinstance(ready, dict) and alive(ready["qemu_pid"])
        os.kill(server.pid, 9)
        assert wait_exit(server.pid, 30)
        server.pid = None
        wait_until(lambda: not alive(ready["qemu_pid"]), timeout=10, what="the spare's QEMU to die")
    finally:
        server.close()


@pytest.mark.vm
def test_spare_zero_boots_no_spare() -> None:
    server = Server("spare = 0\nspare_idle = 0\n")
    try:
        server.cli("new", "-d", "-s", "a", "--", "sh")
        server.pid = server.ls()["server_pid"]
        first = server.session_vm("a")["qemu_pid"]
        server.cli("wait-text", "-t", "a", "#", "--timeout", "60")
        server.cli("new", "-d", "-s", "b", "--", "sh")
        assert server.session_vm("b")["qemu_pid"] not in (None, first)
        spare = server.spare()
        assert spare["enabled"] is False and spare["state"] == "off" and spare["qemu_pid"] is None
        children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True).stdout.split()
        assert len(children) == 2                   # the two sessions' QEMUs, no third
    finally:
        server.close()


def test_bad_config_is_logged_and_the_server_runs_with_defaults() -> None:
    """No VM: the server starts (as a client starts it), says why in ls and its log."""
    server = Server("spare = 7\n")
    try:
        read_end, write_end = os.pipe()
        env = dict(server.env)
        os.makedirs(env["CCTUI_SOCKET_DIR"], mode=0o700)
        proc = subprocess.Popen([sys.executable, "-m", "cctui", "server", "--ready-fd", str(write_end)],
                                pass_fds=(write_end,), env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(write_end)
        server.pid = proc.pid
        assert select.select([read_end], [], [], 60)[0] and os.read(read_end, 16) == b"ok\n"
        os.close(read_end)
        spare = server.spare()
        assert spare["enabled"] is True and spare["state"] == "waiting"       # the defaults
        assert "config.toml: spare must be 0 (off) or 1" in spare["config_error"]
        server.cli("kill-server")
        assert proc.wait(30) == 0
        server.pid = None
        assert proc.stderr is not None and b"config.toml: spare must be 0 (off) or 1" in proc.stderr.read()
    finally:
        server.close()


# -- the pool's timing and failures (no VM: the boot is replaced by one that records
#    its calls; what QEMU does is the VM tests' business above) ---------------------------------
def run_pool(scenario: Callable[[SparePool, List[str]], Awaitable[None]], idle: float,
             sessions: bool = True, fail: bool = False,
             monkeypatch: Optional[pytest.MonkeyPatch] = None,
             vms: Optional[Dict[str, AsyncInstance]] = None) -> None:
    calls: List[str] = []
    live: Dict[str, Any] = {"s": SimpleNamespace(vms=vms if vms is not None else {})} if sessions else {}

    async def boot(image: str, *, instance: AsyncInstance, **options: object) -> AsyncInstance:
        calls.append(image)
        assert matches(image, options)          # the spare boots exactly the kind it serves
        if fail:
            error = Error("no kernel here")
            instance.boot_failed(error)
            raise error
        await asyncio.Event().wait()            # "booting" until closed
        return instance

    assert monkeypatch is not None
    monkeypatch.setattr(spare_module.aio, "boot", boot)

    async def main() -> None:
        pool = SparePool(Config(spare=1, spare_idle=idle), lambda: live)
        try:
            await scenario(pool, calls)
        finally:
            await pool.close()
    asyncio.run(main())


def test_pool_boots_only_after_idle_and_not_for_looking(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(pool: SparePool, calls: List[str]) -> None:
        pool.activity("new")
        for _ in range(6):                      # busy: a request every 0.1 s for 0.6 s
            await asyncio.sleep(0.1)
            pool.activity("send-keys")
            pool.activity("ls")                 # looking does not count either way
        assert calls == [] and pool.describe()["state"] == "waiting"
        await until(lambda: calls, timeout=10, what="the spare's boot once idle")
        assert calls == ["host"] and pool.describe()["state"] == "booting"
        # A session may take it mid-boot; closing it then (its session ended) stops the boot.
        vm = pool.take("host", {})
        assert vm is not None and vm.state.value == "booting"
        assert pool.describe()["taken_booting"] == 1 and pool.describe()["state"] == "waiting"
        assert pool.take("host", {}) is None
        boots = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await vm.close()
        await until(lambda: all(t.done() for t in boots), timeout=10, what="the taken boot to stop")
    run_pool(scenario, idle=0.3, monkeypatch=monkeypatch)


def test_pool_boots_nothing_without_a_session(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(pool: SparePool, calls: List[str]) -> None:
        pool.activity("new")
        fired = asyncio.Event()
        asyncio.get_event_loop().call_later(0.3, fired.set)     # well past spare_idle
        await fired.wait()
        assert calls == [] and pool.describe()["state"] == "waiting"
    run_pool(scenario, idle=0.05, sessions=False, monkeypatch=monkeypatch)


def test_pool_waits_while_a_session_vm_boots(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user waiting for a VM's boot gets the CPU: the spare boots after that boot ends."""
    async def scenario(pool: SparePool, calls: List[str]) -> None:
        booting = AsyncInstance(name="vm1")
        session_vms["vm1"] = booting
        pool.activity("new")
        fired = asyncio.Event()
        asyncio.get_event_loop().call_later(0.5, fired.set)     # well past spare_idle
        await fired.wait()
        assert calls == []
        booting.boot_failed(Error("done booting, either way"))
        await until(lambda: calls, timeout=10, what="the spare's boot after the session VM's")
    session_vms: Dict[str, AsyncInstance] = {}
    run_pool(scenario, idle=0.0, monkeypatch=monkeypatch, vms=session_vms)


def test_failed_spare_boot_is_logged_and_retried_later(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(pool: SparePool, calls: List[str]) -> None:
        pool.activity("new")
        await until(lambda: pool.describe()["failures"] == 1, timeout=10, what="the failed boot")
        info = pool.describe()
        assert info["state"] == "waiting" and "no kernel here" in str(info["error"])
        assert calls == ["host"]
        assert pool._timer is not None          # the retry is scheduled...
        assert pool._not_before - time.monotonic() > spare_module.BACKOFF_FIRST - 1   # ...after the backoff
    with caplog.at_level("WARNING", logger="cctui.server.spare"):
        run_pool(scenario, idle=0.0, fail=True, monkeypatch=monkeypatch)
    assert "spare VM failed (no kernel here); next try in 10s" in caplog.text
