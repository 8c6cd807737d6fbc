"""The host side: Firecracker's hybrid vsock on a unix socket.

A host program connects to ``<state>/vsock.sock``, writes ``CONNECT <port>\\n``
and reads ``OK <host port>\\n``; from then on the unix stream is the vsock stream
to that guest port. If the guest refuses (or is not up yet) the socket is closed.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Optional, Set

from .device import VsockDevice

log = logging.getLogger(__name__)

MAX_LINE = 32                          # "CONNECT 4294967295\n" fits
LINE_TIMEOUT = 5.0


class HybridListener:
    """Accepts host programs and hands each CONNECT to the device."""

    def __init__(self, path: Path, device: VsockDevice) -> None:
        self.path = path
        self.device = device
        self.loop = device.loop
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(64)
        self.sock.setblocking(False)
        self._tasks: Set[asyncio.Task] = set()
        self.loop.add_reader(self.sock.fileno(), self._accept)

    def _accept(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("vsock listener %s: %s", self.path, exc)
            return
        conn.setblocking(False)
        task = self.loop.create_task(self._handshake(conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handshake(self, conn: socket.socket) -> None:
        try:
            port = await asyncio.wait_for(self._read_connect(conn), LINE_TIMEOUT)
        except (asyncio.TimeoutError, OSError, ValueError):
            conn.close()
            return
        self.device.connect_host(conn, port, lambda host_port: _answer(conn, host_port))

    async def _read_connect(self, conn: socket.socket) -> int:
        """Read exactly the CONNECT line (peeking, so later bytes stay for the guest)."""
        while True:
            await _readable(self.loop, conn)
            data = conn.recv(MAX_LINE, socket.MSG_PEEK)
            if not data:
                raise ValueError("closed before CONNECT")
            end = data.find(b"\n")
            if end >= 0:
                line = conn.recv(end + 1).decode("ascii", "replace").split()
                if len(line) != 2 or line[0] != "CONNECT" or not line[1].isdigit() \
                        or int(line[1]) > 0xFFFF_FFFF:
                    raise ValueError("not a CONNECT line")
                return int(line[1])
            if len(data) >= MAX_LINE:
                raise ValueError("CONNECT line too long")

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        for task in list(self._tasks):
            task.cancel()


def _answer(conn: socket.socket, host_port: Optional[int]) -> None:
    """The guest's answer, sent before any stream byte (the device calls this first)."""
    if host_port is None:
        conn.close()
        return
    try:
        conn.send(f"OK {host_port}\n".encode())   # a fresh socket takes a short line whole
    except OSError:
        pass


def _wake(ready: asyncio.Future) -> None:
    if not ready.done():
        ready.set_result(None)


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """Wait until ``sock`` has bytes (or EOF) to read."""
    ready: asyncio.Future = loop.create_future()
    fd = sock.fileno()
    loop.add_reader(fd, _wake, ready)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


