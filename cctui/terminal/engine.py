"""The emulator: a ``pyte.Screen`` with its own parser, fast paths and scrollback.

The screen state *is* pyte's (``buffer`` of ``{x: Char}`` rows, ``cursor``,
``mode``, ``margins``), and every operation that is not on a hot path is
pyte's own method, so the result equals what pyte computes.  What changes:

* parsing: one compiled tokenizer turns text runs, CR/LF, SGR and the common
  CSI/ESC/OSC sequences into direct method calls; anything it does not
  recognise (malformed or split sequences) is handed to a pyte ``Stream``
  character by character, so pyte's own state machine decides.
* drawing: ASCII runs are written a row-slice at a time with cached cells.
* floods: when a run of plain text/SGR holds many more lines than the screen,
  only the last screenful is laid out; the part that would scroll off goes to
  the scrollback as raw text (laid out later, on view) after measuring how many
  rows it takes and which attributes and column it ends with.
* dirty rows are tracked here (pyte marks every row dirty on every scroll).
* additions pyte lacks: alternate screen (DECSET 47/1047/1049), scrollback,
  mode flags for mouse reporting / bracketed paste / cursor keys, SU/SD,
  controlled DA/DSR answers, OSC swallowed.
"""
from __future__ import annotations

import copy
import re
import unicodedata
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple, cast

from .bounded import BoundedDict
from .dispatch import (
    OP_CALL, OP_CR, OP_CUP, OP_EL, OP_LF, OP_NOP, OP_REPLY, OP_SGR, Decoder, check_handlers,
)
from .flood import (
    F_KEYPAD_OFF, F_KEYPAD_ON, F_SAFE, F_SAVE, F_TABSET, Skip, clean_flood, find_skip, fold_sgr, measure_block,
)
from .history import EMPTY_ROW, CompactRow, History, RawFlood, compact_row
from .modes import ALT_SCREEN_MODES, MOUSE_TRACKING, MOUSE_TRACKING_MODES, DecMode
from .pyte_compat import (
    DECAWM, DECOM, DECSCNM, FG_BG_256, IRM, LNM, Char, Margins, PyteScreen, new_buffer, new_char,
)
from .widths import CHAR_WIDTHS, MAX_CELL_CHARS, NOT_NARROW, ZERO_RUN, cut_mark_runs, narrow, wcwidth
from .sequences import (
    ABORTED_CSI, ABORTED_HINT, DECALN_RUN, SCROLL_ITEM, STRING_START,
    SU_COUNTS, TITLE_LIMIT, TOKEN, csi_param, csi_params, incomplete_tail, strip_ignored, window_end,
)

# Replies to terminal queries: fixed strings, never derived from guest data.
DA_PRIMARY_REPLY = "\x1b[?62;22c"   # VT220 with ANSI colour
DA_SECONDARY_REPLY = "\x1b[>1;10;0c"
DSR_OK_REPLY = "\x1b[0n"

_TITLE_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DEFAULT_CHAR = Char(data=" ", fg="default", bg="default", reverse=False)
_DEFAULT_REVERSE = Char(data=" ", fg="default", bg="default", reverse=True)
_WINDOW = 8192
_MAX_REPLY = 1 << 16   # reply bytes per feed: a query flood must not queue without bound


_CELL_BUDGET = 16384    # cells (and cached runs) over all attribute sets of one screen
_RUN_CACHE_MAX = 64     # longer runs are not kept as cell tuples
_ATTR_SETS = 256        # attribute sets with cached cells and SGR transitions
_TRANSITIONS = 256      # SGR transitions kept per attribute set


class _CellBudget:
    """How many more cells the cell maps of one screen may cache; when spent,
    every map is emptied (the working set refills them)."""

    __slots__ = ("left", "maps")

    def __init__(self) -> None:
        self.left = _CELL_BUDGET
        self.maps: List["_CellMap"] = []

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            for cmap in self.maps:
                dict.clear(cmap)
            self.maps.clear()
            self.left = _CELL_BUDGET - n


