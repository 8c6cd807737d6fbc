"""The guest's network: QEMU user-mode networking (rootless) and published ports.

Parsing follows ``docker run``: ``--net``/``--net=restrict`` and
``-p [HOST_IP:]HOST_PORT:GUEST_PORT[/udp]`` with 127.0.0.1 as the default bind
address, so a published port is never open on every interface unless asked.
The guest is configured statically (no DHCP wait): see GUEST_* below.
"""
from __future__ import annotations

import ipaddress
import socket
import weakref
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Union

from ..errors import Error

# QEMU's user-mode network: 10.0.2.0/24, the host's gateway at .2, its DNS at .3.
GUEST_ADDRESS = "10.0.2.15/24"
GATEWAY = "10.0.2.2"
NAMESERVER = "10.0.2.3"
NET_MODES = ("off", "on", "restrict")


class NetworkError(Error):
    """A --net or -p value that cannot be used (names the bad part)."""


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str
    host_port: int
    guest_port: int
    proto: str = "tcp"

    def hostfwd(self) -> str:
        """QEMU's spelling: ``hostfwd=tcp:127.0.0.1:8080-:80``."""
        return f"hostfwd={self.proto}:{self.host_ip}:{self.host_port}-:{self.guest_port}"

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}:{self.guest_port}/{self.proto}"


def _port(text: str, what: str, spec: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise NetworkError(f"-p {spec!r}: {what} {text!r} is not a port number (1-65535)")
    return int(text)


def parse_port(spec: str) -> PublishedPort:
    """``[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]`` as docker run spells it."""
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise NetworkError(f"-p {spec!r}: protocol {proto!r} is not tcp or udp")
    parts = body.split(":")
    if len(parts) == 2:
        host_ip, host_port, guest_port = "127.0.0.1", parts[0], parts[1]
    elif len(parts) == 3:
        host_ip, host_port, guest_port = parts
    else:
        raise NetworkError(f"-p {spec!r}: expected [HOST_IP:]HOST_PORT:GUEST_PORT[/udp]")
    try:
        ipaddress.IPv4Address(host_ip)
    except ValueError:
        raise NetworkError(f"-p {spec!r}: host address {host_ip!r} is not an IPv4 address "
                           "(QEMU's user-mode network forwards IPv4 only)") from None
    return PublishedPort(host_ip, _port(host_port, "host port", spec),
                         _port(guest_port, "guest port", spec), proto)


def parse_ports(specs: Iterable[Union[str, PublishedPort]]) -> List[PublishedPort]:
    ports = [p if isinstance(p, PublishedPort) else parse_port(p) for p in specs]
    seen = set()
    for p in ports:
        key = (p.host_ip, p.host_port, p.proto)
        if key in seen:
            raise NetworkError(f"-p: host port {p.host_ip}:{p.host_port}/{p.proto} "
                               "is published twice")
        seen.add(key)
    return ports


def net_mode(net: Union[bool, str, None], ports: Sequence[PublishedPort]) -> str:
    """'off', 'on' or 'restrict'; a published port implies the network."""
    if net is None or net is False:
        mode = "off"
    elif net is True:
        mode = "on"
    else:
        mode = str(net)
        if mode not in NET_MODES:
            raise NetworkError(f"--net={mode!r}: expected one of {', '.join(NET_MODES)}")
    return "on" if mode == "off" and ports else mode


def check_ports_free(ports: Sequence[PublishedPort]) -> None:
    """Bind each host port once before QEMU does, so a taken port is a clear error
    before anything boots (QEMU would otherwise exit with its own terse message)."""
    for p in ports:
        kind = socket.SOCK_STREAM if p.proto == "tcp" else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, kind) as s:
            if p.proto == "tcp":        # as QEMU binds: a TIME_WAIT is no conflict
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((p.host_ip, p.host_port))
            except OSError as exc:
                raise NetworkError(f"-p {p}: cannot publish host port "
                                   f"{p.host_ip}:{p.host_port}/{p.proto}: "
                                   f"{exc.strerror or exc}") from None


def qemu_net_args(mode: str, ports: Sequence[PublishedPort], bus: str) -> List[str]:
    """QEMU's arguments for the NIC, or ``-nic none`` when the network is off."""
    if mode == "off":
        return ["-nic", "none"]
    netdev = "user,id=n0" + (",restrict=on" if mode == "restrict" else "")
    netdev += "".join("," + p.hostfwd() for p in ports)
    return ["-netdev", netdev, "-device", f"virtio-net-{bus},netdev=n0"]


def describe(mode: str, ports: Optional[Sequence[PublishedPort]] = None) -> str:
    """A short label for the VM tree: '', 'net', 'net:restrict', plus published ports."""
    if mode == "off":
        return ""
    label = "net" if mode == "on" else "net:restrict"
    if ports:
        label += " " + ",".join(f"{p.host_port}→{p.guest_port}" for p in ports)
    return label


# What each booted instance got, for the VM tree (the instance class is not ours to extend).
_LABELS: "weakref.WeakKeyDictionary[object, str]" = weakref.WeakKeyDictionary()


def set_label(instance: object, label: str) -> None:
    _LABELS[instance] = label


def label_of(instance: object) -> str:
    """'' for a VM without network (or one this process did not boot)."""
    return _LABELS.get(instance, "")
