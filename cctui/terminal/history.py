"""Bounded scrollback that stores scrolled-off rows compactly.

Two kinds of block live in one deque, oldest first:

* laid-out blocks: up to ``_BLOCK_ROWS`` compact rows each.  A compact row is
  ``(chars, runs)``: ``chars`` is a ``str`` with one character per cell (or a
  tuple of cell strings when a row holds wide-character stubs or combining
  marks), trailing blank cells dropped; ``runs`` is a tuple of
  ``(start_column, attrs)`` where ``attrs`` is the interned tail of a pyte
  ``Char`` (everything but ``data``).
* raw blocks: the text of a flood that scrolled off before it was ever on
  screen, kept as the decoded characters plus the cursor column, attributes,
  width and tab stops it started with.  It is laid out (by the same engine)
  only when somebody looks at it: most floods are never scrolled back to.

The bound is enforced in rows.  Whole blocks are dropped from the front, so
up to one block more than the limit may be held; the excess rows are hidden.
"""
from __future__ import annotations

from collections import deque
from itertools import groupby
from operator import itemgetter
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

from pyte.screens import Char

CompactRow = Tuple[Union[str, Tuple[str, ...]], tuple]

_BLOCK_ROWS = 256
BLANK = Char(" ")
_BLANK_ATTRS = BLANK[1:]
EMPTY_ROW: CompactRow = ("", ())

_interned: dict = {}


def _intern(attrs: tuple) -> tuple:
    got = _interned.get(attrs)
    if got is None:
        if len(_interned) > 65536:
            _interned.clear()
        _interned[attrs] = got = attrs
    return got


_data_of = itemgetter(0)
_attrs_of = itemgetter(slice(1, None))


def compact_row(row: Optional[dict], cols: int) -> CompactRow:
    """Pack one screen row (pyte's ``{x: Char}`` mapping) into a compact row."""
    if not row:
        return EMPTY_ROW
    dflt = getattr(row, "default", BLANK)
    n = len(row)
    if n <= cols and list(row) == list(range(n)):
        cells = list(row.values())  # drawn left to right: the common case
    else:
        get = row.get
        cells = [get(x, dflt) for x in range(min(cols, max(row) + 1))]
    while cells and cells[-1] == dflt:
        cells.pop()
    if not cells:
        return EMPTY_ROW
    datas = list(map(_data_of, cells))
    text = "".join(datas)
    chars: Union[str, Tuple[str, ...]] = text if len(text) == len(cells) else tuple(datas)
    runs: list = []
    pos = 0
    for attrs, group in groupby(map(_attrs_of, cells)):
        runs.append(pos)
        runs.append(_intern(attrs))
        pos += len(list(group))
    return chars, tuple(runs)


_cell_cache: dict = {}


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
            if len(_cell_cache) > 4096:
                _cell_cache.clear()
            cmap = _cell_cache[attrs] = {}
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

    __slots__ = ("text", "x", "attrs", "cols", "tabstops")

    def __init__(self, text: str, x: int, attrs: Char, cols: int, tabstops: Iterable[int]) -> None:
        self.text = text
        self.x = x
        self.attrs = attrs
        self.cols = cols
        self.tabstops = frozenset(tabstops)


class _Block:
    __slots__ = ("rows", "raw", "nrows")

    def __init__(self, rows: Optional[List[CompactRow]], raw: Optional[RawFlood], nrows: int) -> None:
        self.rows = rows
        self.raw = raw
        self.nrows = nrows


class History:
    """Scrollback rows, oldest first, bounded to ``limit`` rows."""

    def __init__(self, limit: int, layout: Callable[[RawFlood], List[CompactRow]]) -> None:
        self.limit = max(0, int(limit))
        self._layout = layout
        self._blocks: deque[_Block] = deque()
        self._total = 0

    def __len__(self) -> int:
        return min(self._total, self.limit)

    def clear(self) -> None:
        self._blocks.clear()
        self._total = 0

    def push(self, row: CompactRow) -> None:
        if not self.limit:
            return
        blocks = self._blocks
        last = blocks[-1] if blocks else None
        if last is not None and last.rows is not None and last.nrows < _BLOCK_ROWS:
            last.rows.append(row)
            last.nrows += 1
        else:
            blocks.append(_Block([row], None, 1))
        self._total += 1
        if self._total > self.limit:
            self._trim()

    def push_raw(self, raw: RawFlood, nrows: int) -> None:
        if not self.limit or nrows <= 0:
            return
        self._blocks.append(_Block(None, raw, nrows))
        self._total += nrows
        if self._total > self.limit:
            self._trim()

    def _trim(self) -> None:
        blocks = self._blocks
        while blocks and self._total - blocks[0].nrows >= self.limit:
            self._total -= blocks.popleft().nrows
        excess = self._total - self.limit
        if excess > 0 and blocks and blocks[0].rows is not None:
            del blocks[0].rows[:excess]
            blocks[0].nrows -= excess
            self._total -= excess

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
                if block.rows is None:
                    self._materialise(block)
                assert block.rows is not None
                return block.rows[i]
            i -= block.nrows
        raise IndexError(i)  # pragma: no cover - totals are kept consistent

    def rows(self) -> Sequence[CompactRow]:
        """Every visible history row (lays out any raw block)."""
        return [self.row(i) for i in range(len(self))]

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
        return sum(1 for b in self._blocks if b.rows is None)