class _CellMap(dict):
    """Character -> ``Char`` with one set of attributes (cells are shared);
    also ASCII runs -> tuples of cells.  A map whose attribute set was evicted
    (``budget`` None) computes cells but keeps none."""

    __slots__ = ("attrs", "budget")

    def __init__(self, attrs: Char, budget: Optional[_CellBudget]) -> None:
        super().__init__()
        self.attrs = attrs
        self.budget = budget

    def __missing__(self, ch: str) -> Char:
        cell = new_char(Char, (ch,) + self.attrs[1:])  # attrs._replace(data=ch), faster
        self.keep(ch, cell)
        return cell

    def keep(self, key: str, value: Any) -> None:
        budget = self.budget
        if budget is not None:
            budget.spend(1 + (len(key) >> 3))  # may empty every map, this one too
            if not self:
                budget.maps.append(self)
            self[key] = value


def _drop_info(_attrs: Char, info: tuple) -> None:
    """An evicted attribute set: empty its caches and keep them empty (other
    sets' transitions may still point at it)."""
    info[1].clear()
    info[1].max_entries = 0
    dict.clear(info[2])
    info[2].budget = None


class _AltState:
    __slots__ = ("buffer", "cursor", "mode")

    def __init__(self, buffer: Any, cursor: Any, mode: Optional[int]) -> None:
        self.buffer = buffer
        self.cursor = cursor
        self.mode = mode


