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
from collections import defaultdict
from typing import Any, Callable, Dict, List, Optional, Tuple

import pyte
from pyte import modes as mo
from pyte.screens import Char, Margins, StaticDefaultDict, wcwidth

from .history import EMPTY_ROW, CompactRow, History, RawFlood, compact_row

# --- private modes (DECSET numbers, as pyte stores them: shifted left by 5) ---
DECCKM = 1 << 5
MOUSE_X10 = 9 << 5
MOUSE_NORMAL = 1000 << 5
MOUSE_BUTTON = 1002 << 5
MOUSE_ANY = 1003 << 5
FOCUS_EVENTS = 1004 << 5
MOUSE_UTF8 = 1005 << 5
MOUSE_SGR = 1006 << 5
MOUSE_URXVT = 1015 << 5
BRACKETED_PASTE = 2004 << 5
_MOUSE_TRACKING = (MOUSE_X10, MOUSE_NORMAL, MOUSE_BUTTON, MOUSE_ANY)
_ALT_MODES = (47, 1047, 1049)

# Replies to terminal queries: fixed strings, never derived from guest data.
DA_PRIMARY_REPLY = "\x1b[?62;22c"   # VT220 with ANSI colour
DA_SECONDARY_REPLY = "\x1b[>1;10;0c"
DSR_OK_REPLY = "\x1b[0n"

_TOKEN = re.compile(
    r"([^\x00-\x1f\x7f-\x9f]+)"                      # 1 printable run
    r"|(\r?\n)"                                       # 2 (CR)LF
    r"|\x1b\[([0-9;]*)m"                              # 3 SGR
    r"|\x1b\[([?>]?)([0-9;]*)([@-~])"                 # 4,5,6 CSI
    r"|(\r)"                                          # 7 CR
    r"|\x1b\](?![PR])([^\x07\x1b\x9c]*)(?:\x07|\x1b\\|\x9c)"  # 8 OSC (swallowed)
    r"|\x1b([^\[\]#%()P_^X\x00-\x1f\x7f-\x9f])"       # 9 two-byte ESC
    r"|([\x07-\x0f\x7f])"                             # 10 single controls
    r"|\x1b[()][^\x00-\x1f\x7f-\x9f]"                 # (charset: no-op in UTF-8) -> lastindex None
    r"|\x1b#([^\x00-\x1f\x7f-\x9f])"                  # 11 ESC # x
    r"|\x1b%[^\x00-\x1f\x7f-\x9f]"                    # ESC % x: stay in UTF-8 -> lastindex None
    r"|\x1b[P_^X][^\x1b\x9c]*(\x1b\\|\x9c)"           # 12 DCS/APC/PM/SOS (swallowed)
    r"|([\x00-\x06\x10-\x1a\x1c-\x1f\x80-\x9f])"      # 13 other C0/C1: ignored
)
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_SGR_PARAMS = re.compile(r"\x1b\[([0-9;]*)m")
_NONSIMPLE_ESC = re.compile(r"\x1b(?!\[[0-9;]*m)")
_NONSIMPLE_CTRL = re.compile(r"[\x00-\x07\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")

_FALLBACK_LIMIT = 1 << 16


class _WidthTable(dict):
    """``str.translate`` table: each character becomes as many 'x' as it is wide."""

    def __missing__(self, cp: int) -> str:
        w = wcwidth(chr(cp))
        val = "xx" if w == 2 else ("x" if w == 1 else "")
        self[cp] = val
        return val


_WIDTHS = _WidthTable()
_CHAR_WIDTHS: Dict[str, int] = {}


class _CellMap(dict):
    """Character -> ``Char`` with one set of attributes (cells are shared)."""

    __slots__ = ("attrs",)

    def __init__(self, attrs: Char) -> None:
        super().__init__()
        self.attrs = attrs

    def __missing__(self, ch: str) -> Char:
        cell = self[ch] = self.attrs._replace(data=ch)
        return cell


class _AltState:
    __slots__ = ("buffer", "cursor", "mode")

    def __init__(self, buffer: Any, cursor: Any, mode: Optional[int]) -> None:
        self.buffer = buffer
        self.cursor = cursor
        self.mode = mode


