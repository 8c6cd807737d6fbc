"""--net: the guest's static address, a published port reached from the host, the host's
loopback reached from the guest through the user-mode gateway, and a taken port."""
from __future__ import annotations

import os
import socket
from typing import Iterator

import pytest

import cctui
from cctui.tui.vm_tree import network_label
from cctui.vm.network import NetworkError
from helpers.net import GUEST_CONNECT, TokenServer, free_port, http_get
from helpers.wait import wait_until

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier

PORT = free_port()


@pytest.fixture(scope="module")
def vm() -> Iterator[cctui.Instance]:
    with cctui.boot(net=True, ports=[f"127.0.0.1:{PORT}:8000"]) as instance:
        yield instance


def test_guest_is_configured_without_dhcp(vm: cctui.Instance) -> None:
    out = vm.command("/bin/sh", "-c", "ip -4 addr show eth0; ip route; cat /etc/resolv.conf"
                     ).output().decode()
    assert "inet 10.0.2.15/24" in out
    assert "default via 10.0.2.2" in out
    assert "nameserver 10.0.2.3" in out
    assert network_label(vm.aio) == f"net {PORT}→8000"


def test_guest_http_server_through_a_published_port(vm: cctui.Instance) -> None:
    token = os.urandom(8).hex().encode()
    vm.mkdir_all("/tmp/www")
    vm.write_file("/tmp/www/token.txt", token)
    vm.command("python3", "-m", "http.server", "8000", "--directory", "/tmp/www").start()
    assert wait_until(lambda: http_get(PORT) == token, 60, interval=0.2,
                      what="the guest's HTTP server through the published port")


def test_guest_reaches_the_hosts_loopback_through_the_gateway(vm: cctui.Instance) -> None:
    server = TokenServer(b"hello-from-host")
    try:
        out = vm.command("python3", "-c", GUEST_CONNECT, str(server.port)).output()
    finally:
        server.close()
    assert out == b"hello-from-host"
    assert server.accepted == ["127.0.0.1"]


def test_a_taken_port_fails_before_boot_and_leaves_nothing(vm: cctui.Instance) -> None:
    def children() -> set:
        return {p for p in os.listdir("/proc") if p.isdigit() and _ppid(p) == os.getpid()}
    before = children()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(NetworkError, match=f"127.0.0.1:{port}/tcp"):
            cctui.boot(ports=[f"{port}:80"])
    assert children() <= before


def _ppid(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1
