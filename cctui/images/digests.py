"""Content digests: parsing ``algorithm:hex`` strings and hashing while streaming."""

from __future__ import annotations

import hashlib
import re
from typing import BinaryIO

from .errors import ImageError

_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_DIGEST = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")


def parse_digest(value: object, what: str) -> tuple[str, str]:
    """Split a digest into (algorithm, hex), rejecting what we cannot verify."""
    if not isinstance(value, str):
        raise ImageError(f"{what}: digest is missing or not a string")
    match = _DIGEST.fullmatch(value)
    if match is None:
        raise ImageError(f"{what}: malformed digest {value!r}")
    algorithm, encoded = match.groups()
    if algorithm not in _HEX_LENGTH:
        raise ImageError(f"{what}: unsupported digest algorithm {algorithm!r}")
    if len(encoded) != _HEX_LENGTH[algorithm] or not re.fullmatch(r"[0-9a-f]+", encoded):
        raise ImageError(f"{what}: malformed digest {value!r}")
    return algorithm, encoded


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def check_digest(what: str, expected: str, actual: str) -> None:
    if expected != actual:
        raise ImageError(f"digest mismatch for {what}: expected {expected}, got {actual}")


class HashingReader:
    """A read-only stream that hashes and counts what passes through it.

    ``limit`` stops a blob that is larger than its descriptor says before it
    can fill the disk.
    """

    def __init__(self, raw: BinaryIO, algorithm: str, what: str, limit: int | None = None):
        self._raw = raw
        self._hash = hashlib.new(algorithm)
        self._algorithm = algorithm
        self._what = what
        self._limit = limit
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        data = self._raw.read(-1 if n is None else n)
        self._hash.update(data)
        self.size += len(data)
        if self._limit is not None and self.size > self._limit:
            raise ImageError(f"{self._what} is larger than its descriptor's size {self._limit}")
        return data

    def drain(self) -> None:
        """Read to the end, so the digest covers the whole stream."""
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return f"{self._algorithm}:{self._hash.hexdigest()}"