class Emulator(pyte.Screen):
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
        self._flood_enabled = flood
        self._alt: Optional[_AltState] = None
        self._discard = 0
        self._no_flood_until = -1
        self._sgr_cache: Dict[Tuple[Char, str], Char] = {}
        self._cmaps: Dict[Char, _CellMap] = {}
        self._fallback = False
        self._fallback_count = 0
        self.scrolled = False
        self.app_keypad = False
        super().__init__(columns, lines)
        self._pstream = pyte.Stream(self)
        self._csi = self._build_csi()

    # ------------------------------------------------------------------ parser
    def _build_csi(self) -> Dict[str, Callable[..., None]]:
        table = {}
        for final, name in pyte.Stream.csi.items():
            table[final] = getattr(self, name)
        table["S"] = self.scroll_up
        table["T"] = self.scroll_down
        return table

    def feed_text(self, text: str) -> None:
        """Consume decoded text."""
        pos = 0
        n = len(text)
        self._no_flood_until = -1
        if self._fallback:
            pos = self._run_fallback(text, 0)
        cursor = self.cursor
        csi = self._csi
        draw = self.draw
        while pos < n:
            smatch = _TOKEN.scanner(text, pos).match
            restart = False
            end = pos
            for m in iter(smatch, None):
                end = m.end()
                kind = m.lastindex
                if kind == 1:
                    draw(m.group(1))
                elif kind == 2:
                    if m.end() - m.start() == 2:
                        self.cursor.x = 0
                    self.scrolled = False
                    self.linefeed()
                    if self.scrolled and end >= self._no_flood_until and self._flood_enabled:
                        newpos = self._try_flood(text, end)
                        if newpos != end:
                            pos = newpos
                            restart = True
                            break
                elif kind == 3:
                    self.select_graphic_rendition_str(m.group(3))
                elif kind == 6:
                    prefix, params, final = m.group(4, 5, 6)
                    if final == "H" and not prefix and mo.DECOM not in self.mode:
                        y, _, x = params.partition(";")
                        cursor = self.cursor
                        try:
                            cursor.x = min(max(0, int(x or 1) - 1), self.columns - 1)
                            cursor.y = min(max(0, int(y or 1) - 1), self.lines - 1)
                        except ValueError:  # "1;2;3"
                            self._dispatch_csi(prefix, params, final)
                    else:
                        self._dispatch_csi(prefix, params, final)
                elif kind == 7:
                    self.cursor.x = 0
                elif kind == 8:
                    # OSC: title, clipboard, colours... never forwarded; the
                    # title is kept (bounded) for the pane's own label
                    body = m.group(8)
                    if body[:2] in ("0;", "2;"):
                        self.title = body[2:258]
                elif kind == 9:
                    self._dispatch_esc(m.group(9))
                elif kind == 10:
                    ch = m.group(10)
                    if ch == "\x08":
                        self.backspace()
                    elif ch == "\t":
                        self.tab()
                    elif ch in "\x0b\x0c":
                        self.linefeed()
                    # BEL, SO, SI, DEL: nothing to do here
                elif kind == 11:
                    if m.group(11) == "8":
                        self.alignment_display()
                # None (charset designations), 12 (DCS...), 13 (other
                # controls): swallowed.
            else:
                pos = end
                if pos < n:
                    # Not recognised here: let pyte's state machine decide.
                    pos = self._run_fallback(text, pos, start=True)
                continue
            if not restart:
                pos = end
        self._discard = 0

    def _run_fallback(self, text: str, pos: int, start: bool = False) -> int:
        send = self._pstream._send_to_parser
        n = len(text)
        if start:
            self._fallback = True
            self._fallback_count = 0
        while pos < n:
            ch = text[pos]
            pos += 1
            self._fallback_count += 1
            try:
                ground = send(ch)
            except Exception:
                ground = True  # pyte reset its parser; carry on
            if ground:
                self._fallback = False
                return pos
            if self._fallback_count > _FALLBACK_LIMIT:
                self._pstream._initialize_parser()
                self._fallback = False
                return pos
        return pos

    def _dispatch_csi(self, prefix: str, params: str, final: str) -> None:
        if prefix == ">":
            if final == "c" and params in ("", "0"):
                self._answer(DA_SECONDARY_REPLY)
            return
        fn = self._csi.get(final)
        if fn is None:
            return
        if params:
            args = [min(int(p or 0), 9999) for p in params.split(";")]
        else:
            args = [0]
        try:
            if prefix:
                if final in "hlJKc":
                    fn(*args, private=True)
            elif final == "H" or final == "f":
                self._cup(*args)
            elif final == "m":
                self.select_graphic_rendition(*args)
            else:
                fn(*args)
        except (TypeError, AssertionError, ValueError, IndexError, KeyError):
            pass  # parameters pyte cannot take: ignore the sequence

    def _dispatch_esc(self, ch: str) -> None:
        if ch == "7":
            self.save_cursor()
        elif ch == "8":
            self.restore_cursor()
        elif ch == "D":
            self.index()
        elif ch == "E":
            self.linefeed()
        elif ch == "M":
            self.reverse_index()
        elif ch == "H":
            self.set_tab_stop()
        elif ch == "c":
            self.reset()
        elif ch == "=":
            self.app_keypad = True
        elif ch == ">":
            self.app_keypad = False

    # ----------------------------------------------------------------- floods
    def _flood_ready(self) -> bool:
        mode = self.mode
        return (
            self.margins is None
            and mo.DECAWM in mode
            and mo.IRM not in mode
            and mo.LNM not in mode
            and self.cursor.y == self.lines - 1
            and not self._discard
        )

    def _try_flood(self, text: str, start: int) -> int:
        """At a scrolling LF: skip layout of lines that will scroll off anyway."""
        if not self._flood_ready():
            return start
        lines = self.lines
        esc = _NONSIMPLE_ESC.search(text, start)
        stop = esc.start() if esc else len(text)
        ctl = _NONSIMPLE_CTRL.search(text, start, stop)
        if ctl:
            stop = ctl.start()
        if text.count("\n", start, stop) < 2 * lines + 2:
            self._no_flood_until = stop
            return start
        split = stop
        rfind = text.rfind
        for _ in range(lines):
            split = rfind("\n", start, split)
        self._skip_lines(text[start:split])
        return split

    def _skip_lines(self, block: str) -> None:
        """Account for ``block`` (simple text ending just before an LF that is
        followed by at least ``lines`` more LFs) without laying it out."""
        cursor = self.cursor
        x0, a0 = cursor.x, cursor.attrs
        nrows, x_end = self._measure_block(_SGR.sub("", block), x0)
        a_end = self._fold_sgr(block, a0)
        buf = self.buffer
        if self._alt is None and (self.history is not None or self._recorder is not None):
            cols = self.columns
            for y in range(self.lines - 1):
                self._record(compact_row(buf.get(y), cols))
            if self.history is not None:
                self.history.push_raw(RawFlood(block, x0, a0, cols, self.tabstops), nrows)
            else:
                assert self._recorder is not None
                self._recorder.extend(self._layout_raw(RawFlood(block, x0, a0, cols, self.tabstops)))
        buf.clear()
        self._discard = self.lines  # what scrolls off next is already recorded
        cursor.x = x_end
        cursor.attrs = a_end
        self.dirty.update(range(self.lines))

    def _measure_block(self, stripped: str, x: int) -> Tuple[int, int]:
        """Rows taken and final column for SGR-free simple text from column x."""
        parts = stripped.split("\n")
        cols = self.columns
        k = len(parts)
        if (
            k > 2
            and stripped.isascii()
            and "\t" not in stripped
            and "\x08" not in stripped
            and stripped.count("\r") == k - 1 == stripped.count("\r\n")
        ):
            # every line but the last ends in CR, so each starts at column 0
            r0, _ = self._measure_line(parts[0], x)
            rl, x_end = self._measure_line(parts[-1], 0)
            lens = list(map(len, parts[1:-1]))
            extra = 0
            if max(lens) > cols + 1:
                extra = sum([(n - 2) // cols for n in lens if n > cols + 1])
            return r0 + (k - 2) + extra + rl, x_end
        total = 0
        measure = self._measure_line
        for part in parts:
            r, x = measure(part, x)
            total += r
        return total, x

    def _measure_line(self, s: str, x: int) -> Tuple[int, int]:
        cols = self.columns
        if "\r" in s:
            if s[-1] == "\r" and s.count("\r") == 1:
                return self._measure_line(s[:-1], x)[0], 0
            return self._simulate(s, x)
        if "\t" in s or "\x08" in s:
            return self._simulate(s, x)
        if not s:
            return 1, x
        if s.isascii():
            w = len(s)
            if x == 0 and w <= cols:
                return 1, w
            return 1 + (x + w - 1) // cols, (x + w - 1) % cols + 1
        if x == 0:
            w = len(s.translate(_WIDTHS))
            if w < cols:
                return 1, w
        return self._simulate(s, x)

    def _simulate(self, s: str, x: int) -> Tuple[int, int]:
        """Per-character cursor walk with exactly the rules of :meth:`draw`."""
        cols = self.columns
        rows = 1
        stops = sorted(self.tabstops)
        for ch in s:
            if ch == "\r":
                x = 0
            elif ch == "\x08":
                if x == cols:
                    x -= 1
                x = max(0, x - 1)
            elif ch == "\t":
                for stop in stops:
                    if x < stop:
                        x = min(stop, cols - 1)
                        break
                else:
                    x = cols - 1
            else:
                w = wcwidth(ch)
                if x == cols:
                    rows += 1
                    x = 0
                if w > 0:
                    x = min(x + w, cols)
        return rows, x

    def _fold_sgr(self, block: str, attrs: Char) -> Char:
        i = max(block.rfind("\x1b[0m"), block.rfind("\x1b[m"))
        if i >= 0:
            block = block[i:]
        apply = self._apply_sgr
        for params in _SGR_PARAMS.findall(block):
            attrs = apply(attrs, params)
        return attrs

    def _layout_raw(self, raw: RawFlood) -> List[CompactRow]:
        rows: List[CompactRow] = []
        scratch = Emulator(raw.cols, 1, flood=False, recorder=rows)
        scratch.tabstops = set(raw.tabstops)
        scratch.cursor.x = raw.x
        scratch.cursor.attrs = raw.attrs
        scratch.feed_text(raw.text)
        rows.append(compact_row(scratch.buffer.get(0), raw.cols))
        return rows

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
        if x + len(data) <= self.columns and data.isascii() and mo.IRM not in mode:
            # fits in the row: no wrap can happen
            attrs = cursor.attrs
            cmap = self._cmaps.get(attrs)
            if cmap is None:
                if len(self._cmaps) > 1024:
                    self._cmaps.clear()
                cmap = self._cmaps[attrs] = _CellMap(attrs)
            self.buffer[cursor.y].update(zip(range(x, x + len(data)), map(cmap.__getitem__, data)))
            cursor.x = x + len(data)
            self.dirty.add(cursor.y)
            return
        if mo.IRM in mode or mo.DECAWM not in mode:
            return self._draw_slow(data)
        attrs = cursor.attrs
        cmap = self._cmaps.get(attrs)
        if cmap is None:
            if len(self._cmaps) > 1024:
                self._cmaps.clear()
            cmap = self._cmaps[attrs] = _CellMap(attrs)
        if not data.isascii():
            return self._draw_wide(data, cmap)
        get = cmap.__getitem__
        cols = self.columns
        buf = self.buffer
        x = cursor.x
        n = len(data)
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
        widths = _CHAR_WIDTHS
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
            elif w == 0 and unicodedata.combining(char):
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
                if mo.DECAWM in mode:
                    self.dirty.add(cursor.y)
                    cursor.x = 0
                    self.linefeed()
                elif char_width > 0:
                    cursor.x -= char_width
            if mo.IRM in mode and char_width > 0:
                self.insert_characters(char_width)
            line = self.buffer[cursor.y]
            if char_width == 1:
                line[cursor.x] = cursor.attrs._replace(data=char)
            elif char_width == 2:
                line[cursor.x] = cursor.attrs._replace(data=char)
                if cursor.x + 1 < cols:
                    line[cursor.x + 1] = cursor.attrs._replace(data="")
            elif char_width == 0 and unicodedata.combining(char):
                if cursor.x:
                    last = line[cursor.x - 1]
                    line[cursor.x - 1] = last._replace(data=unicodedata.normalize("NFC", last.data + char))
                elif cursor.y:
                    prev = self.buffer[cursor.y - 1]
                    last = prev[cols - 1]
                    prev[cols - 1] = last._replace(data=unicodedata.normalize("NFC", last.data + char))
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
        for y in range(top, bottom):
            buf[y] = buf[y + 1]
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
        """SU (``CSI n S``): scroll the region up; pyte ignores it."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        count = min(count or 1, bottom - top + 1)
        buf = self.buffer
        for _ in range(count):
            if top == 0 and bottom == self.lines - 1 and self._alt is None:
                self._record(compact_row(buf.get(0), self.columns))
            for y in range(top, bottom):
                buf[y] = buf[y + 1]
            buf.pop(bottom, None)
        self.dirty.update(range(top, bottom + 1))

    def scroll_down(self, count: Optional[int] = None) -> None:
        """SD (``CSI n T``): scroll the region down; pyte ignores it."""
        top, bottom = self.margins or Margins(0, self.lines - 1)
        count = min(count or 1, bottom - top + 1)
        buf = self.buffer
        for _ in range(count):
            for y in range(bottom, top, -1):
                buf[y] = buf[y - 1]
            buf.pop(top, None)
        self.dirty.update(range(top, bottom + 1))

    def cursor_to_line(self, line: Optional[int] = None) -> None:
        if mo.DECOM in self.mode and self.margins is None:
            self.cursor.y = (line or 1) - 1  # pyte asserts here
            self.ensure_vbounds()
            return
        super().cursor_to_line(line)

    def _cup(self, line: Optional[int] = None, column: Optional[int] = None, *_: int) -> None:
        if mo.DECOM in self.mode:
            return self.cursor_position(line, column)
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

    def select_graphic_rendition_str(self, params: str) -> None:
        cursor = self.cursor
        key = (cursor.attrs, params)
        got = self._sgr_cache.get(key)
        if got is None:
            got = self._apply_sgr(cursor.attrs, params)
        cursor.attrs = got

    def _apply_sgr(self, attrs: Char, params: str) -> Char:
        key = (attrs, params)
        got = self._sgr_cache.get(key)
        if got is not None:
            return got
        args = [min(int(p or 0), 9999) for p in params.split(";")] if params else [0]
        cursor = self.cursor
        saved = cursor.attrs
        cursor.attrs = attrs
        try:
            super().select_graphic_rendition(*args)
            got = cursor.attrs
        finally:
            cursor.attrs = saved
        if len(self._sgr_cache) > 8192:
            self._sgr_cache.clear()
        self._sgr_cache[key] = got
        return got

    def select_graphic_rendition(self, *attrs: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            return  # CSI ? ... m is not SGR; pyte raises TypeError here
        super().select_graphic_rendition(*attrs)

    # ------------------------------------------------------------- modes
    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        private = kwargs.get("private")
        if private:
            modes = tuple(m for m in modes if m != 3)  # DECCOLM: xterm's default ignores it
            for m in modes:
                if m in (9, 1000, 1002, 1003):
                    self.mode.difference_update(_MOUSE_TRACKING)
                elif m in _ALT_MODES:
                    self._enter_alternate(m)
        super().set_mode(*modes, **kwargs)
        if private and 5 in modes:
            self._sgr_cache.clear()
            self._cmaps.clear()

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        private = kwargs.get("private")
        if private:
            modes = tuple(m for m in modes if m != 3)
            for m in modes:
                if m in (9, 1000, 1002, 1003):
                    self.mode.difference_update(_MOUSE_TRACKING)
                elif m in _ALT_MODES:
                    self._leave_alternate(m)
        super().reset_mode(*modes, **kwargs)
        if private and 5 in modes:
            self._sgr_cache.clear()
            self._cmaps.clear()

    def _new_buffer(self) -> Any:
        return defaultdict(lambda: StaticDefaultDict[int, Char](self.default_char))

    def _enter_alternate(self, which: int) -> None:
        if self._alt is not None:
            return
        saved_cursor = copy.copy(self.cursor) if which == 1049 else None
        self._alt = _AltState(self.buffer, saved_cursor, which)
        self.buffer = self._new_buffer()
        self.dirty.update(range(self.lines))

    def _leave_alternate(self, which: int) -> None:
        alt = self._alt
        if alt is None:
            return
        self._alt = None
        self.buffer = alt.buffer
        if alt.cursor is not None and which == 1049:
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
            self._cmaps.clear()

    # ----------------------------------------------------------- replies
    def _answer(self, text: str) -> None:
        if self._reply is not None:
            self._reply(text)

    def write_process_input(self, data: str) -> None:
        self._answer(data)

    def report_device_attributes(self, mode: int = 0, **kwargs: bool) -> None:
        if mode == 0 and not kwargs.get("private"):
            self._answer(DA_PRIMARY_REPLY)

    def report_device_status(self, mode: int, *_: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            return
        if mode == 5:
            self._answer(DSR_OK_REPLY)
        elif mode == 6:
            x = min(self.cursor.x, self.columns - 1) + 1
            y = self.cursor.y + 1
            if mo.DECOM in self.mode and self.margins is not None:
                y -= self.margins.top
            self._answer("\x1b[%d;%dR" % (y, x))

    def set_title(self, param: str) -> None:
        self.title = param  # kept for the pane's own label; never forwarded

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


__all__ = ["Emulator", "EMPTY_ROW"]
