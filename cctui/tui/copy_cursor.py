"""Copy mode's keyboard cursor: tmux's vi-style moves over scrollback and screen.

Rows are numbered as the pane numbers them (0 = oldest scrollback row, the
screen's rows after the scrollback's); ``text_of(row)`` gives a row's text. The
cursor knows nothing of widgets, so its moves are tested on their own.
"""
from __future__ import annotations

from typing import Callable, Tuple

Point = Tuple[int, int]     # (row, column)


class CopyCursor:
    def __init__(self, row: int, col: int, rows: int, width: int,
                 text_of: Callable[[int], str]) -> None:
        self.rows = max(1, rows)
        self.width = max(1, width)
        self._text_of = text_of
        self.row = min(max(0, row), self.rows - 1)
        self.col = min(max(0, col), self.width - 1)

    @property
    def point(self) -> Point:
        return self.row, self.col

    def move(self, key: str, page: int) -> bool:
        """Apply one copy-mode key; False if it is not a move."""
        half = max(1, page // 2)
        vertical = {"up": -1, "k": -1, "down": 1, "j": 1, "pageup": -page, "ctrl+b": -page,
                    "pagedown": page, "ctrl+f": page, "ctrl+u": -half, "ctrl+d": half}
        if key in vertical:
            self._to(self.row + vertical[key], self.col)
        elif key in ("left", "h"):
            self._to(self.row, self.col - 1)
        elif key in ("right", "l"):
            self._to(self.row, self.col + 1)
        elif key in ("0", "home"):
            self._to(self.row, 0)
        elif key in ("$", "dollar_sign", "end"):
            self._to(self.row, max(0, len(self._text(self.row)) - 1))
        elif key in ("^", "circumflex_accent"):
            text = self._text(self.row)
            self._to(self.row, len(text) - len(text.lstrip()))
        elif key == "g":
            self._to(0, 0)
        elif key in ("G", "shift+g"):
            self._to(self.rows - 1, 0)
        elif key == "w":
            self._next_word()
        elif key == "b":
            self._previous_word()
        elif key == "e":
            self._word_end()
        else:
            return False
        return True

    def _text(self, row: int) -> str:
        return self._text_of(row)[: self.width].rstrip()

    def _to(self, row: int, col: int) -> None:
        self.row = min(max(0, row), self.rows - 1)
        self.col = min(max(0, col), self.width - 1)

    def _next_word(self) -> None:
        """The start of the next word, on this row or a later one."""
        row, col = self.row, self.col
        text = self._text(row)
        i = col
        while i < len(text) and not text[i].isspace():
            i += 1
        while i < len(text) and text[i].isspace():
            i += 1
        while i >= len(text) and row + 1 < self.rows:
            row += 1
            text = self._text(row)
            i = len(text) - len(text.lstrip()) if text else 0
            if text:
                break
        self._to(row, min(i, max(0, len(text) - 1)) if text else 0)

    def _previous_word(self) -> None:
        """The start of this word, or of the one before (on an earlier row if need be)."""
        row = self.row
        text = self._text(row)
        i = min(self.col, len(text))
        while True:
            while i > 0 and text[i - 1].isspace():
                i -= 1
            if i > 0 or row == 0:
                break
            row -= 1
            text = self._text(row)
            i = len(text)
        while i > 0 and not text[i - 1].isspace():
            i -= 1
        self._to(row, i)

    def _word_end(self) -> None:
        """The last character of this word, or of the next one (on a later row if need be)."""
        row, i = self.row, self.col + 1
        text = self._text(row)
        while True:
            while i < len(text) and text[i].isspace():
                i += 1
            if i < len(text) or row + 1 >= self.rows:
                break
            row, i = row + 1, 0
            text = self._text(row)
        while i + 1 < len(text) and not text[i + 1].isspace():
            i += 1
        self._to(row, min(i, max(0, len(text) - 1)))
