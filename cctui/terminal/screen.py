"""Screen operations: everything a sequence does to the screen, on pyte's state.

:class:`Screen` is a ``pyte.Screen`` (``buffer`` of ``{x: Char}`` rows,
``cursor``, ``mode``, ``margins``, ``tabstops``...) whose operations are
pyte's own where they are not on a hot path, so that the result equals what
pyte computes, except for the deliberate differences listed in
:mod:`cctui.terminal.engine`.  The methods here are what the dispatch
tables (:mod:`cctui.terminal.dispatch`) name; what drives them (tokenizing,
the hot loop, floods) is elsewhere.  Here too: the rows that scroll off
(``history``), the alternate screen, the cell caches and the replies.

The sections follow tmux's ``screen-write.c``: drawing; line feeds and
scrolling; cursor movement; erasing; attributes; modes and the alternate
screen; replies; title; resize.
"""
from __future__ import annotations

import copy
import re
import unicodedata
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple, cast

from .bounded import BoundedDict
from .cells import BLANK, BLANK_REVERSE, CELLS, AttrSets, CellMap
from .flood import clean_flood, measure_block
from .history import EMPTY_ROW, CompactRow, History, RawFlood, compact_row
from .modes import ALT_SCREEN_MODES, MOUSE_TRACKING, MOUSE_TRACKING_MODES, DecMode
from .pyte_compat import (
    DECAWM, DECOM, DECSCNM, FG_BG_256, IRM, Char, Margins, PyteScreen, new_buffer, new_char, row_default,
)
from .reflow import (
    Row, history_row_cells, join_lines, locate, rewrap_history, screen_row_cells, set_wrapped, wrap_line, wrapped_of,
)
from .replies import DA_PRIMARY_REPLY, DA_SECONDARY_REPLY, DSR_OK_REPLY, ReplyQueue
from .sequences import SCROLL_ITEM, SU_COUNTS, TITLE_LIMIT, csi_param, csi_params, sgr_colons
from .widths import CHAR_WIDTHS, MAX_CELL_CHARS, NOT_NARROW, ZERO_RUN, cut_mark_runs, wcwidth

_TITLE_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class _AltState:
    """The primary screen while the alternate one is shown."""

    __slots__ = ("buffer", "cursor", "mode", "lines", "columns")

    def __init__(self, buffer: Any, cursor: Any, mode: Optional[int], lines: int, columns: int) -> None:
        self.buffer = buffer
        self.cursor = cursor    # saved on entry (DECSET 1049), else None
        self.mode = mode        # the DECSET that entered it
        self.lines = lines      # the primary screen's size (reflowed when it comes back)
        self.columns = columns


