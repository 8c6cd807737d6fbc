"""Reflow: rows that soft-wrapped joined into lines and cut again at a new width.

A row remembers that autowrap moved on from it (tmux's ``GRID_LINE_WRAPPED``):
on a screen row as the attribute ``wrapped``, in the scrollback beside the
row; either way as the number of cells the row held then (the width, or one
less where a wide character did not fit).  Pure functions over lists of
cells: :func:`screen_row_cells` / :func:`history_row_cells` read a row's
cells, :func:`join_lines` joins rows into lines, :func:`wrap_line` cuts a
line at a width, :func:`locate` finds a cursor's place again.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from .history import BLANK, BLANK_ATTRS, EMPTY_ROW, CompactRow, expand_row

#: a row for reflowing: its cells and how many of them it held when autowrap
#: moved on (0: the line ends there)
Row = Tuple[List[Any], int]


def wrapped_of(row: Any) -> int:
    """How many cells a screen row held when it soft-wrapped (0: it did not)."""
    return getattr(row, "wrapped", 0) if row is not None else 0


def set_wrapped(row: Any, cells: int) -> None:
    """Mark a screen row: autowrap moved on from it, holding ``cells`` cells."""
    row.wrapped = cells


def screen_row_cells(row: Optional[Dict[int, Any]], wrapped: int) -> List[Any]:
    """The cells of a screen row that belong to its line: up to where it
    wrapped, else up to its last cell that is not blank."""
    if not row:
        return [BLANK] * wrapped
    dflt = getattr(row, "default", BLANK)
    if wrapped:
        end = wrapped
    else:
        end = max(row) + 1
        while end and row.get(end - 1, dflt) == dflt:
            end -= 1
    return [row.get(x, dflt) for x in range(end)]


def history_row_cells(row: CompactRow, wrapped: int) -> List[Any]:
    """The cells of a scrollback row that belong to its line (its trailing
    blanks were dropped: a wrapped row gets them back)."""
    n = len(row[0])
    return expand_row(row, max(n, wrapped))


def join_lines(rows: Sequence[Row]) -> List[Tuple[List[Any], List[int]]]:
    """Rows joined where they wrapped: each line's cells, and where each of
    its rows started in them."""
    lines: List[Tuple[List[Any], List[int]]] = []
    cells: List[Any] = []
    starts: List[int] = []
    for row_cells, wrapped in rows:
        starts.append(len(cells))
        cells.extend(row_cells)
        if not wrapped:
            lines.append((cells, starts))
            cells, starts = [], []
    if starts:
        lines.append((cells, starts))
    return lines


def _cut_end(chars: Sequence[Any], pos: int, width: int) -> int:
    """Where the row of ``width`` starting at ``pos`` ends (a line longer
    than that): a wide character cut in two (its stub would start the next
    row) wraps whole.  ``chars``: cells or their characters (a stub's is "")."""
    end = pos + width
    if chars[end][0:1] == "" and end - 1 > pos and chars[end - 1][0:1] != "":
        end -= 1
    return end


def _skip_rows(chars: Sequence[Any], width: int, keep: int) -> int:
    """Where the last ``keep`` rows of a line cut at ``width`` start (a walk:
    nothing is made for the rows before)."""
    total = len(chars)
    nrows = 1
    pos = 0
    while total - pos > width:
        pos = _cut_end(chars, pos, width)
        nrows += 1
    pos = 0
    for _ in range(nrows - keep):
        pos = _cut_end(chars, pos, width)
    return pos


def wrap_line(cells: List[Any], width: int, keep: int = 1 << 62) -> Tuple[List[Row], int]:
    """A line cut into rows of ``width``: its last ``keep`` rows, and the
    cell the first of them starts at.  A wide character that does not fit
    wraps whole (the row keeps one column less); every row but the last is
    marked wrapped with the cells it holds."""
    rows: List[Row] = []
    n = len(cells)
    datas = [c[0] for c in cells]
    start = first = _skip_rows(datas, width, keep) if n > keep * width else 0
    while n - start > width:
        end = _cut_end(datas, start, width)
        rows.append((cells[start:end], end - start))
        start = end
    rows.append((cells[start:], 0))
    return rows, first


def locate(rows: Sequence[Row], offset: int, width: int) -> Tuple[int, int]:
    """The row (index in ``rows``, a line's rows) and column of the cell at
    ``offset`` in the line; past the end of the line: on its last row, the
    same distance past its text (at most the last column)."""
    k = 0
    last = len(rows) - 1
    while k < last and offset >= rows[k][1]:
        offset -= rows[k][1]
        k += 1
    if offset >= width:
        offset = width if (offset == width and len(rows[k][0]) == width) else width - 1
    return k, offset


def rewrap_history(rows: List[Tuple[CompactRow, int]], width: int, keep: int) -> List[Tuple[CompactRow, int]]:
    """The newest ``keep`` rows of scrollback rows (with their wrap marks)
    re-wrapped at ``width`` (older ones would be dropped: they are never
    made, so a long line cut narrow costs no memory past the limit).  Works
    on the compact rows themselves (characters and attribute runs: no cells
    are made); a line that neither wrapped nor is too wide is kept as it is."""
    n = len(rows)
    ends = [i + 1 for i, (_, wrapped) in enumerate(rows) if not wrapped]
    if not ends or ends[-1] != n:
        ends.append(n)
    parts: List[List[Tuple[CompactRow, int]]] = []
    count = 0
    for k in range(len(ends) - 1, -1, -1):
        if count >= keep:
            break
        a = ends[k - 1] if k else 0
        b = ends[k]
        row, wrapped = rows[a]
        if b - a == 1 and not wrapped and len(row[0]) <= width:
            parts.append([(row, 0)])
            count += 1
        else:
            part = _rewrap_line(rows[a:b], width, keep - count)
            parts.append(part)
            count += len(part)
    out = [r for part in reversed(parts) for r in part]
    return out[len(out) - keep:] if len(out) > keep else out


def _rewrap_line(rows: List[Tuple[CompactRow, int]], width: int, keep: int) -> List[Tuple[CompactRow, int]]:
    """One line's rows joined and cut at ``width``: its last ``keep`` rows."""
    chars: List[str] = []
    starts: List[int] = []
    attrs: List[Tuple[Any, ...]] = []
    for row, wrapped in rows:
        base = len(chars)
        text, runs = row
        chars.extend(text)
        starts.extend([base + p for p in runs[0::2]])
        attrs.extend(runs[1::2])
        if wrapped > len(text):        # its trailing blanks were dropped
            starts.append(len(chars))
            attrs.append(BLANK_ATTRS)
            chars.extend(" " * (wrapped - len(text)))
    total = len(chars)
    pos = _skip_rows(chars, width, keep) if total > keep * width else 0
    out: List[Tuple[CompactRow, int]] = []
    nruns = len(starts)
    r = 0
    while True:
        last = total - pos <= width
        end = total if last else _cut_end(chars, pos, width)
        while r + 1 < nruns and starts[r + 1] <= pos:
            r += 1
        cut: List[Any] = []
        k = r
        while k < nruns and starts[k] < end:
            cut.append(max(starts[k], pos) - pos)
            cut.append(attrs[k])
            k += 1
        seg = chars[pos:end]
        joined = "".join(seg)
        cells: Any = joined if len(joined) == len(seg) and "" not in seg else tuple(seg)
        out.append(((cells, tuple(cut)) if seg else EMPTY_ROW, 0 if last else end - pos))
        if last:
            return out
        pos = end
