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
from typing import Deque

CONGESTED = 1 << 20      # stop reading exec output above this
FULL = 4 << 20           # stop reading host frames above this
_WRITE_CHUNK = 256 * 1024


class OutQueue:
    """FIFO of encoded frames; urgent frames (PONG) jump ahead of bulk data."""

    def __init__(self) -> None:
        self._frames: Deque[bytes] = deque()
        self._head = bytearray()     # bytes already committed to the wire order
        self.size = 0

    def push(self, frame: bytes, urgent: bool = False) -> None:
        if urgent:
            self._frames.appendleft(frame)
        else:
            self._frames.append(frame)
        self.size += len(frame)

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
            while self._frames and len(self._head) < _WRITE_CHUNK:
                self._head += self._frames.popleft()
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
