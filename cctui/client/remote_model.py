"""RemoteModel: a client's copy of one pane's screen, read by TerminalView as a TerminalModel.

The server keeps the authoritative terminal model and sends SCREEN payloads
(whole screens or changed rows); this class applies them and answers every
read TerminalView makes of a ``cctui.terminal.TerminalModel``. Scrollback rows
are fetched on demand (see :mod:`.history_cache`): a row not here yet reads as
blank, its chunk is asked for once, and ``on_history`` tells the view to draw
again when it came.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, List, Optional, Set

from ..server.screen_codec import decode_row
from ..terminal.model import CursorState, Match
from ..terminal.pyte_compat import Char
from ..terminal.search import find_in_row
from .checks import HistoryChunk, Modes, ScreenUpdate, parse_history_reply, parse_screen
from .history_cache import CHUNK, HistoryCache

log = logging.getLogger(__name__)
BLANK = Char(" ")


def _natural(row: Any) -> List[Char]:
    """A checked wire row as the cells it holds (no padding)."""
    return decode_row(row, len(row[0]))


class RemoteModel:
    """One pane's screen, cursor, modes and title as the server last sent them."""

    def __init__(self, rows: int = 24, cols: int = 80) -> None:
        self._rows, self._cols = max(1, rows), max(1, cols)
        self._screen: List[List[Char]] = [[BLANK] * self._cols for _ in range(self._rows)]
        self.dirty: Set[int] = set(range(self._rows))    # rows changed since the view cleared it
        self.cursor = CursorState(0, 0, False)
        self.title = ""
        self.modes = Modes()
        self.history_len = 0
        self.pushed = 0                 # rows that ever entered the server's history this epoch
        self.epoch: Optional[int] = None
        self.history = HistoryCache()
        self.updates = 0                # SCREEN payloads applied (a full screen counts too)
        # fetch_history(start, count): the pane asks the server for rows (at most one per chunk)
        self.fetch_history: Optional[Callable[[int, int], None]] = None
        # on_history(): rows arrived; the view draws again
        self.on_history: Optional[Callable[[], None]] = None

    # -- applying SCREEN -------------------------------------------------------------
    def apply(self, payload: Any) -> None:
        """Check (ProtocolError) and apply one SCREEN payload."""
        self.apply_update(parse_screen(payload))

    def apply_update(self, u: ScreenUpdate) -> None:
        """Apply an already checked payload (cannot fail)."""
        if (u.rows, u.cols) != (self._rows, self._cols):
            self._resize(u.rows, u.cols)
        if u.full:
            self._screen = [u.lines.get(y) or [BLANK] * u.cols for y in range(u.rows)]
            self.dirty.update(range(u.rows))
        else:
            for y, cells in u.lines.items():
                self._screen[y] = cells
            self.dirty.update(u.lines)
        self.cursor = u.cursor
        self.title = u.title
        self.modes = u.modes
        if u.epoch != self.epoch:
            self.history.reset(u.epoch)
            self.epoch = u.epoch
        self.history_len = u.history_len
        self.pushed = u.pushed
        self.history.drop_below(u.pushed - u.history_len)
        self.updates += 1

    def _resize(self, rows: int, cols: int) -> None:
        screen = [(row[:cols] + [BLANK] * (cols - len(row))) if len(row) != cols else row
                  for row in self._screen[:rows]]
        screen.extend([BLANK] * cols for _ in range(rows - len(screen)))
        self._screen = screen
        self._rows, self._cols = rows, cols
        self.dirty = set(range(rows))

    # -- the screen ----------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return self._rows

    @property
    def cols(self) -> int:
        return self._cols

    def line(self, y: int) -> List[Char]:
        """Screen row ``y`` as exactly :attr:`cols` cells."""
        return list(self._screen[y])

    @property
    def lines(self) -> List[List[Char]]:
        return [list(row) for row in self._screen]

    @property
    def display(self) -> List[str]:
        """Screen rows as text, wide-character stubs left out (as TerminalModel.display)."""
        return ["".join(c.data for c in row) for row in self._screen]

    # -- modes -----------------------------------------------------------------------------
    @property
    def alternate_screen(self) -> bool:
        return self.modes.alternate_screen

    @property
    def mouse_tracking(self) -> int:
        return self.modes.mouse_tracking

    @property
    def mouse_sgr(self) -> bool:
        return self.modes.mouse_sgr

    @property
    def mouse_utf8(self) -> bool:
        return self.modes.mouse_utf8

    @property
    def mouse_urxvt(self) -> bool:
        return self.modes.mouse_urxvt

    @property
    def focus_events(self) -> bool:
        return self.modes.focus_events

    @property
    def bracketed_paste(self) -> bool:
        return self.modes.bracketed_paste

    @property
    def app_cursor_keys(self) -> bool:
        return self.modes.app_cursor_keys

    @property
    def app_keypad(self) -> bool:
        return self.modes.app_keypad

    @property
    def reverse_video(self) -> bool:
        return self.modes.reverse_video

    @property
    def cursor_hidden(self) -> bool:
        return self.cursor.hidden

    # -- history -----------------------------------------------------------------------------
    def absolute(self, i: int) -> int:
        """History index ``i`` (0 = oldest kept) as its absolute row number."""
        return self.pushed - self.history_len + i

    def _cached(self, i: int) -> Optional[Any]:
        if not 0 <= i < self.history_len:
            return None
        absolute = self.absolute(i)
        row = self.history.get(absolute)
        if row is None:
            self._ask(absolute)
        return row

    def _ask(self, absolute: int) -> None:
        chunk = self.history.wants(absolute)
        if chunk is None or self.fetch_history is None:
            return
        self.history.in_flight.add(chunk)
        self.fetch_history(chunk * CHUNK, CHUNK)

    def history_line(self, i: int) -> List[Char]:
        """History row ``i`` as :attr:`cols` cells; blank until fetched (and asked for now)."""
        row = self._cached(i)
        return [BLANK] * self._cols if row is None else decode_row(row, self._cols)

    def history_text(self, i: int) -> str:
        row = self._cached(i)
        return "" if row is None else "".join(c.data for c in _natural(row)).rstrip()

    def take_history(self, start: int, count: int, reply: Any,
                     asked_epoch: Optional[int] = None) -> Optional[HistoryChunk]:
        """A history REPLY for the chunk at ``start``, asked for in ``asked_epoch`` (default:
        this one): check (ProtocolError), store, tell the view. Returns the chunk, or None
        when it was dropped (asked before the cache was reset, or the server's epoch moved
        on: the chunk is asked again once a SCREEN brings that epoch)."""
        chunk = parse_history_reply(reply, start, count)
        number = start // CHUNK
        asked = self.epoch if asked_epoch is None else asked_epoch
        if asked != self.epoch or number not in self.history.in_flight:
            return None                 # a request from before a reset: a newer one may be out
        if chunk.epoch != self.epoch:
            self.history.in_flight.discard(number)
            return None
        self.history.store(chunk.start, chunk.rows)
        self.history.answered(number)
        if self.on_history is not None:
            try:
                self.on_history()
            except Exception:
                log.exception("on_history listener raised")
        return chunk

    def history_failed(self, start: int, asked_epoch: Optional[int] = None) -> None:
        """The chunk's request failed: not asked again in this epoch (no request loop)."""
        if (asked_epoch is None or asked_epoch == self.epoch) and start // CHUNK in self.history.in_flight:
            self.history.failed(start // CHUNK)

    def search(self, text: str, case_sensitive: bool = False) -> List[Match]:
        """Hits on the screen and in the history rows fetched so far (the whole
        history: RemotePane.search_remote). Rows as in TerminalModel.search."""
        if not text:
            return []
        hits: List[Match] = []
        hist = self.history_len
        for i in range(hist):
            row = self.history.peek(self.absolute(i))
            if row is not None:
                cells = [c.data for c in _natural(row)]
                hits.extend(Match(i, s, e) for s, e in find_in_row(cells, text, case_sensitive))
        for y, row in enumerate(self._screen):
            cells = [c.data for c in row]
            hits.extend(Match(hist + y, s, e) for s, e in find_in_row(cells, text, case_sensitive))
        return hits
