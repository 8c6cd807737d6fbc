"""One vsock stream between a guest port and a host unix socket.

Guest→host bytes are sent straight from guest memory to the socket; what the
socket does not take is kept, at most our advertised ``buf_alloc`` (the guest
may not send more: ``Credit.received`` raises when it does). Host→guest bytes
are read from the socket straight into the guest's receive buffers, only while
the guest has credit for them (see ``device.py``).
"""
from __future__ import annotations

import asyncio
import socket
from enum import Enum
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple

from .credit import Credit, CreditViolation
from .packet import SHUTDOWN_RCV, SHUTDOWN_SEND

if TYPE_CHECKING:
    from .device import VsockDevice

BUF_ALLOC = 256 * 1024                 # how much guest→host data we buffer per stream
MAX_BUFFERED = 8 * 1024 * 1024         # ...and for all of one VM's streams together
Key = Tuple[int, int]                  # (guest port, host port)


class State(str, Enum):
    REQUESTED = "requested"            # we sent REQUEST for a host program; no RESPONSE yet
    ESTABLISHED = "established"
    CLOSED = "closed"


class Connection:
    """Socket I/O and shutdown state of one stream; the device routes its packets."""

    def __init__(self, device: "VsockDevice", sock: socket.socket, guest_port: int,
                 host_port: int, state: State) -> None:
        self.device = device
        self.sock = sock
        sock.setblocking(False)
        self.guest_port = guest_port
        self.host_port = host_port
        self.state = state
        self.credit = Credit(BUF_ALLOC)
        self.outbuf = bytearray()      # guest bytes the socket has not taken yet
        self.ready = False             # the socket is readable (or at EOF): rx may read it
        self.reading = False           # a reader is registered on the socket
        self.host_eof = False          # we told the guest SHUTDOWN(SEND)
        self.guest_sends = True        # the guest has not said SHUTDOWN(SEND)
        self.guest_receives = True     # the guest has not said SHUTDOWN(RCV)
        self.timer: Optional[asyncio.TimerHandle] = None
        self.update_queued = False     # a CREDIT_UPDATE/REQUEST for it waits in the control queue
        self.on_result: Optional[Callable[[Optional[int]], None]] = None   # a host program's CONNECT

    @property
    def key(self) -> Key:
        return (self.guest_port, self.host_port)

    # host → guest ----------------------------------------------------------------
    def watch(self) -> None:
        """Wait for the socket to be readable (only while the guest can take bytes)."""
        if not self.reading and not self.ready and not self.host_eof and self.guest_receives \
                and self.state is State.ESTABLISHED:
            self.reading = True
            self.device.loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        self.unwatch()
        self.ready = True
        self.device.want_send(self, now=True)

    def unwatch(self) -> None:
        if self.reading:
            self.reading = False
            self.device.loop.remove_reader(self.sock.fileno())

    # guest → host ----------------------------------------------------------------
    def from_guest(self, views: List[memoryview], length: int) -> bool:
        """Pass on an RW payload; False when the guest overran its credit or the socket failed."""
        try:
            self.credit.received(length)
        except CreditViolation:
            return False
        sent = 0
        if not self.outbuf:
            try:
                sent = self.sock.sendmsg(views) if length else 0
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return False
            self.credit.forwarded(sent)
            if sent == length:
                return True
            views = _skip(views, sent)
        left = length - sent
        if self.device.buffered + left > MAX_BUFFERED:
            return False               # many streams at once, none read: the device's bound
        self.device.buffered += left
        for view in views:
            self.outbuf += view
        self.device.loop.add_writer(self.sock.fileno(), self._writable)
        return True

    def _writable(self) -> None:
        try:
            sent = self.sock.send(self.outbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.device.reset(self)
            return
        del self.outbuf[:sent]
        self.device.buffered -= sent
        self.credit.forwarded(sent)
        if not self.outbuf:
            self.device.loop.remove_writer(self.sock.fileno())
            self.flushed()
        if self.credit.update_due():
            self.device.credit_update(self)

    def flushed(self) -> None:
        """After the last guest byte left: pass on the guest's half-close, or finish."""
        if self.outbuf:
            return
        if not self.guest_sends:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if self.host_eof or not self.guest_receives:
                self.device.finish(self)

    def guest_shutdown(self, flags: int) -> None:
        if flags & SHUTDOWN_RCV:
            self.guest_receives = False
            self.unwatch()
        if flags & SHUTDOWN_SEND:
            self.guest_sends = False
        self.flushed()

    def close(self) -> None:
        """Drop the socket; the device has already taken this stream out of its table."""
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self.unwatch()
        if self.timer is not None:
            self.timer.cancel()
        if self.outbuf:
            self.device.loop.remove_writer(self.sock.fileno())
            self.device.buffered -= len(self.outbuf)
            self.outbuf = bytearray()
        self.sock.close()


def _skip(views: List[memoryview], count: int) -> List[memoryview]:
    """The views with their first ``count`` bytes dropped."""
    out = []
    for view in views:
        if count >= len(view):
            count -= len(view)
            continue
        out.append(view[count:])
        count = 0
    return out
