"""Bounded scrollback that stores scrolled-off rows compactly.

Two kinds of block live in one deque, oldest first:

* laid-out blocks: up to ``_BLOCK_ROWS`` compact rows each.  A compact row is
  ``(chars, runs)``: ``chars`` is a ``str`` with one character per cell (or a
  tuple of cell strings when a row holds wide-character stubs or combining
  marks), trailing blank cells dropped; ``runs`` is a tuple of
  ``(start_column, attrs)`` where ``attrs`` is the interned tail of a pyte
  ``Char`` (everything but ``data``).
* blank runs: rows scrolled off blank in bulk (``CSI n S`` on an empty
  screen), held as a count.
* raw blocks: the text of a flood that scrolled off before it was ever on
  screen, kept as the decoded characters plus the cursor column, attributes,
  width and tab stops it started with.  It is laid out (by the same engine)
  only when somebody looks at it: most floods are never scrolled back to.

The bound is enforced in rows and in (estimated) bytes: a guest controls how
big a row is (an SGR change per cell, wide characters, combining marks) and
how much raw text a flood holds.  Whole blocks are dropped from the front, so
up to one block more than the row limit may be held; the excess rows are
hidden.  Past the byte bound the oldest blocks go even if rows are left.
"""
from __future__ import annotations

import sys
from collections import deque
from itertools import count, groupby, repeat
from operator import itemgetter
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .bounded import BoundedDict
from .pyte_compat import Char

CompactRow = Tuple[Union[str, Tuple[str, ...]], Tuple[Any, ...]]

_BLOCK_ROWS = 256
_EPOCHS = count(1)     # history epochs, unique in this process (a rerun's new model too)
BLANK = Char(" ")
BLANK_ATTRS = BLANK[1:]
EMPTY_ROW: CompactRow = ("", ())

_interned: Dict[Any, Any] = BoundedDict(16384)
DEFAULT_MAX_BYTES = 8 << 20


def _intern(attrs: Tuple[Any, ...]) -> Tuple[Any, ...]:
    got = _interned.get(attrs)
    if got is None:
        _interned[attrs] = got = attrs
    return got


def row_size(row: CompactRow) -> int:
    """Bytes a compact row holds, roughly (attribute tuples counted as if
    half of them were shared)."""
    chars, runs = row
    if not runs:
        return 8
    size = 100 + 24 * len(runs)
    if isinstance(chars, str):
        return size + sys.getsizeof(chars)
    return size + 48 * len(chars)


def raw_size(raw: "RawFlood", nrows: int) -> int:
    """Bytes a flood will hold once laid out, roughly (it is counted so
    before, so that scrolling back through it cannot pass the bound)."""
    text = raw.text
    chars = sys.getsizeof(text) if text.isascii() else 48 * len(text)
    return 200 + 100 * nrows + chars + 48 * text.count("\x1b")


_data_of = itemgetter(0)
_attrs_of = itemgetter(slice(1, None))


def compact_row(row: Optional[Dict[int, Any]], cols: int) -> CompactRow:
    """Pack one screen row (pyte's ``{x: Char}`` mapping) into a compact row."""
    if not row:
        return EMPTY_ROW
    dflt = getattr(row, "default", BLANK)
    n = len(row)
    if n <= cols and list(row) == list(range(n)):
        cells = list(row.values())  # drawn left to right: the common case
    else:
        cells = list(map(row.get, range(min(cols, max(row) + 1)), repeat(dflt)))
    while cells and cells[-1] == dflt:
        cells.pop()
    if not cells:
        return EMPTY_ROW
    datas = list(map(_data_of, cells))
    text = "".join(datas)
    # (a str only if every cell holds one character: a stub and a cell with a
    # mark can add up to the same length)
    chars: Union[str, Tuple[str, ...]] = (
        text if len(text) == len(cells) and "" not in datas else tuple(datas))
    runs: List[Any] = []
    pos = 0
    for attrs, group in groupby(map(_attrs_of, cells)):
        runs.append(pos)
        runs.append(_intern(attrs))
        pos += len(list(group))
    return chars, tuple(runs)


