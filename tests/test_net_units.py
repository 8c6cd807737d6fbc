"""Parsing of --net and -p (docker run's spelling) and the QEMU arguments they make; no VM."""
from __future__ import annotations

import socket

import pytest

from cctui.errors import Error
from cctui.vm.network import (NetworkError, PublishedPort, check_ports_free, describe, net_mode,
                              parse_port, parse_ports, qemu_net_args)


def test_port_forms_as_docker_spells_them() -> None:
    assert parse_port("8080:80") == PublishedPort("127.0.0.1", 8080, 80, "tcp")
    assert parse_port("0.0.0.0:8080:80") == PublishedPort("0.0.0.0", 8080, 80, "tcp")
    assert parse_port("127.0.0.2:53:5353/udp") == PublishedPort("127.0.0.2", 53, 5353, "udp")
    assert parse_port("8080:80/tcp").proto == "tcp"
    assert parse_port("127.0.0.1:8080:80").hostfwd() == "hostfwd=tcp:127.0.0.1:8080-:80"


@pytest.mark.parametrize("spec, names", [
    ("80", "[HOST_IP:]HOST_PORT:GUEST_PORT"),
    ("a:b:c:d", "[HOST_IP:]HOST_PORT:GUEST_PORT"),
    ("x:80", "host port 'x'"),
    ("8080:0", "guest port '0'"),
    ("70000:80", "host port '70000'"),
    ("8080:80/sctp", "protocol 'sctp'"),
    ("localhost:8080:80", "host address 'localhost'"),
    ("::1:8080:80", "[HOST_IP:]HOST_PORT:GUEST_PORT"),
    ("127.0.0.1::80", "host port ''"),
])
def test_bad_ports_name_the_bad_part(spec: str, names: str) -> None:
    with pytest.raises(NetworkError) as info:
        parse_port(spec)
    assert names in str(info.value) and spec in str(info.value)
    assert isinstance(info.value, Error)


def test_a_host_port_published_twice_is_refused() -> None:
    with pytest.raises(NetworkError, match="published twice"):
        parse_ports(["8080:80", "127.0.0.1:8080:81"])
    assert len(parse_ports(["8080:80", "8080:80/udp"])) == 2


def test_net_modes_and_ports_imply_the_network() -> None:
    ports = parse_ports(["8080:80"])
    assert net_mode(False, []) == "off" and net_mode(None, []) == "off"
    assert net_mode(True, []) == "on" and net_mode("on", []) == "on"
    assert net_mode(False, ports) == "on"
    assert net_mode("restrict", ports) == "restrict"
    with pytest.raises(NetworkError, match="'bogus'"):
        net_mode("bogus", [])


def test_qemu_arguments() -> None:
    ports = parse_ports(["8080:80", "0.0.0.0:5353:53/udp"])
    assert qemu_net_args("off", ports, "pci") == ["-nic", "none"]
    assert qemu_net_args("on", ports, "pci") == [
        "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53",
        "-device", "virtio-net-pci,netdev=n0"]
    assert qemu_net_args("restrict", [], "device") == [
        "-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-device,netdev=n0"]
    assert describe("off", ports) == ""
    assert describe("on", []) == "net"
    assert describe("restrict", ports[:1]) == "net:restrict 8080→80"


def test_a_taken_port_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(NetworkError, match=f"127.0.0.1:{port}/tcp"):
            check_ports_free(parse_ports([f"{port}:80"]))
    check_ports_free(parse_ports([f"{port}:80"]))     # free again once closed



def test_cli_net_takes_a_mode_and_a_bare_flag_before_the_command() -> None:
    from cctui.cli import _parser
    assert _parser().parse_args(["run", "--net", "--", "sh"]).net == "on"
    assert _parser().parse_args(["run", "--net=restrict", "sh"]).net == "restrict"
    assert _parser().parse_args(["run", "sh"]).net == "off"
    args = _parser().parse_args(["run", "--net", "curl", "-s", "http://x"])
    assert (args.net, args.argv) == ("on", ["curl", "-s", "http://x"])
    args = _parser().parse_args(["run", "--net=restrict", "-p", "8080:80", "sh", "-c", "x"])
    assert (args.net, args.publish, args.argv) == ("restrict", ["8080:80"], ["sh", "-c", "x"])
    args = _parser().parse_args(["run", "--net", "restrict"])     # the flag, then a command
    assert (args.net, args.argv) == ("on", ["restrict"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["run", "--net=bogus", "sh"])
