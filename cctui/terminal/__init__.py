"""Terminal emulation for panes: guest bytes in, screen and scrollback out.

Public API: :class:`TerminalModel` (see its docstring), :class:`CursorState`,
:class:`Match`, and ``Cell`` (pyte's ``Char``).

Inside, one job a module, each importing (at run time) only those above it:

* ``pyte_compat``: everything taken from pyte (the only module importing it)
* ``bounded``: the bounded dict every cache is
* ``modes``: DECSET numbers and mode flags
* ``sequences``: the tokenizer's grammar, limits, pure helpers over text
* ``widths``: character widths in bulk
* ``dispatch``: op codes, the named tables of handlers, the decoder
* ``cells``: cached cells per attribute set
* ``replies``: the bounded reply queue
* ``history``: the scrollback
* ``flood``: finding and measuring a flood stretch to skip (pure)
* ``reflow``: soft-wrapped rows joined into lines and cut at a new width (pure)
* ``screen``: every screen operation (pyte's ``Screen`` with ours)
* ``hotloop``: the hot loop, one window of text at a time
* ``engine``: the emulator: feeding, windows, flood skips (and how it differs from pyte)
* ``search``, ``model``: the pane's view
"""
from .model import Cell, CursorState, Match, TerminalModel

__all__ = ["TerminalModel", "CursorState", "Cell", "Match"]