_cell_cache: Dict[Any, Any] = BoundedDict(256)


def expand_row(row: CompactRow, cols: int) -> List[Char]:
    """Lay a compact row out as exactly ``cols`` cells."""
    chars, runs = row
    out: List[Char] = []
    n = len(chars)
    for i in range(0, len(runs), 2):
        start, attrs = runs[i], runs[i + 1]
        end = runs[i + 2] if i + 2 < len(runs) else n
        cmap = _cell_cache.get(attrs)
        if cmap is None:
            cmap = _cell_cache[attrs] = BoundedDict(1024)
        for ch in chars[start:end]:
            cell = cmap.get(ch)
            if cell is None:
                cell = cmap[ch] = Char(ch, *attrs)
            out.append(cell)
    if len(out) < cols:
        out.extend([BLANK] * (cols - len(out)))
    elif len(out) > cols:
        del out[cols:]
    return out


def row_text(row: CompactRow) -> str:
    chars = row[0]
    return chars if isinstance(chars, str) else "".join(chars)


class RawFlood:
    """Text that scrolled off in a flood, not laid out yet."""

    __slots__ = ("text", "x", "attrs", "cols", "tabstops", "keep")

    def __init__(self, text: str, x: int, attrs: Char, cols: int, tabstops: Iterable[int],
                 keep: Optional[int] = None) -> None:
        self.text = text
        self.x = x
        self.attrs = attrs
        self.cols = cols
        self.tabstops = frozenset(tabstops)
        self.keep = keep    # only the first ``keep`` rows scrolled off (the rest was reset)


class _Block:
    __slots__ = ("rows", "raw", "nrows", "nbytes", "blank", "wrapped")

    def __init__(self, rows: Optional[List[CompactRow]], raw: Optional[RawFlood], nrows: int, nbytes: int,
                 blank: bool = False) -> None:
        self.rows = rows
        self.raw = raw
        self.nrows = nrows
        self.nbytes = nbytes
        self.blank = blank      # a run of ``nrows`` empty rows (rows and raw None)
        #: the rows that soft-wrapped: index in ``rows`` -> cells it held then
        #: (None while there is none: most blocks)
        self.wrapped: Optional[Dict[int, int]] = None


#: a scrollback row and how many cells it held when it soft-wrapped (0: it did not)
WrappedRow = Tuple[CompactRow, int]


