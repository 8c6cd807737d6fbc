"""``capture-pane``: a pane's screen and scrollback as text, as tmux prints it.

Lines are numbered as tmux numbers them: 0 is the top screen row, -1 the newest
scrollback row, ``-history_len`` the oldest. Trailing blanks are trimmed; with
``escapes`` each run of attributes starts with its SGR sequence (colours named
by the emulator become 30-37/90-97, others 38;2 truecolor).
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Sequence

from pyte.graphics import BG_AIXTERM, BG_ANSI, FG_AIXTERM, FG_ANSI

from ..terminal import TerminalModel

_FG: Dict[str, int] = {name: code for code, name in {**FG_ANSI, **FG_AIXTERM}.items() if name != "default"}
_BG: Dict[str, int] = {name: code for code, name in {**BG_ANSI, **BG_AIXTERM}.items() if name != "default"}


def line_range(model: TerminalModel, start: Optional[int], end: Optional[int]) -> range:
    """tmux's -S/-E: None is the screen's top / bottom; clamped to what exists."""
    first = -model.history_len
    last = model.rows - 1
    lo = 0 if start is None else max(first, min(start, last))
    hi = last if end is None else max(first, min(end, last))
    return range(lo, hi + 1)


def capture(model: TerminalModel, start: Optional[int] = None, end: Optional[int] = None,
            escapes: bool = False) -> str:
    """The lines from ``start`` to ``end`` (inclusive), each ending in a newline."""
    return "".join(capture_lines(model, start, end, escapes))


def capture_lines(model: TerminalModel, start: Optional[int] = None, end: Optional[int] = None,
                  escapes: bool = False) -> Iterator[str]:
    """capture() a line at a time: a 10 000-line capture is sent as it is made."""
    history = model.history_len
    for n in line_range(model, start, end):
        cells = model.history_line(history + n) if n < 0 else model.line(n)
        yield _row(cells, escapes) + "\n"


def _row(cells: Sequence[tuple], escapes: bool) -> str:
    cells = [c for c in cells if c[0] != ""]        # skip the right halves of wide characters
    if not escapes:
        return "".join(c[0] if c[0].isprintable() else " " for c in cells).rstrip(" ")
    last = len(cells)
    while last and cells[last - 1][0] == " " and not _visible_blank(cells[last - 1]):
        last -= 1
    parts: List[str] = []
    current: tuple = _DEFAULT
    for cell in cells[:last]:
        attrs = tuple(cell[1:9])
        if attrs != current:
            parts.append(sgr(attrs))
            current = attrs
        parts.append(cell[0] if cell[0].isprintable() else " ")
    if current != _DEFAULT:
        parts.append("\x1b[0m")
    return "".join(parts)


_DEFAULT = ("default", "default", False, False, False, False, False, False)


def _visible_blank(cell: tuple) -> bool:
    """A blank with a background (or reversed, or underlined) shows: keep it."""
    return cell[2] != "default" or bool(cell[7]) or bool(cell[5])


def sgr(attrs: tuple) -> str:
    """One cell's attributes (fg, bg, bold, italics, underscore, strike, reverse, blink) as SGR."""
    fg, bg, bold, italics, underscore, strike, reverse, blink = attrs[:8]
    codes = ["0"]
    if bold:
        codes.append("1")
    if italics:
        codes.append("3")
    if underscore:
        codes.append("4")
    if blink:
        codes.append("5")
    if reverse:
        codes.append("7")
    if strike:
        codes.append("9")
    codes.extend(_colour(fg, _FG, "38"))
    codes.extend(_colour(bg, _BG, "48"))
    return "\x1b[" + ";".join(codes) + "m"


def _colour(value: str, named: Dict[str, int], extended: str) -> List[str]:
    if value == "default" or not value:
        return []
    code = named.get(value)
    if code is not None:
        return [str(code)]
    if len(value) == 6:
        try:
            r, g, b = int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
        except ValueError:
            return []
        return [extended, "2", str(r), str(g), str(b)]
    return []
