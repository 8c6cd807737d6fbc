"""The guest's serial console, kept for one purpose: saying why a boot failed.

The guest writes to it at will, so it is held in memory capped in bytes (the
tail survives: the end of a log explains a failure), never in a file that grows
without bound. What users see of it is made printable first: firmware and
kernels write terminal control sequences, and a hostile guest can write any.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List

from ..guest_text import printable

CONSOLE_LOG_CAP = 256 * 1024      # bytes of console output kept (the latest)
LINE_LIMIT = 300                  # characters of one console line shown in a message
READ_SIZE = 64 * 1024


class ConsoleLog:
    """The last ``cap`` bytes of a stream QEMU writes: the guest's serial
    console, or QEMU's own stderr (where a guest can provoke messages too)."""

    def __init__(self, cap: int = CONSOLE_LOG_CAP) -> None:
        self.cap = cap
        self._buf = bytearray()
        self.total = 0                # bytes seen, kept or not

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        self._buf += data
        if len(self._buf) > self.cap:
            del self._buf[:len(self._buf) - self.cap]

    async def pump(self, stream: asyncio.StreamReader) -> None:
        """Read the stream until QEMU closes it."""
        while True:
            data = await stream.read(READ_SIZE)
            if not data:
                return
            self.feed(data)

    @property
    def data(self) -> bytes:
        return bytes(self._buf)

    def save(self, path: Path) -> None:
        """Write what is kept (a failed boot's log, for the user to read)."""
        path.write_bytes(self.data)

    def lines(self) -> List[str]:
        """The kept console as printable, non-empty lines."""
        text = self.data.decode("utf-8", errors="replace")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = printable(text, len(text) + 1, keep_newlines=True)
        return [line.strip() for line in text.splitlines() if line.strip()]

    def tail(self, count: int = 3) -> str:
        """The lines that explain a failed boot (not a panic's register dump)."""
        lines = self.lines()
        for i, line in enumerate(lines):
            if "Kernel panic" in line:
                lines = lines[:i + 1]
                break
        return " | ".join(printable(line, LINE_LIMIT) for line in lines[-count:])
