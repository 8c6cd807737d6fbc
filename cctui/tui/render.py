"""Terminal cells -> Rich segments, with colours through the theme's palette.

Cells are pyte ``Char`` tuples: (data, fg, bg, bold, italics, underscore,
strikethrough, reverse, blink). pyte names the 16 ANSI colours ("red",
"brightred", "brown" for yellow) and turns 256-colour and truecolor into
``rrggbb`` strings; the first 16 of those are mapped back to the palette so a
theme recolours ``38;5;1`` the same as ``31``.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from ..terminal.bounded import BoundedDict
from .themes import XTERM_16, TerminalColors

_NAMES = ["black", "red", "green", "brown", "blue", "magenta", "cyan", "white"]
NAME_TO_INDEX: Dict[str, int] = {}
for _i, _n in enumerate(_NAMES):
    NAME_TO_INDEX[_n] = _i
    NAME_TO_INDEX["bright" + _n] = _i + 8
NAME_TO_INDEX["yellow"] = 3
NAME_TO_INDEX["brightyellow"] = 11
HEX16_TO_INDEX = {h.lstrip("#"): i for i, h in enumerate(XTERM_16)}
STYLE_CACHE_SIZE = 4096     # attribute combinations a Painter keeps styles for


def xterm_256(index: int) -> str:
    """The standard xterm colour for 16..255 as #rrggbb."""
    if index < 232:
        index -= 16
        levels = [0, 95, 135, 175, 215, 255]
        r, g, b = levels[index // 36], levels[(index // 6) % 6], levels[index % 6]
    else:
        r = g = b = 8 + (index - 232) * 10
    return f"#{r:02x}{g:02x}{b:02x}"


class Painter:
    """Maps cell attributes to Rich styles for one theme; cached per attribute tuple."""

    def __init__(self, colours: TerminalColors) -> None:
        self.colours = colours
        self._palette = [Color.parse(c) for c in colours.palette]
        self._fg = Color.parse(colours.foreground)
        self._bg = Color.parse(colours.background)
        self.cursor = Color.parse(colours.cursor)
        self.selection = Color.parse(colours.selection)
        # Keyed by attribute combinations the guest chooses: bounded. BoundedDict (not
        # textual.cache.LRUCache) because style() runs for every cell of a redrawn row
        # and its hits are plain dict.get calls (~57 ns here, LRUCache.get ~290 ns).
        self._cache: Dict[tuple, Style] = BoundedDict(STYLE_CACHE_SIZE)
        self.default_style = Style(color=self._fg, bgcolor=self._bg)

    def colour(self, value: object, default: Color) -> Color:
        if isinstance(value, int):
            if 0 <= value < 16:
                return self._palette[value]
            return Color.parse(xterm_256(value)) if 16 <= value < 256 else default
        if not value or value == "default":
            return default
        text = str(value).lower()
        index = NAME_TO_INDEX.get(text)
        if index is None:
            index = HEX16_TO_INDEX.get(text.lstrip("#"))
        if index is not None:
            return self._palette[index]
        try:
            return Color.parse(text if text.startswith("#") else "#" + text)
        except Exception:
            return default

    def style(self, attrs: tuple, extra: str = "") -> Style:
        """attrs: (fg, bg, bold, italics, underscore, strikethrough, reverse, blink)."""
        key = (attrs, extra)
        got = self._cache.get(key)
        if got is not None:
            return got
        fg_v, bg_v = attrs[0], attrs[1]
        bold, italic, underline, strike, reverse = (bool(a) for a in attrs[2:7])
        blink = bool(attrs[7]) if len(attrs) > 7 else False
        fg = self.colour(fg_v, self._fg)
        bg = self.colour(bg_v, self._bg)
        if reverse:
            fg, bg = bg, fg
        if extra == "cursor":
            fg, bg = self._bg, self.cursor
        elif extra == "selection":
            bg = self.selection
        elif extra == "match":
            fg, bg = self._bg, self._palette[3]
        got = Style(color=fg, bgcolor=bg, bold=bold or None, italic=italic or None,
                    underline=underline or None, strike=strike or None, blink=blink or None)
        self._cache[key] = got
        return got


Marks = Optional[List[Tuple[int, int, str]]]   # (start col, end col exclusive, kind)


def row_strip(cells: Sequence[tuple], width: int, painter: Painter, marks: Marks = None) -> Strip:
    """One terminal row as a Strip exactly ``width`` cells wide.

    ``marks`` paints the cursor, a selection or search matches over the row.
    Wide characters occupy their cell and pyte's empty stub cell after it is skipped.
    """
    segments: List[Segment] = []
    text: List[str] = []
    run_style: Optional[Style] = None
    mark_at: Dict[int, str] = {}
    if marks:
        for start, end, kind in marks:
            for x in range(max(0, start), min(end, width)):
                if kind == "cursor" or x not in mark_at:
                    mark_at[x] = kind
    blank_attrs = ("default", "default", False, False, False, False, False, False)
    for x in range(width):
        cell = cells[x] if x < len(cells) else None
        if cell is None:
            data, attrs = " ", blank_attrs
        else:
            data, attrs = cell[0], tuple(cell[1:])
            if data == "":
                continue  # the right half of a wide character
        style = painter.style(attrs, mark_at.get(x, ""))
        if style is not run_style:
            if text:
                segments.append(Segment("".join(text), run_style))
                text = []
            run_style = style
        text.append(data if data and data.isprintable() else " ")
    if text:
        segments.append(Segment("".join(text), run_style))
    return Strip(segments).adjust_cell_length(width, painter.default_style)
