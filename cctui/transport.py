"""Byte streams to a guest agent: virtio-serial, vsock, or a local agent process.

The agent speaks the same protocol on each; only how the stream is opened differs.
"""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional, Tuple

from guest_pty_agent.protocol import VSOCK_PORT

from .errors import NotRunning, Timeout

Streams = Tuple[asyncio.StreamReader, asyncio.StreamWriter]
STREAM_LIMIT = 1 << 21


def vhost_vsock_usable() -> str:
    """"" when the kernel vhost-vsock device can be used, else why not."""
    if not os.path.exists("/dev/vhost-vsock"):
        return "/dev/vhost-vsock does not exist (host kernel lacks vhost_vsock)"
    if not os.access("/dev/vhost-vsock", os.R_OK | os.W_OK):
        return "/dev/vhost-vsock is not readable and writable by this user"
    if not hasattr(socket, "AF_VSOCK"):
        return "this Python has no AF_VSOCK support"
    return ""


async def connect_virtio_serial(path: Path, exited: asyncio.Future, timeout: float = 10.0) -> Streams:
    """Connect to QEMU's chardev socket for the agent's virtserialport.

    QEMU creates the socket right after it starts; we connect long before the
    guest boots, so the agent's first bytes are never lost.
    """
    loop = asyncio.get_event_loop()
    deadline = loop.time() + timeout
    while True:
        if exited.done():
            raise NotRunning("QEMU exited before its agent socket opened")
        try:
            return await asyncio.open_unix_connection(str(path), limit=STREAM_LIMIT)
        except (FileNotFoundError, ConnectionRefusedError):
            if loop.time() > deadline:
                raise Timeout(f"QEMU did not open {path} within {timeout:.0f} s") from None
            await asyncio.wait([exited], timeout=0.05)


async def connect_vsock(cid: int, exited: asyncio.Future, timeout: float, port: int = VSOCK_PORT) -> Streams:
    """Connect to the agent's AF_VSOCK listener, retrying while the guest boots."""
    loop = asyncio.get_event_loop()
    deadline = loop.time() + timeout
    while True:
        if exited.done():
            raise NotRunning("QEMU exited before the guest agent listened on vsock")
        sock = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)  # type: ignore[attr-defined]
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (cid, port))
            return await asyncio.open_connection(sock=sock, limit=STREAM_LIMIT)
        except OSError:
            sock.close()
            if loop.time() > deadline:
                raise Timeout(f"no agent on vsock cid {cid} port {port} within {timeout:.0f} s") from None
            await asyncio.wait([exited], timeout=0.2)


async def connect_vsock_user(path: Path, exited: asyncio.Future, timeout: float,
                             failed: Callable[[], Optional[str]], port: int = VSOCK_PORT) -> Streams:
    """Connect through the userspace vsock's hybrid socket (``CONNECT port`` → ``OK``),
    retrying while the guest boots (until then the backend closes the socket)."""
    loop = asyncio.get_event_loop()
    deadline = loop.time() + timeout
    while True:
        if exited.done():
            raise NotRunning("QEMU exited before the guest agent listened on vsock")
        if failed():
            raise NotRunning(f"the VM's vsock device stopped: {failed()}")
        reader, writer = await asyncio.open_unix_connection(str(path), limit=STREAM_LIMIT)
        writer.write(f"CONNECT {port}\n".encode())
        line = await reader.readline()
        if line.startswith(b"OK "):
            return reader, writer
        writer.close()
        if loop.time() > deadline:
            raise Timeout(f"no agent on vsock port {port} within {timeout:.0f} s")
        await asyncio.wait([exited], timeout=0.1)


async def spawn_local_agent(python: Optional[str] = None) -> Tuple[asyncio.subprocess.Process, Streams]:
    """Run the agent as a local child over a socketpair (unit tests, no VM).

    Commands then run on this host, as this user: only for tests and development.
    """
    host_end, agent_end = socket.socketpair()
    agent_dir = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = agent_dir + os.pathsep + env.get("PYTHONPATH", "")
    proc = await asyncio.create_subprocess_exec(
        python or sys.executable, "-m", "guest_pty_agent", "--fd", str(agent_end.fileno()),
        pass_fds=(agent_end.fileno(),), stdin=subprocess.DEVNULL, env=env,
        start_new_session=True)
    agent_end.close()
    host_end.setblocking(False)
    streams = await asyncio.open_connection(sock=host_end, limit=STREAM_LIMIT)
    return proc, streams
