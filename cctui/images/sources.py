"""Where an image's files come from: a directory or a tarball, read alike.

Both an OCI layout and a ``docker save`` archive are a small tree of files
(index.json, manifest.json, blobs/...); a source opens those files by their
path inside the image without extracting the archive first.
"""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from pathlib import Path
from typing import BinaryIO

from .errors import ImageError

# Errors that mean the bytes of an archive are damaged or cut short.
CORRUPT_ERRORS = (tarfile.TarError, EOFError, zlib.error)

MAX_JSON_BYTES = 16 << 20


def clean_name(name: str) -> str:
    """A path inside an image, normalised; absolute or ``..`` paths are refused."""
    if name.startswith("/"):
        raise ImageError(f"path {name!r} in the image is absolute")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts or not parts:
        raise ImageError(f"path {name!r} in the image escapes it")
    return "/".join(parts)


class Source:
    """Read access to the files of an image, by path."""

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def open(self, name: str, what: str) -> BinaryIO:
        """Open a file; ``what`` names it in the error when it is missing."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_bytes(self, name: str, what: str) -> bytes:
        with self.open(name, what) as stream:
            try:
                data = stream.read(MAX_JSON_BYTES + 1)
            except CORRUPT_ERRORS as exc:
                raise ImageError(f"corrupt or truncated tarball while reading {what}: {exc}") from exc
        if len(data) > MAX_JSON_BYTES:
            raise ImageError(f"{what} is larger than {MAX_JSON_BYTES} bytes")
        return data


class DirSource(Source):
    """An image laid out in a directory (OCI layout, or an extracted docker save)."""

    def __init__(self, root: Path):
        self.root = root

    def has(self, name: str) -> bool:
        return (self.root / clean_name(name)).is_file()

    def open(self, name: str, what: str) -> BinaryIO:
        path = self.root / clean_name(name)
        try:
            return open(path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ImageError(f"missing {what} ({name})") from None


class TarSource(Source):
    """An image packed in a tarball (OCI layout tarball or docker save), maybe gzipped."""

    def __init__(self, path: Path):
        try:
            self._tar = tarfile.open(path, "r:*")
        except tarfile.ReadError as exc:
            raise ImageError("not a directory and not a readable tar archive (corrupt or truncated tarball?)") from exc
        try:
            members = self._tar.getmembers()
        except CORRUPT_ERRORS as exc:
            self._tar.close()
            raise ImageError(f"corrupt or truncated tarball: {exc}") from exc
        self._members: dict[str, tarfile.TarInfo] = {}
        for member in members:  # later members win, as when extracting
            key = "/".join(part for part in member.name.split("/") if part not in ("", "."))
            if key:
                self._members[key] = member

    def close(self) -> None:
        self._tar.close()

    def _member(self, name: str) -> tarfile.TarInfo | None:
        key = clean_name(name)
        for _ in range(16):  # follow links inside the archive, a bounded number of times
            member = self._members.get(key)
            if member is None or member.isreg():
                return member
            if member.issym():
                target = posixpath.normpath(posixpath.join(posixpath.dirname(key), member.linkname))
            elif member.islnk():
                target = member.linkname
            else:
                return None
            key = clean_name(target)
        raise ImageError(f"too many links resolving {name!r} in the tarball")

    def has(self, name: str) -> bool:
        return self._member(name) is not None

    def open(self, name: str, what: str) -> BinaryIO:
        member = self._member(name)
        if member is None:
            raise ImageError(f"missing {what} ({name})")
        stream = self._tar.extractfile(member)
        assert stream is not None  # a regular member always has data
        return stream
