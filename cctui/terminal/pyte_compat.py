"""Everything the terminal package takes from pyte, and the only module that imports it.

pyte gives the screen state (:class:`Screen`: ``buffer``, ``cursor``, ``mode``,
``margins``, ``tabstops``, ``savepoints``, ``dirty``, ``title``, ``lines``,
``columns``) and the screen operations that are not on a hot path.  The
parser is our own: nothing uses pyte's ``Stream`` (neither its dispatch nor
its private ``_send_to_parser`` / ``_initialize_parser`` machinery).

Past pyte's documented API the package relies on these details of pyte 0.8,
checked when this module is imported, so that a pyte that changed one fails
at once instead of drawing wrong:

* ``Char`` is a namedtuple whose first field is ``data``: cells are built
  with ``tuple.__new__`` (:data:`new_char`), without the keyword handling.
* buffer rows are ``StaticDefaultDict``: a missing column reads as the row's
  ``default`` attribute (the blank cell of that row; :data:`row_default`).
* private modes are kept in ``mode`` shifted left by 5 (:func:`private_mode`).
* ``Screen.select_graphic_rendition`` works on ``cursor.attrs`` (the SGR cache
  runs it with other attributes swapped in, see ``Screen._apply_sgr``).
* ``FG_BG_256`` is pyte's 256-colour palette (the SGR fast path uses it) and
  ``wcwidth`` the width function pyte draws with.
"""
from __future__ import annotations

from collections import defaultdict
from operator import attrgetter
from typing import Any, Callable

import pyte
from pyte import modes
from pyte.graphics import FG_BG_256
from pyte.screens import Char, Margins, StaticDefaultDict, wcwidth

#: pyte's screen: the base class of :class:`cctui.terminal.screen.Screen`.
PyteScreen = pyte.Screen

#: ``new_char(Char, (data, fg, bg, ...))``: a cell without ``Char``'s keyword
#: handling (fields in order; ~3x faster than ``attrs._replace(data=...)``).
new_char = tuple.__new__

# pyte's own mode flags (non-private ones as numbers, private ones shifted)
IRM = modes.IRM          #: insert mode (``CSI 4 h``)
LNM = modes.LNM          #: line feed also returns the carriage (``CSI 20 h``)
DECOM = modes.DECOM      #: origin mode: rows count from the top margin
DECAWM = modes.DECAWM    #: autowrap at the right margin
DECSCNM = modes.DECSCNM  #: reverse video (the whole screen)


def private_mode(number: int) -> int:
    """The flag of DECSET ``number`` as pyte keeps it in ``Screen.mode``."""
    return number << 5


def new_buffer(default_char: Callable[[], Char]) -> Any:
    """An empty screen buffer: rows made on first use, as pyte's own are."""
    return defaultdict(lambda: StaticDefaultDict[int, Char](default_char()))


#: ``row_default(row)``: the cell a buffer row reads where it holds none
row_default: Callable[[Any], Char] = attrgetter("default")


def _check() -> None:
    blank = Char(" ")
    if Char._fields[0] != "data" or new_char(Char, ("x",) + blank[1:]) != Char("x"):
        raise ImportError("pyte's Char is no longer a namedtuple starting with 'data'")
    row = StaticDefaultDict[int, Char](blank)
    if row[5] is not blank or row_default(row) is not blank or row:
        raise ImportError("pyte's StaticDefaultDict no longer reads missing keys as .default")
    if modes.DECOM != private_mode(6) or modes.DECTCEM != private_mode(25):
        raise ImportError("pyte no longer keeps private modes shifted left by 5")
    if len(FG_BG_256) != 256:
        raise ImportError("pyte's FG_BG_256 is no longer the 256-colour palette")


_check()

__all__ = ["PyteScreen", "Char", "Margins", "StaticDefaultDict", "wcwidth", "FG_BG_256", "new_char",
           "new_buffer", "row_default", "private_mode", "IRM", "LNM", "DECOM", "DECAWM", "DECSCNM"]
