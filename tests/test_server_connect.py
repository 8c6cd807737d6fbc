"""``cctui.connect()``: every example of cc's Commands page, on a VM that the server runs.

The seed examples are imported from test_seed_examples and run against this
module's ``vm``: an Instance from ``cctui.connect`` on a server's session.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
from typing import Iterator

import pytest

import cctui
from test_seed_examples import *  # noqa: F401,F403  (the examples, run here on a connected VM)

pytestmark = pytest.mark.vm


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cctui", *args], capture_output=True, timeout=180)


def server_listing() -> dict:
    done = cli("ls", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    where = tempfile.mkdtemp(prefix="cctui-test-")
    old = os.environ.get("CCTUI_SOCKET_DIR")
    os.environ["CCTUI_SOCKET_DIR"] = where          # module-wide: cli() and connect() both use it
    try:
        done = cli("new", "-d", "-s", "seed", "--", "sh")
        assert done.returncode == 0, done.stderr
        pid = server_listing()["server_pid"]
        yield pid
        cli("kill-server")
        fd = os.pidfd_open(pid)
        assert select.select([fd], [], [], 30)[0], "the server did not exit"
        os.close(fd)
    finally:
        if old is None:
            os.environ.pop("CCTUI_SOCKET_DIR", None)
        else:
            os.environ["CCTUI_SOCKET_DIR"] = old
        shutil.rmtree(where, ignore_errors=True)


@pytest.fixture(scope="module")
def vm(server: int) -> Iterator[cctui.Instance]:
    instance = cctui.connect("seed")
    try:
        yield instance
    finally:
        instance.close()


def test_closing_a_connection_leaves_the_vm_and_the_session(server: int) -> None:
    other = cctui.connect("seed", vm="vm1")
    assert other.command("sh", "-c", "echo $((6*7))").output() == b"42\n"
    other.close()
    with pytest.raises(cctui.AlreadyClosed):
        other.command("true").run()
    (session,) = server_listing()["sessions"]
    assert session["name"] == "seed" and session["vms"][0]["state"] == "running"
    assert session["windows"][0]["panes"][0]["state"] == "running"


def test_connect_errors_name_the_problem(server: int) -> None:
    with pytest.raises(cctui.Error, match="can't find session: nosuch"):
        cctui.connect("nosuch")
    with pytest.raises(cctui.Error, match="session seed has no VM vm7"):
        cctui.connect("seed", vm="vm7")
