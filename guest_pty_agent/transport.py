"""Opening the byte stream to the host: an inherited fd, a virtio-serial port
or a vsock listener. Each `connect` returns a non-blocking fd for one session."""
from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Callable, Optional
    Reap = Callable[[], None]

PORT_WAIT = 30.0
REOPEN_PAUSE = 0.5


class TransportError(Exception):
    """The channel cannot be opened at all."""


def _idle(seconds: float, reap: Reap) -> None:
    """Wait without leaving zombies behind (the agent may be PID 1)."""
    deadline = time.monotonic() + seconds
    while True:
        reap()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.2, left))


def _prepare(fd: int) -> int:
    os.set_blocking(fd, False)
    os.set_inheritable(fd, False)
    return fd


class FdTransport:
    """One session on an fd we inherited (tests use a socketpair)."""

    reconnects = False

    def __init__(self, fd: int) -> None:
        self._fd: Optional[int] = fd

    def connect(self, reap: Reap) -> Optional[int]:
        fd, self._fd = self._fd, None
        return None if fd is None else _prepare(fd)

    def close(self, fd: int) -> None:
        os.close(fd)


class VirtioTransport:
    """A virtio-serial port found by name in sysfs (there is no udev to make
    /dev/virtio-ports/NAME). Reading gives EOF while no host is connected, so
    the port is reopened after a pause rather than spun on."""

    reconnects = True

    def __init__(self, name: str) -> None:
        self.name = name
        self._opened = False

    def _find(self) -> Optional[str]:
        import glob             # only here: it pulls in re and fnmatch at start-up
        for path in sorted(glob.glob("/sys/class/virtio-ports/*/name")):
            try:
                with open(path) as f:
                    if f.read().strip() == self.name:
                        return "/dev/" + os.path.basename(os.path.dirname(path))
            except OSError:
                continue
        return None

    def connect(self, reap: Reap) -> Optional[int]:
        if self._opened:
            _idle(REOPEN_PAUSE, reap)
        deadline = time.monotonic() + PORT_WAIT
        while True:
            dev = self._find()
            if dev is not None:
                try:
                    fd = os.open(dev, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
                    self._opened = True
                    return _prepare(fd)
                except OSError:
                    pass
            if time.monotonic() >= deadline:
                raise TransportError(f"virtio port {self.name!r} did not appear within {PORT_WAIT:.0f} s")
            _idle(0.2, reap)

    def close(self, fd: int) -> None:
        os.close(fd)


class VsockTransport:
    """Listen on AF_VSOCK and serve one connection at a time."""

    reconnects = True

    def __init__(self, port: int) -> None:
        # _socket, not socket: socket.py builds its enums from every AF_/SO_ name at
        # import (a tenth of a second and more under TCG) and pulls in array.
        import _socket
        family = getattr(_socket, "AF_VSOCK", None)
        if family is None:
            raise TransportError("this Python has no AF_VSOCK")
        try:
            self._sock = _socket.socket(family, _socket.SOCK_STREAM)
            self._sock.bind((_socket.VMADDR_CID_ANY, port))
            self._sock.listen(1)
        except OSError as exc:
            raise TransportError(f"vsock port {port}: {exc}") from None
        self._sock.settimeout(0.5)

    def connect(self, reap: Reap) -> Optional[int]:
        while True:
            reap()
            try:
                fd, _ = self._sock._accept()  # type: ignore[attr-defined]  # a CLOEXEC fd
            except (TimeoutError, InterruptedError):   # socket.timeout is TimeoutError
                continue
            return _prepare(fd)

    def close(self, fd: int) -> None:
        os.close(fd)
