"""The rows of a pane's scrollback this client has fetched, by absolute row number.

History rows are not pushed to clients: a view asks for the rows it shows and
they come in aligned chunks (op ``history``). Row ``a`` keeps its number for the
life of an epoch (``a = pushed - len + i`` for history index ``i``), so a cached
row stays valid until the server renumbers (a new epoch) or drops it. Bounded
in rows and in bytes, least recently read first out.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional, Set

CHUNK = 200                 # rows per fetch, aligned: chunk k is rows k*CHUNK ..
MAX_ROWS = 20_000
MAX_BYTES = 8 << 20
MAX_IN_FLIGHT = 8           # chunk requests at once (a view shows a few chunks at most)
_ROW_OVERHEAD = 120         # a stored row's lists, estimated


def row_bytes(row: Any) -> int:
    """Estimated memory of one checked wire row ``[chars, runs]``."""
    chars, runs = row
    return _ROW_OVERHEAD + 4 * len(chars) + 60 * len(runs)


class HistoryCache:
    """Wire rows by absolute number; which chunks are asked for and which were answered."""

    def __init__(self, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.epoch: Optional[int] = None
        self._rows: "OrderedDict[int, Any]" = OrderedDict()
        self.nbytes = 0
        self.in_flight: Set[int] = set()        # chunk numbers requested, no answer yet
        self._answered: Set[int] = set()        # chunks answered (rows the server lacks stay absent)
        self._floor = 0                         # rows below this left the server's history
        self._swept = 0

    def __len__(self) -> int:
        return len(self._rows)

    def reset(self, epoch: int) -> None:
        """A new epoch: every number changed meaning."""
        self.epoch = epoch
        self._rows.clear()
        self.nbytes = 0
        self.in_flight.clear()
        self._answered.clear()
        self._floor = self._swept = 0

    def get(self, absolute: int) -> Optional[Any]:
        row = self._rows.get(absolute)
        if row is not None:
            self._rows.move_to_end(absolute)
        return row

    def peek(self, absolute: int) -> Optional[Any]:
        return self._rows.get(absolute)

    def wants(self, absolute: int) -> Optional[int]:
        """The chunk to fetch for a missing row, or None (asked already, answered, or too many out)."""
        chunk = absolute // CHUNK
        if chunk in self.in_flight or chunk in self._answered or len(self.in_flight) >= MAX_IN_FLIGHT:
            return None
        return chunk

    def store(self, start: int, rows: Any) -> None:
        for offset, row in enumerate(rows):
            absolute = start + offset
            old = self._rows.pop(absolute, None)
            if old is not None:
                self.nbytes -= row_bytes(old)
            self._rows[absolute] = row
            self.nbytes += row_bytes(row)
        self._evict()

    def answered(self, chunk: int) -> None:
        self.in_flight.discard(chunk)
        self._answered.add(chunk)

    def failed(self, chunk: int) -> None:
        """The request did not complete: marked answered so a failing server is not asked in a loop."""
        self.answered(chunk)

    def drop_below(self, first: int) -> None:
        """Rows below ``first`` left the server's history: forget them (never read again:
        swept in batches, as a sweep walks the whole cache)."""
        if first <= self._floor:
            return
        self._floor = first
        low = first // CHUNK
        self._answered = {c for c in self._answered if c >= low}
        if first - self._swept < CHUNK * 10:
            return
        self._swept = first
        for absolute in [a for a in self._rows if a < first]:
            self.nbytes -= row_bytes(self._rows.pop(absolute))

    def _evict(self) -> None:
        while self._rows and (len(self._rows) > self.max_rows or self.nbytes > self.max_bytes):
            absolute, row = self._rows.popitem(last=False)
            self.nbytes -= row_bytes(row)
            self._answered.discard(absolute // CHUNK)      # fetch it again when it is read
