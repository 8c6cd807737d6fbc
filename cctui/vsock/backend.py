"""One VM's userspace vsock: the vhost-user socket QEMU connects to and the host's
hybrid-vsock socket, both in the VM's state directory, served on the event loop."""
from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Optional

from .device import VsockDevice
from .hybrid import HybridListener
from .vhost_user import VhostUserConnection

log = logging.getLogger(__name__)

VHOST_SOCKET = "vhost-vsock.sock"      # QEMU's chardev connects here
HOST_SOCKET = "vsock.sock"             # host programs: CONNECT <port>


class VsockBackend:
    """Start before QEMU (it connects at once), close after it exits."""

    def __init__(self, state_dir: Path, guest_cid: int,
                 loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
        self.loop = loop or asyncio.get_event_loop()
        self.vhost_socket = state_dir / VHOST_SOCKET
        self.host_socket = state_dir / HOST_SOCKET
        self.device = VsockDevice(guest_cid, self.host_socket, self.loop, lambda index: None)
        self.qemu: Optional[VhostUserConnection] = None
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.vhost_socket))
        self._server.listen(1)
        self._server.setblocking(False)
        self.loop.add_reader(self._server.fileno(), self._accept)
        self.hybrid = HybridListener(self.host_socket, self.device)

    @property
    def failed(self) -> Optional[str]:
        """Why the device stopped for good (the guest broke the virtio rules), else None."""
        return self.device.failed

    def _accept(self) -> None:
        try:
            sock, _ = self._server.accept()
        except (BlockingIOError, InterruptedError):
            return
        if self.qemu is not None and not self.qemu.closed.is_set():
            log.warning("a second vhost-user connection refused")
            sock.close()
            return
        self.qemu = VhostUserConnection(sock, self.device)

    def close(self) -> None:
        self.loop.remove_reader(self._server.fileno())
        self._server.close()
        self.hybrid.close()
        if self.qemu is not None:
            self.qemu.close()
        self.device.stop()
