"""Frames waiting to go to the host, written without ever blocking the loop.

The queue is bounded by backpressure rather than by dropping: the session stops
reading exec output when it is `congested` and stops reading the host's frames
when it is `full`, so its size stays a small multiple of MAX_PAYLOAD.
"""
from __future__ import annotations

import os
import select
import time
from collections import deque

from .protocol import HEADER

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Deque, Dict

CONGESTED = 512 * 1024   # stop reading exec output above this
FULL = 4 << 20           # stop reading host frames above this
# Bytes committed to the wire order at a time: what a keystroke's echo may
# have to wait behind, so small (64 KiB is one flood frame).
_WRITE_CHUNK = 64 * 1024


class OutQueue:
    """Frames in one FIFO per exec id, served round-robin.

    Order within an exec is kept (output before EXIT); between execs a flood
    cannot hold back another pane's echo by more than one frame. Urgent frames
    (PONG) go first.
    """

    def __init__(self) -> None:
        self._queues: Dict[int, Deque[bytes]] = {}
        self._turns: Deque[int] = deque()   # ids with frames waiting, in serving order
        self._urgent: Deque[bytes] = deque()
        self._head = bytearray()     # bytes already committed to the wire order
        self.size = 0

    def push(self, frame: bytes, urgent: bool = False) -> None:
        self.size += len(frame)
        if urgent:
            self._urgent.append(frame)
            return
        ident = HEADER.unpack_from(frame)[2]
        queue = self._queues.get(ident)
        if queue is None:
            queue = self._queues[ident] = deque()
        if not queue:
            self._turns.append(ident)
        queue.append(frame)

    def _next_frame(self) -> bytes:
        if self._urgent:
            return self._urgent.popleft()
        ident = self._turns.popleft()
        queue = self._queues[ident]
        frame = queue.popleft()
        if queue:
            self._turns.append(ident)
        else:
            del self._queues[ident]
        return frame

    @property
    def _waiting(self) -> bool:
        return bool(self._urgent or self._turns)

    @property
    def empty(self) -> bool:
        return self.size == 0

    @property
    def congested(self) -> bool:
        return self.size >= CONGESTED

    @property
    def full(self) -> bool:
        return self.size >= FULL

    def write_to(self, fd: int) -> None:
        """Write as much as the fd takes now; OSError (EPIPE...) propagates."""
        while self.size:
            while self._waiting and len(self._head) < _WRITE_CHUNK:
                self._head += self._next_frame()
            try:
                n = os.write(fd, self._head)
            except BlockingIOError:
                return
            del self._head[:n]
            self.size -= n
            if n == 0:
                return

    def flush_blocking(self, fd: int, timeout: float) -> bool:
        """Best effort before closing or powering off: wait for the fd, up to timeout."""
        deadline = time.monotonic() + timeout
        while self.size:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                select.select([], [fd], [], left)
                self.write_to(fd)
            except (OSError, ValueError):
                return False
        return True
