"""Terminal emulation for panes: guest bytes in, screen and scrollback out.

Public API: :class:`TerminalModel` (see its docstring), :class:`CursorState`,
:class:`Match`, and ``Cell`` (pyte's ``Char``).
"""
from .model import Cell, CursorState, Match, TerminalModel

__all__ = ["TerminalModel", "CursorState", "Cell", "Match"]
