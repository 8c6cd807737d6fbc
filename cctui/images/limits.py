"""How much one image may unpack to: caps that stop an archive bomb early.

A small compressed layer can expand to any size (gzip of zeros, sparse tar
members) and any number of files.  The caps are checked before the bytes are
written, so a refused image costs little disk and time, and the unpack
directory is removed like any failed unpack.

Defaults, and why:

* ``max_bytes`` = 16 GiB: caps both the uncompressed layer streams and the
  file data written.  Distribution and toolchain images unpack to 0.1-5 GiB
  and even CUDA development images to about 10 GiB, while 16 GiB is still
  well below a typical free disk.  An image that needs more can say so.
* ``max_entries`` = 1,000,000: tar members read plus files, links and
  directories created.  Large distribution images hold 50k-300k files; the
  bookkeeping per entry is a few hundred bytes, so the cap also bounds memory.

Both can be raised per call (``resolve_image(..., max_bytes=..., max_entries=...)``)
or per environment (``CCTUI_IMAGE_MAX_BYTES``, ``CCTUI_IMAGE_MAX_ENTRIES``;
sizes take a K, M, G or T suffix, powers of 1024).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping

from .errors import ImageError

DEFAULT_MAX_BYTES = 16 << 30
DEFAULT_MAX_ENTRIES = 1_000_000
BYTES_VARIABLE = "CCTUI_IMAGE_MAX_BYTES"
ENTRIES_VARIABLE = "CCTUI_IMAGE_MAX_ENTRIES"

_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_NUMBER = re.compile(r"\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_entries: int = DEFAULT_MAX_ENTRIES

    @classmethod
    def choose(
        cls, max_bytes: int | None, max_entries: int | None, environ: Mapping[str, str] | None = None
    ) -> Limits:
        """Keyword arguments win over the environment, which wins over the defaults."""
        environ = os.environ if environ is None else environ
        if max_bytes is None:
            max_bytes = _from_env(environ, BYTES_VARIABLE, DEFAULT_MAX_BYTES)
        if max_entries is None:
            max_entries = _from_env(environ, ENTRIES_VARIABLE, DEFAULT_MAX_ENTRIES)
        for name, value in (("max_bytes", max_bytes), ("max_entries", max_entries)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ImageError(f"{name} must be a positive integer, not {value!r}")
        return cls(max_bytes, max_entries)


def _from_env(environ: Mapping[str, str], variable: str, default: int) -> int:
    text = environ.get(variable, "")
    if not text.strip():
        return default
    match = _NUMBER.fullmatch(text)
    if match is None or int(match.group(1)) <= 0:
        raise ImageError(f"{variable}={text!r} is not a positive number (a K, M, G or T suffix is allowed)")
    return int(match.group(1)) * _SUFFIXES[match.group(2).upper()]


class Budget:
    """What is left of the limits while one image unpacks.

    Stream bytes (decompressed layer tar, headers included) and disk bytes
    (file data written, sparse files at their full size) are counted apart,
    each against ``max_bytes``: the first bounds the work, the second the disk.
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self.stream_bytes = 0
        self.disk_bytes = 0
        self.entries = 0

    def stream(self, count: int, what: str) -> None:
        self.stream_bytes += count
        self._check_bytes(self.stream_bytes, what, "the uncompressed layers exceed")

    def disk(self, count: int, what: str) -> None:
        self.disk_bytes += count
        self._check_bytes(self.disk_bytes, what, "the image unpacks to more than")

    def _check_bytes(self, total: int, what: str, exceeds: str) -> None:
        if total > self.limits.max_bytes:
            raise ImageError(
                f"{what}: {exceeds} the limit of {self.limits.max_bytes} bytes"
                f" (raise it with max_bytes= or {BYTES_VARIABLE})"
            )

    def entry(self, what: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise ImageError(
                f"{what}: the image has more than the limit of {self.limits.max_entries} entries"
                f" (files, directories, links, tar members; raise it with max_entries= or {ENTRIES_VARIABLE})"
            )
