"""``TerminalModel``: what a pane widget reads to draw one guest terminal.

The emulation is :class:`~cctui.terminal.engine.Emulator` (pyte's screen
state, our own parser); how it differs from pyte on purpose is listed in
:mod:`cctui.terminal.engine`.
"""
from __future__ import annotations

import codecs
import re
from typing import Callable, List, NamedTuple, Optional, Set

from . import modes
from .engine import Emulator, layout_raw
from .history import DEFAULT_MAX_BYTES, History, expand_row, row_text
from .pyte_compat import Char, row_default
from .search import find_in_row

# feed() keeps up to this many bytes before emulating them (reads flush first):
# a flood is then laid out once per frame instead of once per read() chunk.
_COALESCE_LIMIT = 1 << 20
# A query in the data is answered at once (split across feeds: at the next flush).
_QUERY = re.compile(rb"\x1b\[[0-9>]*[cn]")

Cell = Char
"""One screen cell: pyte's ``Char`` (data, fg, bg, bold, italics, underscore,
strikethrough, reverse, blink).  A wide character occupies its cell and the
next one; that second cell is a stub whose ``data`` is ``""`` (skip it when
drawing)."""


class CursorState(NamedTuple):
    x: int          # 0-based column, always < cols
    y: int          # 0-based row
    hidden: bool    # DECTCEM reset (``CSI ? 25 l``)


class Match(NamedTuple):
    """A search hit in the combined row space (see :meth:`TerminalModel.search`)."""
    row: int
    start: int      # first column of the hit
    end: int        # column after the hit


