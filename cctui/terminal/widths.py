"""Character widths: how many cells each character takes, looked up in bulk.

pyte's ``wcwidth`` decides (-1: unprintable, 0: zero-width, 1, 2: wide);
the tables here turn a whole string into width classes with one
``str.translate`` each, so that runs are measured and checked at C speed.
Every table is bounded (a guest picks the characters).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, List, Tuple

from .bounded import BoundedDict
from .pyte_compat import wcwidth

#: a cell holds a base character and up to 3 combining marks (xterm and tmux
#: bound them too: a flood of marks must stay linear)
MAX_CELL_CHARS = 4


class ByWidthTable(BoundedDict):
    """A bounded ``str.translate`` table filled on demand: each character
    becomes ``by_width[wcwidth]`` (-1, 0, 1 or 2); the ``kept`` code points
    stay as they are."""

    __slots__ = ("_by_width", "_kept")

    def __init__(self, max_entries: int, by_width: Dict[int, str], kept: Tuple[int, ...] = ()) -> None:
        super().__init__(max_entries)
        self._by_width = by_width
        self._kept = kept

    def __missing__(self, cp: int) -> str:
        val = chr(cp) if cp in self._kept else self._by_width[wcwidth(chr(cp))]
        self[cp] = val
        return val


#: Each character as as many 'x' as it is wide.
WIDTHS = ByWidthTable(16384, {-1: "", 0: "", 1: "x", 2: "xx"})
#: One-cell characters deleted; a zero-width one becomes 'z', any other 'x'.
NOT_NARROW = ByWidthTable(16384, {-1: "x", 0: "z", 1: "", 2: "x"})
#: For :func:`~cctui.terminal.flood.simulate`: one-cell 'a', wide \x01, any
#: other (zero-width, unprintable: the cursor stays) \x00; BS, TAB, LF and CR stay.
CELL_CLASS = ByWidthTable(16384, {-1: "\x00", 0: "\x00", 1: "a", 2: "\x01"}, kept=(8, 9, 10, 13))
#: character -> wcwidth, for drawing character by character
CHAR_WIDTHS: Dict[str, int] = BoundedDict(16384)


def narrow(text: str) -> bool:
    """Every character of ``text`` takes exactly one cell (no control in it)."""
    # (a total width equal to the length is not enough: a mark and a wide
    # character add up to two cells)
    return text.isascii() or max(text) < "\u0300" or not text.translate(NOT_NARROW)


# Combining marks past the first KEPT_MARKS of a run cannot change anything:
# a mark joins the cell before the cursor only while that cell holds fewer
# than MAX_CELL_CHARS characters, and every mark that joins adds at least one
# character to the cell's canonical decomposition, which is at most 4 per
# character (so at most 12 before the cell is full).  Longer runs are cut
# before drawing (a run of marks is the same cell's business throughout:
# marks take no room).  The pattern is built when first needed, from the
# marks below U+1F000 (all of them as of Unicode 15; one left out is only
# not cut).
KEPT_MARKS = 16
#: what a run of more than :data:`KEPT_MARKS` marks looks like through :data:`NOT_NARROW`
ZERO_RUN = "z" * (KEPT_MARKS + 1)
_mark_run: List[Any] = []


def cut_mark_runs(text: str) -> str:
    """``text`` with every run of combining marks cut to :data:`KEPT_MARKS`."""
    if not _mark_run:
        combining = unicodedata.combining
        marks = [cp for cp in range(0x300, 0x1F000) if combining(chr(cp))]
        ranges = []
        first = last = marks[0]
        for cp in marks[1:]:
            if cp != last + 1:
                ranges.append((first, last))
                first = cp
            last = cp
        ranges.append((first, last))
        cls = "".join("%s-%s" % (re.escape(chr(a)), re.escape(chr(b))) for a, b in ranges)
        _mark_run.append(re.compile("([%s]{%d})[%s]+" % (cls, KEPT_MARKS, cls)))
    cut: str = _mark_run[0].sub(r"\1", text)
    return cut


__all__ = ["MAX_CELL_CHARS", "ByWidthTable", "WIDTHS", "NOT_NARROW", "CELL_CLASS", "CHAR_WIDTHS", "narrow",
           "KEPT_MARKS", "ZERO_RUN", "cut_mark_runs", "wcwidth"]