class History:
    """Scrollback rows, oldest first, bounded to ``limit`` rows and about
    ``max_bytes`` bytes."""

    def __init__(self, limit: int, layout: Callable[[RawFlood], List[CompactRow]],
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.limit = max(0, int(limit))
        self.max_bytes = max_bytes
        self._layout = layout
        self._blocks: deque[_Block] = deque()
        self._total = 0
        self._bytes = 0
        # Absolute row numbers for a client's cache: ``pushed - len + i`` is row i's; both
        # change meaning only with ``epoch``, which is new (never reused) on every renumbering.
        self.pushed = 0
        self.epoch = next(_EPOCHS)

    def _renumber(self) -> None:
        """Rows were renumbered (cleared, reflowed, pulled back): a new epoch."""
        self.epoch = next(_EPOCHS)
        self.pushed = len(self)

    def __len__(self) -> int:
        return min(self._total, self.limit)

    @property
    def nbytes(self) -> int:
        """Estimated bytes held (the byte bound applies to this)."""
        return self._bytes

    def clear(self) -> None:
        self._blocks.clear()
        self._total = 0
        self._bytes = 0
        self._renumber()

    def push(self, row: CompactRow, wrapped: int = 0) -> None:
        """One row scrolled off (the common case, without push_rows' slicing);
        ``wrapped``: the cells it held when it soft-wrapped (0: it did not)."""
        blocks = self._blocks
        last = blocks[-1] if blocks else None
        if last is None or last.rows is None or last.nrows >= _BLOCK_ROWS or not self.limit:
            self.push_rows((row,))
            if wrapped and self.limit:
                self._mark_last(wrapped)
            return
        if wrapped:
            if last.wrapped is None:
                last.wrapped = {}
            last.wrapped[last.nrows] = wrapped
        size = row_size(row) + 8
        self.pushed += 1
        last.rows.append(row)
        last.nrows += 1
        last.nbytes += size
        self._bytes += size
        self._total += 1
        if self._total - blocks[0].nrows >= self.limit or self._bytes > self.max_bytes:
            self._trim()

    def push_rows(self, rows: Sequence[CompactRow]) -> None:
        """Rows scrolled off, oldest first (a scroll by a whole region pushes many)."""
        if not self.limit or not rows:
            return
        blocks = self._blocks
        last = blocks[-1] if blocks else None
        self.pushed += len(rows)
        i = 0
        n = len(rows)
        while i < n:
            if last is None or last.rows is None or last.nrows >= _BLOCK_ROWS:
                last = _Block([], None, 0, 64)
                blocks.append(last)
                self._bytes += 64
            take = rows[i:i + _BLOCK_ROWS - last.nrows]
            size = sum(map(row_size, take)) + 8 * len(take)
            last.rows.extend(take)  # type: ignore[union-attr]
            last.nrows += len(take)
            last.nbytes += size
            self._bytes += size
            self._total += len(take)
            i += len(take)
        if self._total - blocks[0].nrows >= self.limit or self._bytes > self.max_bytes:
            self._trim()

    def _mark_last(self, wrapped: int) -> None:
        last = self._blocks[-1]
        if last.wrapped is None:
            last.wrapped = {}
        last.wrapped[last.nrows - 1] = wrapped

    def push_wrapped(self, rows: Sequence[WrappedRow]) -> None:
        """Rows with their wrap marks, oldest first."""
        for row, wrapped in rows:
            self.push(row, wrapped)

    def pop_newest(self, n: int) -> List[WrappedRow]:
        """Take back up to ``n`` of the newest rows (oldest first): a pane that
        grows shows them again, as tmux does."""
        out: List[WrappedRow] = []
        blocks = self._blocks
        n = min(n, len(self))
        while n > 0 and blocks:
            block = blocks[-1]
            if block.raw is not None:
                self._materialise(block)
            take = min(n, block.nrows)
            if block.blank:
                out.extend([(EMPTY_ROW, 0)] * take)
            else:
                assert block.rows is not None
                first = block.nrows - take
                marks = block.wrapped or {}
                got = block.rows[first:]
                del block.rows[first:]
                size = sum(map(row_size, got)) + 8 * take
                block.nbytes -= size
                self._bytes -= size
                out.extend(reversed([(r, marks.pop(first + i, 0)) for i, r in enumerate(got)]))
            block.nrows -= take
            self._total -= take
            n -= take
            if not block.nrows:
                blocks.pop()
                self._bytes -= block.nbytes
        out.reverse()
        if out:
            self._renumber()
        return out

    def pop_wrapped_tail(self) -> List[WrappedRow]:
        """The newest rows while they soft-wrapped (their line goes on on the
        screen), taken back, oldest first."""
        blocks = self._blocks
        k = 0
        for block in reversed(blocks):
            marks = block.wrapped
            if block.rows is None or not marks:
                break
            i = block.nrows - 1
            while i >= 0 and i in marks:
                i -= 1
                k += 1
            if i >= 0:
                break
        return self.pop_newest(k) if k and k <= len(self) else []

    def reflow(self, rewrap: Callable[[List[WrappedRow], int], List[WrappedRow]],
               remeasure: Callable[[RawFlood], int]) -> None:
        """Re-wrap every laid-out row (``rewrap(rows, keep)``: a run of rows,
        oldest first, to its newest ``keep`` rows at the new width); raw floods
        are measured again (``remeasure``: its rows at the new width, which it
        now has); blank runs stay.  Newest first, and only while rows are
        kept: what the row limit would drop is never made."""
        segments: List[Union[_Block, List[WrappedRow]]] = []
        for block in self._blocks:
            if block.rows is not None and not block.blank:
                marks = block.wrapped or {}
                rows = [(r, marks.get(i, 0)) for i, r in enumerate(block.rows)]
                if segments and isinstance(segments[-1], list):
                    segments[-1].extend(rows)
                else:
                    segments.append(rows)
            else:
                segments.append(block)
        self._blocks = deque()
        self._total = self._bytes = 0
        kept: List[Union[_Block, List[WrappedRow]]] = []
        count = 0
        for seg in reversed(segments):
            if count >= self.limit:
                break
            if isinstance(seg, list):
                got = rewrap(seg, self.limit - count)
                kept.append(got)
                count += len(got)
            else:
                if seg.raw is not None and seg.raw.keep is None:
                    seg.nrows = remeasure(seg.raw)
                kept.append(seg)
                count += seg.nrows
        for seg in reversed(kept):
            if isinstance(seg, list):
                self._append_rows(seg)
            else:
                self._blocks.append(seg)
                self._total += seg.nrows
                self._bytes += seg.nbytes
        if self._blocks:
            self._trim()
        self._renumber()

    def _append_rows(self, rows: List[WrappedRow]) -> None:
        for i in range(0, len(rows), _BLOCK_ROWS):
            part = rows[i:i + _BLOCK_ROWS]
            got = [r for r, _ in part]
            size = 64 + sum(map(row_size, got)) + 8 * len(got)
            block = _Block(got, None, len(got), size)
            marks = {k: w for k, (_, w) in enumerate(part) if w}
            if marks:
                block.wrapped = marks
            self._blocks.append(block)
            self._total += len(got)
            self._bytes += size

    def push_blank(self, nrows: int) -> None:
        """``nrows`` empty rows, held as a count (a run of them is one block,
        never longer than the row limit)."""
        if not self.limit or nrows <= 0:
            return
        blocks = self._blocks
        last = blocks[-1] if blocks else None
        if last is None or not last.blank:
            last = _Block(None, None, 0, 64, blank=True)
            blocks.append(last)
            self._bytes += 64
        last.nrows += nrows
        self._total += nrows
        self.pushed += nrows
        if last.nrows > self.limit:  # rows past the limit would be hidden
            self._total -= last.nrows - self.limit
            last.nrows = self.limit
        if self._total - blocks[0].nrows >= self.limit or self._bytes > self.max_bytes:
            self._trim()

    def push_raw(self, raw: RawFlood, nrows: int) -> None:
        if not self.limit or nrows <= 0:
            return
        size = raw_size(raw, nrows)
        self.pushed += nrows
        self._blocks.append(_Block(None, raw, nrows, size))
        self._total += nrows
        self._bytes += size
        self._trim()

    def _trim(self) -> None:
        """Drop whole blocks from the front: those past the row limit, then
        the oldest while over the byte bound (the newest block stays)."""
        blocks = self._blocks
        while len(blocks) > 1 and (self._total - blocks[0].nrows >= self.limit or self._bytes > self.max_bytes):
            block = blocks.popleft()
            self._total -= block.nrows
            self._bytes -= block.nbytes

    def row(self, i: int) -> CompactRow:
        """Row ``i`` of the visible history, 0 being the oldest."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        i += self._total - n
        for block in self._blocks:
            if i < block.nrows:
                if block.blank:
                    return EMPTY_ROW
                if block.rows is None:
                    self._materialise(block)
                assert block.rows is not None
                return block.rows[i]
            i -= block.nrows
        raise IndexError(i)  # pragma: no cover - totals are kept consistent

    def _materialise(self, block: _Block) -> None:
        assert block.raw is not None
        rows = self._layout(block.raw)
        if len(rows) < block.nrows:  # never expected: keep indices stable
            rows = rows + [EMPTY_ROW] * (block.nrows - len(rows))
        elif len(rows) > block.nrows:
            rows = rows[len(rows) - block.nrows:]
        block.rows = rows
        block.raw = None

    def raw_blocks(self) -> int:
        return sum(1 for b in self._blocks if b.raw is not None)