class Screen(PyteScreen):
    """pyte's screen with the operations of this package (see the module docstring).

    ``history`` receives the rows that scroll off the top of the primary
    screen; without one, ``recorder`` (a list) does (a scratch screen laying
    out a flood).  ``reply`` receives the answers to queries, once per feed."""

    def __init__(
        self,
        columns: int,
        lines: int,
        history: Optional[History] = None,
        reply: Optional[Callable[[str], None]] = None,
        recorder: Optional[List[CompactRow]] = None,
    ) -> None:
        self.history = history
        self._recorder = recorder
        self._replies = ReplyQueue(reply)
        self._alt: Optional[_AltState] = None
        # rows that scroll off next and are in the scrollback already (a
        # flood skip recorded the screen it left)
        self._discard = 0
        self._sgr_cache: Dict[Tuple[Char, str], Char] = BoundedDict(4096)
        self._infos = AttrSets()
        self._attr_info = self._infos.info
        self._erase_cache: Dict[Tuple[Any, ...], Dict[int, Char]] = BoundedDict(256)  # EL cells, per screen width
        self.scrolled = False
        self.app_keypad = False
        #: a wide character was ever drawn (until then no stub can be orphaned)
        self.wide_seen = False
        #: a row ever soft-wrapped (until then no hard line feed clears a mark)
        self.wraps_seen = False
        super().__init__(columns, lines)

    @property
    def default_char(self) -> Char:
        """pyte's, shared instead of built per call (a new row costs one)."""
        return BLANK_REVERSE if DECSCNM in self.mode else BLANK

    # ------------------------------------------------------------ drawing
    def draw(self, data: str) -> None:
        """Text at the cursor, as pyte draws it (see :meth:`_draw_slow`);
        a run of one-cell characters is written a row-slice at a time, other
        text with autowrap on and insert mode off by :meth:`_draw_wide`."""
        cursor = self.cursor
        mode = self.mode
        x = cursor_x0 = cursor.x
        if data.isascii() or max(data) < "\u0300":
            narrow = True
        else:
            wide = data.translate(NOT_NARROW)
            narrow = not wide
            if ZERO_RUN in wide:
                data = cut_mark_runs(data)
        n = len(data)
        if x + n <= self.columns and narrow and IRM not in mode:
            # fits in the row: no wrap can happen
            cmap = self._attr_info(cursor.attrs)[CELLS]
            row = self.buffer[cursor.y]
            row.update(zip(range(x, x + n), map(cmap.__getitem__, data)))
            cursor.x = x + n
            self.dirty.add(cursor.y)
            if self.wide_seen:
                self._drop_orphan(row, x + n)
            return
        if IRM in mode or DECAWM not in mode:
            return self._draw_slow(data)
        cmap = self._attr_info(cursor.attrs)[CELLS]
        if not narrow:
            return self._draw_wide(data, cmap)
        y0 = cursor.y
        get = cmap.__getitem__
        cols = self.columns
        buf = self.buffer
        i = 0
        while i < n:
            if x >= cols:
                self.dirty.add(cursor.y)
                set_wrapped(buf[cursor.y], cols)    # (for reflow: see reflow.py)
                self.wraps_seen = True
                cursor.x = 0
                self.linefeed()
                x = 0
            k = cols - x
            if k > n - i:
                k = n - i
            buf[cursor.y].update(zip(range(x, x + k), map(get, data[i:i + k] if (i or k != n) else data)))
            x += k
            i += k
        cursor.x = x
        self.dirty.add(cursor.y)
        if self.wide_seen and (x != cursor_x0 or cursor.y != y0):
            self._drop_orphan(buf[cursor.y], x)

    def _drop_orphan(self, row: Any, x: int) -> None:
        """Text written up to column ``x`` (excluded) covered the left half of
        a wide character: its right half (a stub at ``x``) is blanked, as
        tmux and xterm do (pyte leaves it)."""
        cell = row.get(x)
        if cell is not None and not cell[0]:
            row[x] = self.default_char

    def _draw_wide(self, data: str, cmap: CellMap) -> None:
        """Non-ASCII text with autowrap on and insert mode off: the same rules
        as :meth:`_draw_slow`, with cached widths and cells."""
        cursor = self.cursor
        cols = self.columns
        buf = self.buffer
        x = x0 = cursor.x
        y0 = cursor.y
        line = buf[y0]
        stub = cmap[""]
        self.wide_seen = True
        widths = CHAR_WIDTHS
        combining = unicodedata.combining
        normalize = unicodedata.normalize
        for char in data:
            w = widths.get(char)
            if w is None:
                w = widths[char] = wcwidth(char)
            if x == cols or (w == 2 and x + 1 == cols and cols > 1):
                # (a wide character with one column left wraps, as in tmux and xterm)
                if x < cols and (x != x0 or cursor.y != y0):
                    self._drop_orphan(line, x)
                self.dirty.add(cursor.y)
                set_wrapped(line, x)
                self.wraps_seen = True
                cursor.x = 0
                self.linefeed()
                x = 0
                line = buf[cursor.y]
            if w == 1:
                line[x] = cmap[char]
                x += 1
            elif w == 2:
                line[x] = cmap[char]
                if x + 1 < cols:
                    line[x + 1] = stub
                    x += 2
                else:
                    x = cols
            elif w == 0 and combining(char):
                if x:
                    last = line[x - 1]
                    data = last.data
                    if len(data) < MAX_CELL_CHARS:
                        line[x - 1] = last._replace(data=normalize("NFC", data + char))
                else:
                    cursor.x = x
                    self._draw_slow(char)
                    line = buf[cursor.y]
        cursor.x = x
        self.dirty.add(cursor.y)
        if x != x0 or cursor.y != y0:
            self._drop_orphan(line, x)

    def _draw_slow(self, data: str) -> None:
        """pyte's ``draw``, except that an unprintable character is skipped
        (pyte drops the rest of the text run)."""
        cursor = self.cursor
        cols = self.columns
        mode = self.mode
        x0, y0 = cursor.x, cursor.y
        wide_wrap = False
        for char in data:
            char_width = wcwidth(char)
            if char_width == 2:
                self.wide_seen = True
                if cursor.x == cols - 1 and cols > 1:
                    # one column left: a wide character wraps (autowrap) or is
                    # dropped (tmux; xterm too)
                    if DECAWM not in mode:
                        continue
                    if cursor.x != x0 or cursor.y != y0:
                        self._drop_orphan(self.buffer[cursor.y], cursor.x)
                    cursor.x = cols
                    wide_wrap = True
            if cursor.x == cols:
                if DECAWM in mode:
                    self.dirty.add(cursor.y)
                    set_wrapped(self.buffer[cursor.y], cols - 1 if wide_wrap else cols)
                    wide_wrap = False
                    self.wraps_seen = True
                    cursor.x = 0
                    self.linefeed()
                elif char_width > 0:
                    cursor.x -= char_width
            if IRM in mode and char_width > 0:
                self.insert_characters(char_width)
            line = self.buffer[cursor.y]
            if char_width == 1:
                line[cursor.x] = cursor.attrs._replace(data=char)
            elif char_width == 2:
                line[cursor.x] = cursor.attrs._replace(data=char)
                if cursor.x + 1 < cols:
                    line[cursor.x + 1] = cursor.attrs._replace(data="")
            elif char_width == 0 and unicodedata.combining(char):
                # a mark joins the previous cell, up to MAX_CELL_CHARS characters
                # (xterm and tmux bound them too: a flood must stay linear)
                if cursor.x:
                    row, col = line, cursor.x - 1
                elif cursor.y:
                    row, col = self.buffer[cursor.y - 1], cols - 1
                else:
                    continue
                last = row[col]
                if len(last.data) < MAX_CELL_CHARS:
                    row[col] = last._replace(data=unicodedata.normalize("NFC", last.data + char))
                continue
            else:
                continue
            cursor.x = min(cursor.x + char_width, cols)
        self.dirty.add(cursor.y)
        if self.wide_seen and (cursor.x != x0 or cursor.y != y0) and cursor.x < cols:
            self._drop_orphan(self.buffer[cursor.y], cursor.x)

    # ------------------------------------------------- line feeds, scrolling
    def _record(self, row: CompactRow, wrapped: int = 0) -> None:
        """A row scrolled off the top of the primary screen (``wrapped``: the
        cells it held when it soft-wrapped, 0 if it did not)."""
        if self.history is not None:
            self.history.push(row, wrapped)
        elif self._recorder is not None:
            self._recorder.append(row)

    def index(self) -> None:
        margins = self.margins
        cursor = self.cursor
        if margins is None:
            top, bottom = 0, self.lines - 1
        else:
            top, bottom = margins
        if cursor.y != bottom:
            if cursor.y < bottom:
                cursor.y += 1
            elif cursor.y < self.lines - 1:
                cursor.y += 1   # under the region: down to the last row, no scrolling (pyte: back to the margin)
            return
        buf = self.buffer
        if top == 0 and bottom == self.lines - 1 and self._alt is None:
            if self._discard:
                self._discard -= 1
            elif self.history is not None or self._recorder is not None:
                row0 = buf.get(0)
                self._record(compact_row(row0, self.columns), getattr(row0, "wrapped", 0))
        # shift rows up in bulk; a missing row stays missing (it reads the
        # same as an empty one: pyte keeps every row's default current)
        if top == 0 and bottom == self.lines - 1:
            rows = [(y - 1, row) for y, row in buf.items() if y]
            buf.clear()
            buf.update(rows)
        else:
            moved = list(map(buf.get, range(top + 1, bottom + 1)))
            if None in moved:
                for y, row in zip(range(top, bottom), moved):
                    if row is None:
                        buf.pop(y, None)
                    else:
                        buf[y] = row
            else:
                buf.update(zip(range(top, bottom), cast(List[Any], moved)))
        buf.pop(bottom, None)
        dirty = self.dirty
        if margins is None:
            if len(dirty) < self.lines:
                dirty.update(range(self.lines))
        else:
            dirty.update(range(top, bottom + 1))
        self.scrolled = True

    def next_line(self) -> None:
        """NEL (``ESC E``): column 0, then a line feed (pyte keeps the column)."""
        self.cursor.x = 0
        self.index()

    def reverse_index(self) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y != top:
            self.cursor_up()
            return
        buf = self.buffer
        for y in range(bottom, top, -1):
            buf[y] = buf[y - 1]
        buf.pop(top, None)
        self.dirty.update(range(top, bottom + 1))

    def scroll_up(self, count: Optional[int] = None) -> None:
        """SU (``CSI n S``): scroll the region up; pyte ignores it.  ``n`` is
        clamped to the region's height, and rows move once, not once per line."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        count = min(count or 1, bottom - top + 1)
        buf = self.buffer
        if top == 0 and bottom == self.lines - 1 and self._alt is None:
            cols = self.columns
            rows = [compact_row(row, cols) if row else EMPTY_ROW for row in map(buf.get, range(count))]
            if self.history is not None:
                self.history.push_rows(rows)
            elif self._recorder is not None:
                self._recorder.extend(rows)
        self._move_rows(buf, top, bottom, count)

    def scroll_run(self, seq: str) -> None:
        """A run of SU/SD (``CSI n S`` / ``CSI n T``) with nothing between:
        as each one in turn, except that once the region is blank (a scroll
        by its height blanks it) the rest only counts the blank rows that
        scroll off, pushed at the end as one run."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        height = bottom - top + 1
        end = -1
        for m in SCROLL_ITEM.finditer(seq):
            count = csi_param(m.group("count")) or 1
            if m.group("final") == "S":
                self.scroll_up(count)
            else:
                self.scroll_down(count)
            if count >= height:
                end = m.end()
                break
        if end < 0 or end == len(seq):
            return
        # the region is blank now (its rows are gone from the buffer) and stays
        # so: only the SUs count, each distinct parameter once
        if top == 0 and bottom == self.lines - 1 and self._alt is None:
            blanks = 0
            for params, times in Counter(SU_COUNTS.findall(seq, end)).items():
                count = csi_param(params) or 1
                blanks += times * (count if count < height else height)
            if blanks:
                if self.history is not None:
                    self.history.push_blank(blanks)
                elif self._recorder is not None:
                    self._recorder.extend([EMPTY_ROW] * blanks)

    def scroll_down(self, count: Optional[int] = None) -> None:
        """SD (``CSI n T``): scroll the region down; pyte ignores it."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        count = min(count or 1, bottom - top + 1)
        self._move_rows(self.buffer, top, bottom, -count)

    def _move_rows(self, buf: Any, top: int, bottom: int, shift: int) -> None:
        """Rows ``top..bottom`` move up by ``shift`` (down if negative); the
        rows uncovered are blank (missing rows read as blank)."""
        self.dirty.update(range(top, bottom + 1))
        if abs(shift) > bottom - top:
            if bottom - top + 1 == self.lines:
                buf.clear()
            else:
                for y in range(top, bottom + 1):
                    buf.pop(y, None)
            return
        rows = [buf.pop(y, None) for y in range(top, bottom + 1)]
        for y, row in zip(range(top - shift, bottom + 1 - shift), rows):
            if row is not None and top <= y <= bottom:
                buf[y] = row

    # ---------------------------------------------------------- cursor
    def cursor_position(self, line: Optional[int] = None, column: Optional[int] = None, *_: int) -> None:
        """CUP/HVP; parameters past the second are ignored (pyte ignores
        the sequence)."""
        if DECOM in self.mode:
            return super().cursor_position(line, column)
        cursor = self.cursor
        cursor.x = min(max(0, (column or 1) - 1), self.columns - 1)
        cursor.y = min(max(0, (line or 1) - 1), self.lines - 1)

    def cursor_to_line(self, line: Optional[int] = None) -> None:
        if DECOM in self.mode and self.margins is None:
            self.cursor.y = (line or 1) - 1  # pyte asserts here
            self.ensure_vbounds()
            return
        super().cursor_to_line(line)

    def cursor_back_tab(self, count: Optional[int] = None) -> None:
        """CBT (``CSI n Z``): back ``n`` tab stops (pyte ignores it)."""
        x = min(self.cursor.x, self.columns - 1)
        stops = sorted(t for t in self.tabstops if t < x)
        n = min(count or 1, len(stops) + 1)
        self.cursor.x = stops[-n] if n <= len(stops) else 0

    def repeat_character(self, count: Optional[int] = None) -> None:
        """REP (``CSI n b``): the one-cell character before the cursor ``n``
        times, up to the end of the row (as tmux: never wraps; tmux repeats
        only an ASCII character printed just before)."""
        x = self.cursor.x
        if not x or x > self.columns:
            return
        cell = self.buffer[self.cursor.y].get(x - 1)
        if cell is None or len(cell[0]) != 1 or not " " < cell[0] < "\x7f":
            return
        self.draw(cell[0] * min(count or 1, self.columns - x))

    def save_cursor_sco(self, *_: int) -> None:
        """SCOSC (``CSI s``, DECLRMM never being on): DECSC."""
        self.save_cursor()

    def restore_cursor_sco(self, *_: int) -> None:
        """SCORC (``CSI u``): DECRC, attributes included (as tmux)."""
        self.restore_cursor()

    def restore_cursor(self) -> None:
        """DECRC; with nothing saved the attributes are reset too (xterm,
        tmux; pyte keeps them) and the cursor goes home."""
        if not self.savepoints:
            self.cursor.attrs = self.default_char
        super().restore_cursor()

    def set_margins(self, top: Optional[int] = None, bottom: Optional[int] = None) -> None:
        """DECSTBM; without parameters it homes the cursor too (xterm,
        tmux; pyte does not)."""
        if not top and bottom is None:
            self.margins = None
            self.cursor_position()
            return
        super().set_margins(top, bottom)

    def tab(self) -> None:
        x = self.cursor.x
        for stop in sorted(self.tabstops):
            if x < stop:
                self.cursor.x = min(stop, self.columns - 1)
                return
        self.cursor.x = self.columns - 1

    # --------------------------------------------------------- erasing
    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        cursor = self.cursor
        self.dirty.add(cursor.y)
        if how == 0:
            interval = range(cursor.x, self.columns)
        elif how == 1:
            interval = range(cursor.x + 1)
        elif how == 2:
            interval = range(self.columns)
        else:
            return
        self.buffer[cursor.y].update(dict.fromkeys(interval, cursor.attrs))

    def erase_characters(self, count: Optional[int] = None) -> None:
        cursor = self.cursor
        self.dirty.add(cursor.y)
        self.buffer[cursor.y].update(
            dict.fromkeys(range(cursor.x, min(cursor.x + (count or 1), self.columns)), cursor.attrs))

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        """ED; ED 3 clears only the scrollback (xterm, tmux; pyte clears the screen)."""
        if how == 3:
            if self._alt is None and self.history is not None:
                self.history.clear()
            return
        if how == 0:
            interval = range(self.cursor.y + 1, self.lines)
        elif how == 1:
            interval = range(self.cursor.y)
        elif how == 2:
            interval = range(self.lines)
        else:
            return
        self.dirty.update(interval)
        attrs = self.cursor.attrs
        buf = self.buffer
        for y in interval:
            line = buf[y]
            if line:
                line.update(dict.fromkeys(line, attrs))
            if self.wraps_seen:
                set_wrapped(line, 0)    # an erased row's line ends there (tmux)
        if how == 0 or how == 1:
            self.erase_in_line(how)

    def alignment_display(self) -> None:
        """DECALN (``ESC # 8``): fill the screen with 'E' (default attributes,
        as xterm and tmux do), one shared row of cells copied per line; home
        the cursor and reset the margins (VT510, tmux)."""
        cols = self.columns
        cell = self._attr_info(self.default_char)[CELLS]["E"]
        line = dict.fromkeys(range(cols), cell)
        buf = self.buffer
        for y in range(self.lines):
            row = buf[y]
            row.clear()
            row.update(line)
            set_wrapped(row, 0)
        self.dirty.update(range(self.lines))
        self.margins = None                     # and resets the margins, homes the cursor
        self.cursor.x = self.cursor.y = 0

    # ------------------------------------------------------ attributes
    def _apply_sgr(self, attrs: Char, params: str) -> Char:
        """``attrs`` after the SGR ``CSI params m`` (cached per screen)."""
        key = (attrs, params)
        got = self._sgr_cache.get(key)
        if got is not None:
            return got
        if ":" in params:
            params = sgr_colons(params)
            if not params:
                return attrs
        args = csi_params(params)
        if len(args) == 3 and args[1] == 5 and args[2] < 256 and (args[0] == 38 or args[0] == 48):
            # one 256-colour change (what pyte does for it, without its dispatch)
            colour = FG_BG_256[args[2]]
            if args[0] == 38:
                got = new_char(Char, (attrs[0], colour) + attrs[2:])
            else:
                got = new_char(Char, attrs[:2] + (colour,) + attrs[3:])
            self._sgr_cache[key] = got
            return got
        cursor = self.cursor
        saved = cursor.attrs
        cursor.attrs = attrs
        try:
            super().select_graphic_rendition(*args)
            got = cursor.attrs
        finally:
            cursor.attrs = saved
        self._sgr_cache[key] = got
        return got

    # ------------------------------------------------ modes, alternate screen
    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        private = kwargs.get("private")
        if private:
            modes = self._own_private_modes(modes, self._enter_alternate)
        super().set_mode(*modes, **kwargs)
        if private and DecMode.DECSCNM in modes:
            self._drop_cell_caches()

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        private = kwargs.get("private")
        if private:
            modes = self._own_private_modes(modes, self._leave_alternate)
        super().reset_mode(*modes, **kwargs)
        if private and DecMode.DECSCNM in modes:
            self._drop_cell_caches()

    def _own_private_modes(self, modes: Tuple[int, ...], switch_alternate: Callable[[int], None]) -> Tuple[int, ...]:
        """Before pyte sets or resets the private ``modes``: the mouse
        tracking modes exclude each other, the alternate screen is switched
        here; returns the modes for pyte, DECCOLM left out (xterm's default
        ignores it; pyte would clear the screen)."""
        modes = tuple(m for m in modes if m != DecMode.DECCOLM)
        for m in modes:
            if m in MOUSE_TRACKING_MODES:
                self.mode.difference_update(MOUSE_TRACKING)
            elif m in ALT_SCREEN_MODES:
                switch_alternate(m)
        return modes

    def _drop_cell_caches(self) -> None:
        """Cached cells and SGR results are stale (reverse video changed)."""
        self._sgr_cache.clear()
        self._infos.clear()

    def keypad_application(self) -> None:
        """DECKPAM (``ESC =``)."""
        self.app_keypad = True

    def keypad_numeric(self) -> None:
        """DECKPNM (``ESC >``)."""
        self.app_keypad = False

    def _new_buffer(self) -> Any:
        return new_buffer(lambda: self.default_char)

    def _enter_alternate(self, which: int) -> None:
        if self._alt is not None:
            return
        saved_cursor = copy.copy(self.cursor) if which == DecMode.ALT_SCREEN_1049 else None
        self._alt = _AltState(self.buffer, saved_cursor, which, self.lines, self.columns)
        self.buffer = self._new_buffer()
        self.dirty.update(range(self.lines))

    def _leave_alternate(self, which: int) -> None:
        alt = self._alt
        if alt is None:
            return
        self._alt = None
        self.buffer = alt.buffer
        if alt.cursor is not None and which == DecMode.ALT_SCREEN_1049:
            hidden = self.cursor.hidden
            self.cursor = copy.copy(alt.cursor)
            self.cursor.hidden = hidden
        if (alt.lines, alt.columns) != (self.lines, self.columns):
            self.cursor.y = min(self.cursor.y, alt.lines - 1)
            self._resize_primary(alt.lines, alt.columns, self.lines, self.columns)
        self.ensure_hbounds()
        self.ensure_vbounds()
        self.dirty.update(range(self.lines))

    @property
    def alternate(self) -> bool:
        """The alternate screen is shown."""
        return self._alt is not None

    def reset(self) -> None:
        alt = getattr(self, "_alt", None)
        if alt is not None:
            self.buffer = alt.buffer
            self._alt = None
        super().reset()
        self.app_keypad = False
        if hasattr(self, "_sgr_cache"):
            self._drop_cell_caches()

    # --------------------------------------------------------- replies
    def report_device_attributes(self, mode: int = 0, **kwargs: bool) -> None:
        if mode == 0 and not kwargs.get("private"):
            self._replies.answer(DA_PRIMARY_REPLY)

    def report_secondary_device_attributes(self, mode: int = 0) -> None:
        if mode == 0:
            self._replies.answer(DA_SECONDARY_REPLY)

    def report_device_status(self, mode: int, *_: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            return
        if mode == 5:
            self._replies.answer(DSR_OK_REPLY)
        elif mode == 6:
            x = min(self.cursor.x, self.columns - 1) + 1
            y = self.cursor.y + 1
            if DECOM in self.mode and self.margins is not None:
                y -= self.margins.top
            self._replies.answer("\x1b[%d;%dR" % (y, x))

    def write_process_input(self, data: str) -> None:
        """pyte's reply channel (no pyte method in use answers): bounded too."""
        self._replies.answer(data)

    # ----------------------------------------------------------- title
    def set_title(self, param: str) -> None:
        """Kept for the pane's own label (never forwarded): bounded, and
        without control characters."""
        self.title = _TITLE_JUNK.sub("", param[:TITLE_LIMIT])

    # ---------------------------------------------------------- resize
    def resize(self, lines: Optional[int] = None, columns: Optional[int] = None) -> None:
        """Resize as tmux does: the primary screen is reflowed (see
        :meth:`_resize_primary`); the alternate one is cut (its program
        redraws), the primary one under it is reflowed when it comes back."""
        lines = lines or self.lines
        columns = columns or self.columns
        if lines == self.lines and columns == self.columns:
            return
        old_lines, old_cols = self.lines, self.columns
        if self._alt is None:
            self._resize_primary(old_lines, old_cols, lines, columns)
        else:
            if lines < old_lines:
                self.cursor.y = self._shrink(self.buffer, self.cursor.y, old_lines - lines, False, old_lines)
            if columns < old_cols:
                for row in self.buffer.values():
                    for x in [k for k in row if k >= columns]:
                        del row[x]
        self.lines, self.columns = lines, columns
        self._erase_cache.clear()
        self.tabstops = {t for t in self.tabstops if t < columns} | set(range(((old_cols + 7) // 8) * 8, columns, 8))
        self.margins = None
        self.cursor.x = min(self.cursor.x, columns)
        self.cursor.y = min(self.cursor.y, lines - 1)
        self.dirty.update(range(lines))

    def _resize_primary(self, old_lines: int, old_cols: int, lines: int, cols: int) -> None:
        """The primary screen from ``old_lines`` x ``old_cols`` to ``lines`` x
        ``cols``.  Fewer rows: blank rows under the cursor go first, then top
        rows go to the scrollback; more rows: rows come back from the
        scrollback (tmux).  Another width: lines that soft-wrapped are joined
        and cut again at the new width, scrollback included, the cursor
        staying on its character (tmux; where the screen then holds more
        rows, blank rows under the cursor go first, where tmux pushes the top
        into the scrollback)."""
        buf = self.buffer
        cursor = self.cursor
        hist = self.history
        if cols == old_cols:
            if lines < old_lines:
                cursor.y = self._shrink(buf, cursor.y, old_lines - lines, True, old_lines)
            elif lines > old_lines and hist is not None:
                pulled = hist.pop_newest(lines - old_lines)
                if pulled:
                    k = len(pulled)
                    moved = {y + k: row for y, row in buf.items()}
                    buf.clear()
                    buf.update(moved)
                    for y, (crow, wrapped) in enumerate(pulled):
                        self._put_row(y, history_row_cells(crow, 0)[:cols], wrapped)
                    cursor.y += k
            return
        tail = hist.pop_wrapped_tail() if hist is not None else []
        if hist is not None:
            hist.reflow(lambda rows, keep: rewrap_history(rows, cols, keep), lambda raw: _remeasure(raw, cols))
        old: List[Row] = [(history_row_cells(r, w), w) for r, w in tail]
        for y in range(old_lines):
            row = buf.get(y)
            wrapped = wrapped_of(row) if y < old_lines - 1 else 0
            old.append((screen_row_cells(row, wrapped), wrapped))
        cur_row = len(tail) + cursor.y
        new: List[Row] = []
        cy, cx = -1, 0
        k = 0
        # (rows past the scrollback's limit would be dropped: never made)
        keep = lines + (hist.limit if hist is not None else 0)
        for cells, starts in join_lines(old):
            parts, first = wrap_line(cells, cols, keep)
            if k <= cur_row < k + len(starts):
                offset = starts[cur_row - k] + cursor.x
                if offset >= first:
                    r, cx = locate(parts, offset - first, cols)
                    cy = len(new) + r
            new.extend(parts)
            k += len(starts)
        total = len(new)
        if cy < 0:
            cy, cx = -total, 0  # (its row was never made: it goes with the dropped rows)
        if total > lines:
            end = total
            while end > lines and end - 1 > cy and not new[end - 1][0] and not new[end - 1][1]:
                end -= 1    # blank rows under the cursor go first
            del new[end:]
            excess = len(new) - lines
            if excess > 0:
                for cells, wrapped in new[:excess]:
                    self._record(compact_row(dict(enumerate(cells)), cols), wrapped)
                del new[:excess]
                cy -= excess
                if cy < 0:
                    cy, cx = 0, 0   # its line went to the scrollback (tmux)
        elif total < lines and hist is not None:
            pulled = hist.pop_newest(lines - total)
            new[:0] = [(history_row_cells(r, 0)[:cols], w) for r, w in pulled]
            cy += len(pulled)
        buf.clear()
        for y, (cells, wrapped) in enumerate(new):
            self._put_row(y, cells, wrapped)
        cursor.x, cursor.y = cx, cy

    def _put_row(self, y: int, cells: List[Char], wrapped: int) -> None:
        if cells or wrapped:
            row = self.buffer[y]
            row.update(enumerate(cells))
            if wrapped:
                set_wrapped(row, wrapped)

    def _shrink(self, buf: Any, cursor_y: int, drop: int, record: bool, old: int) -> int:
        bottom_free = 0
        for y in range(old - 1, cursor_y, -1):
            row = buf.get(y)
            if row and any(c != row_default(row) for c in row.values()):
                break
            bottom_free += 1
        from_bottom = min(bottom_free, drop)
        from_top = drop - from_bottom
        for y in range(old - from_bottom, old):
            buf.pop(y, None)
        if from_top:
            for y in range(from_top):
                if record:
                    row = buf.get(y)
                    self._record(compact_row(row, self.columns), getattr(row, "wrapped", 0))
            rows = {y - from_top: buf[y] for y in range(from_top, old - from_bottom) if y in buf}
            buf.clear()
            buf.update(rows)
        return max(0, cursor_y - from_top)


def _remeasure(raw: RawFlood, cols: int) -> int:
    """A raw flood in the scrollback now lays out at ``cols``: its rows then."""
    raw.cols = cols
    raw.x = min(raw.x, cols)
    return measure_block(clean_flood(raw.text), raw.x, cols, raw.tabstops)[0]
