"""Reading a layer tar one member at a time, in bounded memory.

``tarfile`` keeps every member it has read in ``TarFile.members``, even in
stream mode, so 300k members cost hundreds of megabytes; and it reads a pax or
GNU long-name header whole into memory, whatever size the header claims.  Here
the member list is emptied as we go, and the stream refuses to hand a single
header more than ``HEADER_LIMIT`` bytes.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO, Iterator

from .errors import ImageError
from .limits import Budget

HEADER_LIMIT = 1 << 20  # pax/long-name headers hold a path and some xattrs, not megabytes
_SLACK = 1 << 16  # tarfile reads ahead of its position by one record buffer


class MeteredStream:
    """The decompressed layer: counted against the budget, headers kept small."""

    def __init__(self, raw: BinaryIO, budget: Budget, what: str):
        self._raw = raw
        self._budget = budget
        self._what = what
        self.position = 0
        self.ceiling: int | None = HEADER_LIMIT + _SLACK  # the first header is read when the tar opens

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        data = self._raw.read(-1 if n is None else n)
        self.position += len(data)
        self._budget.stream(len(data), self._what)
        if self.ceiling is not None and self.position > self.ceiling:
            raise ImageError(f"{self._what}: a tar header is larger than {HEADER_LIMIT} bytes")
        return data


def members(tar: tarfile.TarFile, stream: MeteredStream) -> Iterator[tarfile.TarInfo]:
    """Yield each member once; none is kept after the caller moves on.

    Only the current member's data can be read (``tar.extractfile``), as in
    any stream-mode tar; hardlinks are not resolved through the member list.
    """
    while True:
        stream.ceiling = tar.offset + HEADER_LIMIT + _SLACK
        member = tar.next()
        stream.ceiling = None
        tar.members.clear()  # type: ignore[attr-defined]  # TarFile.members: real, not in typeshed
        if member is None:
            return
        yield member
