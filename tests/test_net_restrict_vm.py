"""--net=restrict (QEMU restrict=on): published ports still answer, the guest reaches nothing."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

import cctui
from cctui.tui.vm_tree import network_label
from helpers.net import GUEST_CONNECT, TokenServer, free_port, http_get
from helpers.wait import wait_until

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier

PORT = free_port()


@pytest.fixture(scope="module")
def vm() -> Iterator[cctui.Instance]:
    with cctui.boot(net="restrict", ports=[f"{PORT}:8000"]) as instance:
        yield instance


def test_restricted_guest_cannot_reach_the_host(vm: cctui.Instance) -> None:
    server = TokenServer(b"must-not-arrive")
    try:
        cmd = vm.command("python3", "-c", GUEST_CONNECT, str(server.port))
        with pytest.raises(cctui.ExitError) as info:
            cmd.output()
    finally:
        server.close()
    assert b"must-not-arrive" not in info.value.output
    assert server.accepted == []
    assert network_label(vm.aio).startswith("net:restrict")


def test_published_port_still_answers(vm: cctui.Instance) -> None:
    token = os.urandom(8).hex().encode()
    vm.mkdir_all("/tmp/www")
    vm.write_file("/tmp/www/token.txt", token)
    vm.command("python3", "-m", "http.server", "8000", "--directory", "/tmp/www").start()
    assert wait_until(lambda: http_get(PORT) == token, 60, interval=0.2,
                      what="the guest's HTTP server through the published port")
