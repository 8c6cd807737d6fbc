"""A minimal writer for the "newc" cpio format the kernel unpacks as initramfs."""
from __future__ import annotations

import io
import stat
from typing import BinaryIO


class CpioWriter:
    """Append directories, files and symlinks; ``close`` writes the trailer."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"") -> None:
        encoded = name.encode() + b"\0"
        header = "070701" + "".join(f"{v:08x}" for v in (
            self._ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0))
        self._ino += 1
        self._out.write(header.encode() + encoded)
        self._out.write(b"\0" * (-(110 + len(encoded)) % 4))
        self._out.write(data)
        self._out.write(b"\0" * (-len(data) % 4))

    def directory(self, name: str, perm: int = 0o755) -> None:
        self._entry(name, stat.S_IFDIR | perm)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def close(self) -> None:
        self._entry("TRAILER!!!", 0)


def build(entries: "list[tuple]") -> bytes:
    """Entries are ("dir", name) | ("file", name, data, perm) | ("link", name, target)."""
    buf = io.BytesIO()
    writer = CpioWriter(buf)
    for entry in entries:
        kind = entry[0]
        if kind == "dir":
            writer.directory(entry[1])
        elif kind == "file":
            writer.file(entry[1], entry[2], entry[3])
        else:
            writer.symlink(entry[1], entry[2])
    writer.close()
    return buf.getvalue()