class TerminalModel:
    """Emulates one terminal: guest bytes in, screen + scrollback out.

    ``on_reply`` receives the bytes the terminal itself sends back to the guest
    (answers to DA and DSR/CPR queries only, all fixed formats).  Titles and
    clipboard writes (OSC 0/1/2/52...) are swallowed: :attr:`title` keeps the
    last title for the app to show (at most 256 characters, no controls);
    nothing reaches the host terminal.

    The guest is untrusted: every input is emulated in time linear in its
    size, and memory is bounded: the scrollback by ``scrollback`` rows and
    about ``scrollback_bytes`` bytes, every cache by a fixed size.
    """

    def __init__(
        self,
        rows: int,
        cols: int,
        scrollback: int = 10_000,
        on_reply: Optional[Callable[[bytes], None]] = None,
        scrollback_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if rows < 1 or cols < 1:
            raise ValueError("a terminal needs at least one row and one column")
        self._on_reply = on_reply
        self._history = History(scrollback, layout_raw, scrollback_bytes)
        self._screen = Emulator(cols, rows, history=self._history, reply=self._reply)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending: List[bytes] = []
        self._pending_size = 0

    # ------------------------------------------------------------- input
    def feed(self, data: bytes) -> None:
        """Consume guest output; sequences and UTF-8 may be split anywhere.

        Bigger chunks are faster: only the last screenful of a chunk is laid
        out when the chunk scrolls many screens."""
        if not data:
            return
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _COALESCE_LIMIT or _QUERY.search(data):
            self.flush()

    def flush(self) -> None:
        """Process everything fed so far.  Every read of the model's state
        calls this; call it yourself only to bound latency of side effects."""
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        self._pending_size = 0
        text = self._decoder.decode(data)
        if text:
            self._screen.feed_text(text)

    def resize(self, rows: int, cols: int) -> None:
        """Resize the screen (not the guest pty: the caller does that), as
        tmux does: fewer rows drop blank rows below the cursor first, then
        move top rows to the scrollback; more rows bring rows back from it; a
        new width re-wraps soft-wrapped lines, scrollback included (the
        alternate screen is cut instead: its program redraws)."""
        self.flush()
        if rows < 1 or cols < 1:
            raise ValueError("a terminal needs at least one row and one column")
        self._screen.resize(rows, cols)

    # ------------------------------------------------------------- screen
    @property
    def rows(self) -> int:
        self.flush()
        return self._screen.lines

    @property
    def cols(self) -> int:
        self.flush()
        return self._screen.columns

    @property
    def dirty(self) -> Set[int]:
        """Screen rows changed since the widget last cleared this set."""
        self.flush()
        return self._screen.dirty

    def line(self, y: int) -> List[Cell]:
        """Screen row ``y`` as exactly :attr:`cols` cells."""
        self.flush()
        row = self._screen.buffer.get(y)
        cols = self._screen.columns
        if not row:
            return [row_default(row) if row is not None else self._screen.default_char] * cols
        get = row.get
        dflt = row_default(row)
        return [get(x, dflt) for x in range(cols)]

    @property
    def lines(self) -> List[List[Cell]]:
        return [self.line(y) for y in range(self._screen.lines)]

    @property
    def display(self) -> List[str]:
        """Screen rows as text, wide-character stubs left out (pyte's own
        ``display`` asserts on a stub whose wide character was overwritten)."""
        self.flush()
        return ["".join([c.data for c in self.line(y)]) for y in range(self._screen.lines)]

    @property
    def cursor(self) -> CursorState:
        self.flush()
        c = self._screen.cursor
        return CursorState(min(c.x, self._screen.columns - 1), c.y, bool(c.hidden))

    @property
    def title(self) -> str:
        self.flush()
        return self._screen.title

    # ---------------------------------------------------------- scrollback
    @property
    def scrollback_bytes(self) -> int:
        """Estimated bytes the scrollback holds (bounded by the constructor's
        ``scrollback_bytes``)."""
        self.flush()
        return self._history.nbytes

    @property
    def history_len(self) -> int:
        """Rows in the scrollback (0 while nothing scrolled off)."""
        self.flush()
        return len(self._history)

    @property
    def history_pushed(self) -> int:
        """Rows that entered the scrollback in this :attr:`history_epoch`: row ``i``'s
        absolute number is ``history_pushed - history_len + i`` (stable while rows are
        pushed and the oldest dropped)."""
        self.flush()
        return self._history.pushed

    @property
    def history_epoch(self) -> int:
        """Changes (never to an earlier value) whenever history rows are renumbered:
        cleared, reflowed on resize, or pulled back into a taller screen."""
        self.flush()
        return self._history.epoch

    def history_line(self, i: int) -> List[Cell]:
        """Scrollback row ``i`` (0 = oldest, ``history_len - 1`` = newest) as
        :attr:`cols` cells (rows from a wider screen are cut, narrower padded)."""
        self.flush()
        return expand_row(self._history.row(i), self._screen.columns)

    def history_text(self, i: int) -> str:
        self.flush()
        return row_text(self._history.row(i)).rstrip()

    def search(self, text: str, case_sensitive: bool = False) -> List[Match]:
        """Every occurrence of ``text`` within a row, oldest first.

        Rows are numbered ``0 .. history_len - 1`` for the scrollback and
        ``history_len .. history_len + rows - 1`` for the screen."""
        self.flush()
        if not text:
            return []
        hits: List[Match] = []
        nhist = len(self._history)
        for i in range(nhist + self._screen.lines):
            if i < nhist:
                cells = list(self._history.row(i)[0])
            else:
                cells = [c.data for c in self.line(i - nhist)]
            hits.extend(Match(i, start, end) for start, end in find_in_row(cells, text, case_sensitive))
        return hits

    # --------------------------------------------------------------- modes
    @property
    def alternate_screen(self) -> bool:
        """True while a full-screen program uses the alternate screen."""
        self.flush()
        return self._screen.alternate

    @property
    def mouse_tracking(self) -> int:
        """0 (off), 9 (X10 press), 1000 (press/release), 1002 (+drag) or
        1003 (all motion): what mouse events the guest asked for."""
        self.flush()
        mode = self._screen.mode
        for number, flag in ((1003, modes.MOUSE_ANY), (1002, modes.MOUSE_BUTTON),
                             (1000, modes.MOUSE_NORMAL), (9, modes.MOUSE_X10)):
            if flag in mode:
                return number
        return 0

    @property
    def mouse_sgr(self) -> bool:
        """Mouse reports in SGR form (``CSI < b;x;y M/m``, DECSET 1006)."""
        self.flush()
        return modes.MOUSE_SGR in self._screen.mode

    @property
    def mouse_utf8(self) -> bool:
        self.flush()
        return modes.MOUSE_UTF8 in self._screen.mode

    @property
    def mouse_urxvt(self) -> bool:
        self.flush()
        return modes.MOUSE_URXVT in self._screen.mode

    @property
    def focus_events(self) -> bool:
        self.flush()
        return modes.FOCUS_EVENTS in self._screen.mode

    @property
    def bracketed_paste(self) -> bool:
        """Wrap pastes in ``ESC[200~`` ... ``ESC[201~`` (DECSET 2004)."""
        self.flush()
        return modes.BRACKETED_PASTE in self._screen.mode

    @property
    def app_cursor_keys(self) -> bool:
        """Arrow keys send ``ESC O A`` instead of ``ESC [ A`` (DECCKM)."""
        self.flush()
        return modes.DECCKM in self._screen.mode

    @property
    def app_keypad(self) -> bool:
        """Keypad application mode (``ESC =`` / ``ESC >``)."""
        self.flush()
        return self._screen.app_keypad

    @property
    def cursor_hidden(self) -> bool:
        self.flush()
        return bool(self._screen.cursor.hidden)

    @property
    def reverse_video(self) -> bool:
        self.flush()
        return modes.DECSCNM in self._screen.mode

    # ------------------------------------------------------------ internals
    def _reply(self, text: str) -> None:
        if self._on_reply is not None:
            self._on_reply(text.encode("ascii", "replace"))


__all__ = ["TerminalModel", "CursorState", "Cell", "Match"]