class Emulator(PyteScreen):
    """pyte screen state driven by a faster parser (see module docstring)."""

    def __init__(
        self,
        columns: int,
        lines: int,
        history: Optional[History] = None,
        reply: Optional[Callable[[str], None]] = None,
        flood: bool = True,
        recorder: Optional[List[CompactRow]] = None,
    ) -> None:
        self.history = history
        self._recorder = recorder
        self._reply = reply
        # (a recording emulator lays everything out: the flood shortcut is
        # for a scrollback, which lays out later)
        self._flood_enabled = flood and recorder is None
        self._alt: Optional[_AltState] = None
        self._discard = 0
        self._no_flood_until = -1
        self._sgr_cache: Dict[Tuple[Char, str], Char] = BoundedDict(4096)
        self._cell_budget = _CellBudget()
        self._infos: Dict[Char, Tuple[Char, Dict[str, Any], _CellMap]] = BoundedDict(
            _ATTR_SETS, on_evict=_drop_info)
        self._erase_cache: Dict[tuple, Dict[int, Char]] = BoundedDict(256)  # EL cells, per screen width
        self._held = ""          # an incomplete sequence at the end of the last feed
        self._text_end = 0       # where that held sequence starts in the text being fed
        self._flood_classes: Dict[str, int] = BoundedDict(4096)
        self._replies: List[str] = []
        self._reply_size = 0
        self.scrolled = False
        self.app_keypad = False
        super().__init__(columns, lines)
        self._decoder = Decoder(self)

    @property
    def default_char(self) -> Char:
        """pyte's, shared instead of built per call (a new row costs one)."""
        return _DEFAULT_REVERSE if DECSCNM in self.mode else _DEFAULT_CHAR

    # ------------------------------------------------------------------ parser
    def feed_text(self, text: str) -> None:
        """Consume decoded text; an incomplete sequence at its end is kept
        for the next call (so where the text was cut does not matter)."""
        self._no_flood_until = -1
        if self._held:
            text = self._held + text
            self._held = ""
        text = strip_ignored(text)
        if "\x1b#8\x1b#8" in text:
            text = DECALN_RUN.sub("\x1b#8", text)  # DECALN is idempotent
        n, self._held = incomplete_tail(text)
        self._text_end = n
        if ABORTED_HINT.search(text, 0, n) and not STRING_START.search(text, 0, n):
            # CSIs aborted by a control or an ESC do nothing: dropped, so
            # that a flood of them with newlines takes the flood path (not
            # where a string (OSC, DCS...) could be what one ends)
            text = ABORTED_CSI.sub("", text[:n])
            n = self._text_end = len(text)
        pos = 0
        while pos < n:
            # windows of ~8 KiB cut after a LF (see window_end)
            pos = self._feed_parts(text, pos, window_end(text, pos, n, _WINDOW))
        self._discard = 0
        self._send_replies()

    def _attr_info(self, attrs: Char) -> Tuple[Char, Dict[str, Any], _CellMap]:
        """(canonical attrs, SGR transitions, cell map) for ``attrs``."""
        infos = self._infos
        info = infos.get(attrs)
        if info is None:
            info = infos[attrs] = (attrs, BoundedDict(_TRANSITIONS), _CellMap(attrs, self._cell_budget))
        return info

    def _feed_parts(self, text: str, begin: int, stop: int) -> int:
        """Emulate ``text[begin:stop]`` (no pending fallback); returns where
        to go on: ``stop``, or a position after a flood skip or a pyte
        fallback (which may run past ``stop``).

        The cursor lives in locals (``x``, ``y``, ``cur_char``) and is
        written back before anything else looks at it."""
        parts = TOKEN.split(text[begin:stop] if begin or stop != len(text) else text)
        tail = parts.pop()
        decoder = self._decoder
        decoded = decoder.cache
        decode = decoder.decode
        char_widths = CHAR_WIDTHS
        erase_cache = self._erase_cache
        attr_info = self._attr_info
        cols = self.columns
        last_col = cols - 1
        last_line = self.lines - 1
        dirty_add = self.dirty.add
        flood = self._flood_enabled
        cursor = self.cursor
        buf = self.buffer
        mode = self.mode
        irm = IRM in mode
        decom = DECOM in mode
        lnm = LNM in mode
        margins = self.margins
        bottom = last_line if margins is None else margins.bottom
        x = cursor.x
        y = cursor.y
        cur_char, cur_trans, cur_cmap = attr_info(cursor.attrs)
        done_i = 0
        done_pos = begin
        k = -1
        it = iter(parts)
        for txt, seq in zip(it, it):
            k += 1
            if txt:
                n = len(txt)
                if x + n <= cols and not irm and (txt.isascii() or narrow(txt)):
                    # every character one cell wide (binary data is mostly U+FFFD)
                    if n == 1:
                        buf[y][x] = cur_cmap[txt]
                    else:
                        # the cmap also keeps runs (n > 1) as tuples of cells
                        cells = cur_cmap.get(txt)
                        if cells is None:
                            cells = tuple(map(cur_cmap.__getitem__, txt))
                            if n <= _RUN_CACHE_MAX:
                                cur_cmap.keep(txt, cells)
                        buf[y].update(zip(range(x, x + n), cells))
                    x += n
                    dirty_add(y)
                elif n == 1 and x + 2 <= cols and not irm and char_widths.get(txt) == 2:
                    # one wide character that fits (CJK with a colour each)
                    row = buf[y]
                    row[x] = cur_cmap[txt]
                    row[x + 1] = cur_cmap[""]
                    x += 2
                    dirty_add(y)
                else:
                    cursor.x = x
                    cursor.y = y
                    cursor.attrs = cur_char
                    self.draw(txt)
                    x = cursor.x
                    y = cursor.y
            nxt = cur_trans.get(seq)
            if nxt is not None:  # an SGR seen before in this state
                cur_char, cur_trans, cur_cmap = nxt
                continue
            op = decoded.get(seq)
            if op is None:
                op = decode(seq)
            code = op[0]
            if code == OP_CUP:
                if decom:
                    cursor.x = x
                    cursor.y = y
                    try:
                        self.cursor_position(*op[3])
                    except (TypeError, AssertionError, ValueError, IndexError, KeyError):
                        pass
                    x = cursor.x
                    y = cursor.y
                else:
                    x = op[2]
                    if x > last_col:
                        x = last_col
                    y = op[1]
                    if y > last_line:
                        y = last_line
            elif code == OP_SGR:
                nxt = attr_info(self._apply_sgr(cur_char, op[1]))
                if len(cur_trans) < 256:
                    cur_trans[seq] = nxt
                cur_char, cur_trans, cur_cmap = nxt
            elif code == OP_LF:
                if op[1]:
                    x = 0
                if y < bottom:
                    y += 1
                elif y > bottom:
                    y = bottom
                else:
                    cursor.x = x
                    cursor.y = y
                    cursor.attrs = cur_char
                    self.index()
                    if flood and self._flood_ready():
                        j = 2 * k + 2
                        done_pos += sum(map(len, parts[done_i:j]))
                        done_i = j
                        if done_pos >= self._no_flood_until:
                            newpos = self._try_flood(text, done_pos)
                            if newpos != done_pos:
                                return newpos
                if lnm:
                    x = 0
            elif code == OP_EL:
                dirty_add(y)
                key = (op[1], x, cur_char)
                cells = erase_cache.get(key)
                if cells is None:  # (bounded: at most cols x attribute sets)
                    how = op[1]
                    if how == 0:
                        interval = range(x, cols)
                    elif how == 1:
                        interval = range(x + 1)
                    else:
                        interval = range(cols)
                    cells = dict.fromkeys(interval, cur_char)
                    erase_cache[key] = cells
                buf[y].update(cells)
            elif code == OP_CR:
                x = 0
            elif code != OP_NOP:
                cursor.x = x
                cursor.y = y
                cursor.attrs = cur_char
                if code == OP_CALL:
                    try:
                        if op[3]:
                            op[1](*op[2], private=True)
                        else:
                            op[1](*op[2])
                    except (TypeError, AssertionError, ValueError, IndexError, KeyError):
                        pass  # parameters pyte cannot take: ignore the sequence
                elif code == OP_REPLY:
                    # answers read the state and change nothing
                    queued = len(self._replies)
                    try:
                        if op[3]:
                            op[1](*op[2], private=True)
                        else:
                            op[1](*op[2])
                    except TypeError:
                        pass  # more parameters than the query takes
                    if len(op) > 4 and len(self._replies) > queued:
                        for _ in range(min(op[4] - 1, _MAX_REPLY // 4)):
                            self._answer(self._replies[-1])
                    continue
                else:
                    op[1](*op[2])  # OP_RUN
                # anything may have changed
                cursor = self.cursor
                buf = self.buffer
                mode = self.mode
                irm = IRM in mode
                decom = DECOM in mode
                lnm = LNM in mode
                margins = self.margins
                bottom = last_line if margins is None else margins.bottom
                x = cursor.x
                y = cursor.y
                # (always: a DECSCNM change drops the SGR transitions)
                cur_char, cur_trans, cur_cmap = attr_info(cursor.attrs)
                cursor.attrs = cur_char
        cursor.x = x
        cursor.y = y
        cursor.attrs = cur_char
        if tail:
            self.draw(tail)
        return stop

    # ----------------------------------------------------------------- floods
    def _flood_ready(self) -> bool:
        mode = self.mode
        return (
            self.margins is None
            and DECAWM in mode
            and IRM not in mode
            and LNM not in mode
            and self.cursor.y == self.lines - 1
            and not self._discard
        )

    def _try_flood(self, text: str, start: int) -> int:
        """At a scrolling LF: skip layout of lines that will scroll off anyway
        (see :func:`~cctui.terminal.flood.find_skip`); returns where to go on."""
        if not self._flood_ready():
            return start
        found = find_skip(text, start, self._text_end, self.lines, self.columns, self._flood_classes,
                          self._decoder.op)
        if isinstance(found, int):
            self._no_flood_until = found
            return start
        self._skip(found)
        return found.end

    def _skip(self, skip: Skip) -> None:
        """Account for the stretch ``skip`` without laying it out: its pieces
        go to the scrollback as raw text, measured (rows, final column,
        attributes); DECSC, HTS and keypad tokens in it act where the cursor
        is then; the screen is left blank, the cursor where the stretch ends."""
        cursor = self.cursor
        cols = self.columns
        measured = []
        x_end, a_end = cursor.x, cursor.attrs
        apply_sgr = self._apply_sgr
        for k, (piece, stripped) in enumerate(zip(skip.pieces, skip.cleaned)):
            tabs = frozenset(self.tabstops)
            evs = skip.events[k] if skip.events else None
            if not evs:
                nrows, x_next = measure_block(stripped, x_end, cols, self.tabstops)
                a_next = fold_sgr(piece, a_end, apply_sgr)
            else:
                # measured up to each event in turn (rows: the one each
                # part starts on counted once)
                nrows, x_next, a_next = 1, x_end, a_end
                p = 0
                for off, e, c in evs + [(len(piece), len(piece), F_SAFE)]:
                    seg = piece[p:off]
                    if seg:
                        r, x_next = measure_block(clean_flood(seg), x_next, cols, self.tabstops)
                        nrows += r - 1
                        a_next = fold_sgr(seg, a_next, apply_sgr)
                    if c == F_SAVE:
                        cursor.x = x_next
                        cursor.attrs = a_next
                        self.save_cursor()
                    elif c == F_TABSET:
                        self.tabstops.add(x_next)
                    elif c == F_KEYPAD_ON or c == F_KEYPAD_OFF:
                        self.app_keypad = c == F_KEYPAD_ON
                    p = e
            measured.append((piece, x_end, a_end, nrows, tabs))
            x_end, a_end = x_next, a_next
        buf = self.buffer
        dropped = skip.dropped
        if self._alt is None and self.history is not None:
            for y in range(self.lines - 1):
                self._record(compact_row(buf.get(y), cols))
            keep: Optional[int] = None
            left = dropped
            while left:
                # the last rows never scroll off: left out, from the end
                piece, x, attrs, nrows, tabs = measured.pop()
                if nrows > left:
                    keep = nrows - left
                    measured.append((piece, x, attrs, keep, tabs))
                    break
                left -= nrows
            last = len(measured) - 1
            for k, (piece, x, attrs, nrows, tabs) in enumerate(measured):
                self.history.push_raw(RawFlood(piece, x, attrs, cols, tabs, keep if k == last else None), nrows)
        buf.clear()
        # what scrolls off next is already recorded (the tail's first screenful)
        self._discard = 0 if dropped else self.lines
        cursor.x = x_end
        cursor.attrs = a_end
        self.dirty.update(range(self.lines))

    def _layout_raw(self, raw: RawFlood) -> List[CompactRow]:
        # two rows: a combining mark at column 0 joins the row above, as on
        # a screen (the row above the first is a stand-in, never recorded:
        # no flood starts with a mark in its first line, see flood.mark_risk)
        rows: List[CompactRow] = []
        scratch = Emulator(raw.cols, 2, flood=False, recorder=rows)
        scratch.tabstops = set(raw.tabstops)
        scratch.cursor.x = raw.x
        scratch.cursor.y = 1
        scratch.cursor.attrs = raw.attrs
        scratch.feed_text(raw.text)
        buf = scratch.buffer
        if rows:
            del rows[0]
            rows.append(compact_row(buf.get(0), raw.cols))
        rows.append(compact_row(buf.get(1), raw.cols))
        scratch.release()
        if raw.keep is not None:
            del rows[raw.keep:]
        return rows

    def release(self) -> None:
        """Let a throwaway emulator be freed at once. Its dispatch tables, op cache
        and buffer factory refer back to it, and those cycles would keep its
        caches (megabytes once a scrollback is laid out) alive until the cyclic
        GC happens to run. The emulator is unusable afterwards."""
        self._infos.clear()             # infos point at each other: another cycle
        vars(self).clear()

    # ---------------------------------------------------------- hot methods
    def _record(self, row: CompactRow) -> None:
        if self.history is not None:
            self.history.push(row)
        elif self._recorder is not None:
            self._recorder.append(row)

    def draw(self, data: str) -> None:
        cursor = self.cursor
        mode = self.mode
        x = cursor.x
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
            cmap = self._attr_info(cursor.attrs)[2]
            self.buffer[cursor.y].update(zip(range(x, x + n), map(cmap.__getitem__, data)))
            cursor.x = x + n
            self.dirty.add(cursor.y)
            return
        if IRM in mode or DECAWM not in mode:
            return self._draw_slow(data)
        cmap = self._attr_info(cursor.attrs)[2]
        if not narrow:
            return self._draw_wide(data, cmap)
        get = cmap.__getitem__
        cols = self.columns
        buf = self.buffer
        i = 0
        while i < n:
            if x >= cols:
                self.dirty.add(cursor.y)
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

    def _draw_wide(self, data: str, cmap: _CellMap) -> None:
        """Non-ASCII text with autowrap on and insert mode off: the same rules
        as :meth:`_draw_slow`, with cached widths and cells."""
        cursor = self.cursor
        cols = self.columns
        buf = self.buffer
        x = cursor.x
        line = buf[cursor.y]
        stub = cmap[""]
        widths = CHAR_WIDTHS
        combining = unicodedata.combining
        normalize = unicodedata.normalize
        for char in data:
            w = widths.get(char)
            if w is None:
                w = widths[char] = wcwidth(char)
            if x == cols:
                self.dirty.add(cursor.y)
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

    def _draw_slow(self, data: str) -> None:
        """pyte's ``draw``, except that an unprintable character is skipped
        (pyte drops the rest of the text run)."""
        cursor = self.cursor
        cols = self.columns
        mode = self.mode
        for char in data:
            char_width = wcwidth(char)
            if cursor.x == cols:
                if DECAWM in mode:
                    self.dirty.add(cursor.y)
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

    def index(self) -> None:
        margins = self.margins
        cursor = self.cursor
        if margins is None:
            top, bottom = 0, self.lines - 1
        else:
            top, bottom = margins
        if cursor.y != bottom:
            self.cursor_down()
            return
        buf = self.buffer
        if top == 0 and bottom == self.lines - 1 and self._alt is None:
            if self._discard:
                self._discard -= 1
            elif self.history is not None or self._recorder is not None:
                self._record(compact_row(buf.get(0), self.columns))
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

    def alignment_display(self) -> None:
        """DECALN (``ESC # 8``): fill the screen with 'E' (default attributes,
        as xterm and tmux do), one shared row of cells copied per line."""
        cols = self.columns
        cell = self._attr_info(self.default_char)[2]["E"]
        line = dict.fromkeys(range(cols), cell)
        buf = self.buffer
        for y in range(self.lines):
            row = buf[y]
            row.clear()
            row.update(line)
        self.dirty.update(range(self.lines))

    def cursor_to_line(self, line: Optional[int] = None) -> None:
        if DECOM in self.mode and self.margins is None:
            self.cursor.y = (line or 1) - 1  # pyte asserts here
            self.ensure_vbounds()
            return
        super().cursor_to_line(line)

    def cursor_position(self, line: Optional[int] = None, column: Optional[int] = None, *_: int) -> None:
        """CUP/HVP; parameters past the second are ignored (pyte ignores
        the sequence)."""
        if DECOM in self.mode:
            return super().cursor_position(line, column)
        cursor = self.cursor
        cursor.x = min(max(0, (column or 1) - 1), self.columns - 1)
        cursor.y = min(max(0, (line or 1) - 1), self.lines - 1)

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
        if how == 3 and self._alt is None and self.history is not None:
            self.history.clear()
        if how == 0:
            interval = range(self.cursor.y + 1, self.lines)
        elif how == 1:
            interval = range(self.cursor.y)
        elif how in (2, 3):
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
        if how == 0 or how == 1:
            self.erase_in_line(how)

    def tab(self) -> None:
        x = self.cursor.x
        for stop in sorted(self.tabstops):
            if x < stop:
                self.cursor.x = min(stop, self.columns - 1)
                return
        self.cursor.x = self.columns - 1

    def _apply_sgr(self, attrs: Char, params: str) -> Char:
        key = (attrs, params)
        got = self._sgr_cache.get(key)
        if got is not None:
            return got
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

    # ------------------------------------------------------------- modes
    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        private = kwargs.get("private")
        if private:
            modes = tuple(m for m in modes if m != DecMode.DECCOLM)  # xterm's default ignores it
            for m in modes:
                if m in MOUSE_TRACKING_MODES:
                    self.mode.difference_update(MOUSE_TRACKING)
                elif m in ALT_SCREEN_MODES:
                    self._enter_alternate(m)
        super().set_mode(*modes, **kwargs)
        if private and DecMode.DECSCNM in modes:
            self._sgr_cache.clear()
            self._infos.clear()

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        private = kwargs.get("private")
        if private:
            modes = tuple(m for m in modes if m != DecMode.DECCOLM)
            for m in modes:
                if m in MOUSE_TRACKING_MODES:
                    self.mode.difference_update(MOUSE_TRACKING)
                elif m in ALT_SCREEN_MODES:
                    self._leave_alternate(m)
        super().reset_mode(*modes, **kwargs)
        if private and DecMode.DECSCNM in modes:
            self._sgr_cache.clear()
            self._infos.clear()

    def _new_buffer(self) -> Any:
        return new_buffer(lambda: self.default_char)

    def _enter_alternate(self, which: int) -> None:
        if self._alt is not None:
            return
        saved_cursor = copy.copy(self.cursor) if which == DecMode.ALT_SCREEN_1049 else None
        self._alt = _AltState(self.buffer, saved_cursor, which)
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
            self.ensure_hbounds()
            self.ensure_vbounds()
        self.dirty.update(range(self.lines))

    @property
    def alternate(self) -> bool:
        return self._alt is not None

    def reset(self) -> None:
        alt = getattr(self, "_alt", None)
        if alt is not None:
            self.buffer = alt.buffer
            self._alt = None
        super().reset()
        self.app_keypad = False
        if hasattr(self, "_sgr_cache"):
            self._sgr_cache.clear()
            self._infos.clear()

    # ----------------------------------------------------------- replies
    def _answer(self, text: str) -> None:
        """Queue a reply; :meth:`_send_replies` sends them in one piece at the
        end of the feed.  Past ``_MAX_REPLY`` bytes per feed a query flood
        gets no more answers."""
        if self._reply is not None and self._reply_size < _MAX_REPLY:
            self._replies.append(text)
            self._reply_size += len(text)

    def _send_replies(self) -> None:
        if self._replies:
            text = "".join(self._replies)
            self._replies.clear()
            self._reply_size = 0
            if self._reply is not None:
                self._reply(text)

    def write_process_input(self, data: str) -> None:
        self._answer(data)

    def report_device_attributes(self, mode: int = 0, **kwargs: bool) -> None:
        if mode == 0 and not kwargs.get("private"):
            self._answer(DA_PRIMARY_REPLY)

    def report_secondary_device_attributes(self, mode: int = 0) -> None:
        if mode == 0:
            self._answer(DA_SECONDARY_REPLY)

    def report_device_status(self, mode: int, *_: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            return
        if mode == 5:
            self._answer(DSR_OK_REPLY)
        elif mode == 6:
            x = min(self.cursor.x, self.columns - 1) + 1
            y = self.cursor.y + 1
            if DECOM in self.mode and self.margins is not None:
                y -= self.margins.top
            self._answer("\x1b[%d;%dR" % (y, x))

    def keypad_application(self) -> None:
        """DECKPAM (``ESC =``)."""
        self.app_keypad = True

    def keypad_numeric(self) -> None:
        """DECKPNM (``ESC >``)."""
        self.app_keypad = False

    def set_title(self, param: str) -> None:
        """Kept for the pane's own label (never forwarded): bounded, and
        without control characters."""
        self.title = _TITLE_JUNK.sub("", param[:TITLE_LIMIT])

    # ------------------------------------------------------------- resize
    def resize(self, lines: Optional[int] = None, columns: Optional[int] = None) -> None:
        """Resize; shrinking drops blank rows under the cursor first, then
        moves top rows into the scrollback (pyte drops them)."""
        lines = lines or self.lines
        columns = columns or self.columns
        if lines == self.lines and columns == self.columns:
            return
        old_cols = self.columns
        if lines < self.lines:
            drop = self.lines - lines
            self.cursor.y = self._shrink(self.buffer, self.cursor.y, drop, record=self._alt is None)
            if self._alt is not None:
                saved = self._alt.cursor
                y = self._shrink(self._alt.buffer, saved.y if saved else self.lines - 1, drop, record=True)
                if saved is not None:
                    saved.y = y
        if columns < old_cols:
            buffers = [self.buffer] + ([self._alt.buffer] if self._alt else [])
            for buf in buffers:
                for row in buf.values():
                    for x in [k for k in row if k >= columns]:
                        del row[x]
        self.lines, self.columns = lines, columns
        self._erase_cache.clear()
        self.tabstops = {t for t in self.tabstops if t < columns} | set(range(((old_cols + 7) // 8) * 8, columns, 8))
        self.margins = None
        self.cursor.x = min(self.cursor.x, columns - 1)
        self.cursor.y = min(self.cursor.y, lines - 1)
        if self._alt is not None and self._alt.cursor is not None:
            self._alt.cursor.x = min(self._alt.cursor.x, columns - 1)
            self._alt.cursor.y = min(self._alt.cursor.y, lines - 1)
        self.dirty.update(range(lines))

    def _shrink(self, buf: Any, cursor_y: int, drop: int, record: bool) -> int:
        old = self.lines
        bottom_free = 0
        for y in range(old - 1, cursor_y, -1):
            row = buf.get(y)
            if row and any(c != row.default for c in row.values()):
                break
            bottom_free += 1
        from_bottom = min(bottom_free, drop)
        from_top = drop - from_bottom
        for y in range(old - from_bottom, old):
            buf.pop(y, None)
        if from_top:
            for y in range(from_top):
                if record:
                    self._record(compact_row(buf.get(y), self.columns))
            rows = {y - from_top: buf[y] for y in range(from_top, old - from_bottom) if y in buf}
            buf.clear()
            buf.update(rows)
        return max(0, cursor_y - from_top)


check_handlers(Emulator)

__all__ = ["Emulator", "EMPTY_ROW"]
