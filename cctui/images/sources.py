"""Where an image's files come from: a directory or a tarball, read alike.

Both an OCI layout and a ``docker save`` archive are a small tree of files
(index.json, manifest.json, blobs/...); a source opens those files by their
path inside the image without extracting the archive first.

Only regular files are read.  A symlink is followed only to another file of
the same image (``docker save`` links duplicate layers that way); one that
leads out of the image, a device, a FIFO or a socket is refused, since
reading ``/dev/zero`` or a FIFO would never end.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import zlib
from pathlib import Path
from typing import BinaryIO

from .errors import ImageError
from .limits import Budget, Limits

# Errors that mean the bytes of an archive are damaged or cut short.
CORRUPT_ERRORS = (tarfile.TarError, EOFError, zlib.error)

MAX_JSON_BYTES = 16 << 20
_MAX_LINK_HOPS = 16


def clean_name(name: str) -> str:
    """A path inside an image, normalised; absolute or ``..`` paths are refused."""
    if "\0" in name:
        raise ImageError(f"path {name!r} in the image contains a NUL byte")
    if name.startswith("/"):
        raise ImageError(f"path {name!r} in the image is absolute")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts or not parts:
        raise ImageError(f"path {name!r} in the image escapes it")
    try:
        os.fsencode(name)
    except UnicodeEncodeError:
        raise ImageError(f"path {name!r} in the image is not a valid file name") from None
    return "/".join(parts)


class Source:
    """Read access to the files of an image, by path."""

    def has(self, name: str) -> bool:
        """Whether the image has something at ``name`` (``open`` says if it is usable)."""
        raise NotImplementedError

    def open(self, name: str, what: str) -> BinaryIO:
        """Open a regular file; ``what`` names it in the error when it is missing or not a file."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_bytes(self, name: str, what: str) -> bytes:
        """A small file whole (JSON metadata), read in chunks: no 16 MiB buffer per call."""
        chunks: list[bytes] = []
        total = 0
        with self.open(name, what) as stream:
            try:
                while total <= MAX_JSON_BYTES and (chunk := stream.read(1 << 16)):
                    chunks.append(chunk)
                    total += len(chunk)
            except CORRUPT_ERRORS as exc:
                raise ImageError(f"corrupt or truncated tarball while reading {what}: {exc}") from exc
        if total > MAX_JSON_BYTES:
            raise ImageError(f"{what} is larger than {MAX_JSON_BYTES} bytes")
        return b"".join(chunks)


class DirSource(Source):
    """An image laid out in a directory (OCI layout, or an extracted docker save)."""

    def __init__(self, root: Path):
        self.root = root
        self._real_root = os.path.realpath(root)

    def _inside(self, name: str) -> str:
        """The real path ``name`` leads to, refusing links that leave the image."""
        real = os.path.realpath(os.path.join(self._real_root, clean_name(name)))
        if os.path.commonpath([real, self._real_root]) != self._real_root:
            raise ImageError(f"{name} in the image is a symlink that leads outside it")
        return real

    def has(self, name: str) -> bool:
        return os.path.lexists(self.root / clean_name(name))

    def open(self, name: str, what: str) -> BinaryIO:
        path = self._inside(name)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise ImageError(f"{what} ({name}) is not a regular file")
            # O_NONBLOCK: should it have become a FIFO since, opening does not hang.
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ImageError(f"missing {what} ({name})") from None
        except OSError as exc:
            raise ImageError(f"cannot read {what} ({name}): {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise ImageError(f"{what} ({name}) is not a regular file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")


class TarSource(Source):
    """An image packed in a tarball (OCI layout tarball or docker save), maybe gzipped."""

    def __init__(self, path: Path, limits: Limits | None = None):
        budget = Budget(limits or Limits())  # its own: the layers are counted again when read
        try:
            self._tar = tarfile.open(path, "r:*")
        except tarfile.ReadError as exc:
            raise ImageError("not a directory and not a readable tar archive (corrupt or truncated tarball?)") from exc
        except CORRUPT_ERRORS as exc:
            raise ImageError(f"corrupt or truncated tarball: {exc}") from exc
        self._members: dict[str, tarfile.TarInfo] = {}
        try:
            # Walking the archive decompresses it: count it against the limits
            # as it goes, so a bomb stops early (tarfile keeps the list anyway).
            while (member := self._tar.next()) is not None:
                budget.entry("the image tarball")
                budget.stream(member.size, "the image tarball")
                key = "/".join(part for part in member.name.split("/") if part not in ("", "."))
                if key:
                    self._members[key] = member  # later members win, as when extracting
        except CORRUPT_ERRORS as exc:
            self._tar.close()
            raise ImageError(f"corrupt or truncated tarball: {exc}") from exc
        except BaseException:
            self._tar.close()
            raise

    def close(self) -> None:
        self._tar.close()

    def _member(self, name: str, what: str) -> tarfile.TarInfo | None:
        key = clean_name(name)
        for _ in range(_MAX_LINK_HOPS):  # follow links inside the archive, a bounded number of times
            member = self._members.get(key)
            if member is None or member.isreg():
                return member
            if member.issym():
                target = posixpath.normpath(posixpath.join(posixpath.dirname(key), member.linkname))
            elif member.islnk():
                target = member.linkname
            else:
                raise ImageError(f"{what} ({name}) is not a regular file in the tarball")
            if target.startswith("/") or target == ".." or target.startswith("../"):
                raise ImageError(f"{what} ({name}) is a link that leads outside the tarball")
            key = clean_name(target)
        raise ImageError(f"too many links resolving {name!r} in the tarball")

    def has(self, name: str) -> bool:
        return self._members.get(clean_name(name)) is not None

    def open(self, name: str, what: str) -> BinaryIO:
        member = self._member(name, what)
        if member is None:
            raise ImageError(f"missing {what} ({name})")
        stream = self._tar.extractfile(member)
        assert stream is not None  # a regular member always has data
        return stream  # type: ignore[return-value]  # typeshed says IO[bytes]; it is an io.BufferedReader
