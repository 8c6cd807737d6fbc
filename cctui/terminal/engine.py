"""The emulator: a pyte screen driven by its own parser, fast paths and scrollback.

:class:`Emulator` ties the parts together: text comes in (:meth:`feed_text`),
controls that never act are dropped and an incomplete sequence at the end is
held for the next feed (:mod:`~cctui.terminal.sequences`); windows of it
go through the hot loop (:mod:`~cctui.terminal.hotloop`), which runs each
token's op (:mod:`~cctui.terminal.dispatch`) on the screen
(:mod:`~cctui.terminal.screen`); at a line feed that scrolls, a flood may be
skipped (:mod:`~cctui.terminal.flood`).  pyte is reached only through
:mod:`~cctui.terminal.pyte_compat`.

The screen state *is* pyte's (``buffer`` of ``{x: Char}`` rows, ``cursor``,
``mode``, ``margins``), and every operation that is not on a hot path is
pyte's own method, so the result equals what pyte computes.  What changes
(every deliberate difference from pyte):

* parsing: one compiled tokenizer turns text runs, CR/LF, SGR and the known
  CSI/ESC/OSC sequences into direct method calls.  Its grammar is total: a
  sequence interrupted by a character it cannot hold is aborted and does
  nothing (pyte's state machine is not used at all).  Controls that never
  act (NUL, SO/SI, most C0 and C1) are dropped; BEL, BS, HT and CR inside a
  CSI act and the sequence goes on (LF, VT, FF, CAN, SUB, ESC abort it); CSI
  parameters longer than 64 characters, with intermediates, sub-parameters
  (but in SGR: ``38:2::r:g:b``, ``38:5:n``, ``4:n``; ``58`` is ignored) or the
  markers ``<`` and ``=`` make the sequence ignored (as tmux does); each
  parameter is clamped to 9999; a CSI that pyte cannot take (a
  ``TypeError``...) is ignored.
* drawing: ASCII runs are written a row-slice at a time with cached cells;
  an unprintable character is skipped (pyte drops the rest of the run); a
  cell keeps at most 4 characters (a base and 3 combining marks); a wide
  character with one column left wraps first (autowrap on) or is dropped
  (pyte draws its left half in the last column); text written over the left
  half of a wide character blanks its right half (pyte leaves the stub).
* floods: when a run of text holds many more lines than the screen, only the
  last screenful is laid out; the part that would scroll off goes to the
  scrollback as raw text (laid out later, on view) after measuring how many
  rows it takes and which attributes and column it ends with.
* dirty rows are tracked here (pyte marks every row dirty on every scroll).
* additions pyte lacks: alternate screen (DECSET 47/1047/1049), scrollback
  (rows that scroll off, ED 3 clears it, a shrinking resize moves top rows
  there instead of dropping them, a growing one takes them back), reflow on
  resize as tmux does (:mod:`~cctui.terminal.reflow`: pyte cuts rows; the
  alternate screen is cut), mode flags for mouse reporting /
  bracketed paste / cursor keys / keypad (DECKPAM, DECKPNM), SU/SD (clamped
  to the region), controlled DA/DA2/DSR answers (bounded per feed), OSC
  swallowed (a title is kept for the pane's label: at most 256 characters,
  no controls).
* sequences pyte takes otherwise (following xterm and tmux): CUP with more
  than two parameters moves (pyte ignores it); VPA under DECOM without
  margins does not assert; DECCOLM is ignored (xterm's default); ``CSI ? m``
  is ignored; DECALN fills with default attributes, resets the margins and
  homes the cursor; NEL (``ESC E``) goes to column 0; a line feed under the
  scroll region moves down to the last row without scrolling (pyte jumps back
  to the region); DECRC with nothing saved resets the attributes too;
  ``CSI r`` homes the cursor; ED 3 clears only the scrollback (pyte blanks
  the screen); HPA (``CSI n`` and a backquote), CBT (``CSI n Z``), REP (``CSI n b``: an
  ASCII character, up to the end of the row) and SCOSC/SCORC (``CSI s``,
  ``CSI u``: DECSC/DECRC) are done (pyte ignores them).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from .bounded import BoundedDict
from .dispatch import OP_CALL, OP_CUP, OP_EL, OP_REPLY, OP_SGR, Decoder, call_handler, check_handlers
from .flood import (
    F_KEYPAD_OFF, F_KEYPAD_ON, F_SAFE, F_SAVE, F_TABSET, Skip, clean_flood, find_skip, fold_sgr, measure_block,
)
from .history import EMPTY_ROW, CompactRow, History, RawFlood, compact_row
from .hotloop import run_window
from .pyte_compat import DECAWM, IRM, LNM
from .screen import Screen
from .sequences import (
    ABORTED_CSI, ABORTED_CSI_CONTROLS, ABORTED_HINT, DECALN_RUN, NOT_CSI_CONTROLS, STRING_START, incomplete_tail, strip_ignored,
    window_end,
)

#: text is emulated in windows of about this many characters, cut after a LF
#: (so that a flood skip does not waste the tokenizing of what follows)
_WINDOW = 8192


class Emulator(Screen):
    """A :class:`~cctui.terminal.screen.Screen` fed text (see the module docstring).

    ``flood``: take the flood shortcut (off for a scratch screen that lays
    everything out, which a ``recorder`` implies)."""

    def __init__(
        self,
        columns: int,
        lines: int,
        history: Optional[History] = None,
        reply: Optional[Callable[[str], None]] = None,
        flood: bool = True,
        recorder: Optional[List[CompactRow]] = None,
    ) -> None:
        # (a recording emulator lays everything out: the flood shortcut is
        # for a scrollback, which lays out later)
        self._flood_enabled = flood and recorder is None
        self._no_flood_until = -1   # no flood starts before this position of the text
        self._held = ""             # an incomplete sequence at the end of the last feed
        self._text_end = 0          # where that held sequence starts in the text being fed
        self._flood_classes: Dict[str, int] = BoundedDict(4096)
        super().__init__(columns, lines, history, reply, recorder)
        self._decoder = Decoder(self)

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
        if self._held == "\x1b[<" and len(text) - n > 3:
            # a CSI too long to hold (ignored however it ends): the controls
            # in it act now, in order (they would inside it)
            text = text[:n] + NOT_CSI_CONTROLS.sub("", text[n + 2:])
            n = len(text)
        self._text_end = n
        if ABORTED_HINT.search(text, 0, n) and not STRING_START.search(text, 0, n):
            # CSIs aborted by a control or an ESC do nothing: dropped, so
            # that a flood of them with newlines takes the flood path (not
            # where a string (OSC, DCS...) could be what one ends)
            text = ABORTED_CSI.sub("", text[:n])
            if "\r" in text:   # (the usual control inside: CR, as in ESC [ CR LF)
                text = ABORTED_CSI_CONTROLS.sub(_controls_only, text)
            n = self._text_end = len(text)
        pos = 0
        while pos < n:
            # windows of ~8 KiB cut after a LF (see window_end)
            pos = run_window(self, text, pos, window_end(text, pos, n, _WINDOW))
        self._discard = 0
        self._replies.flush()

    def controls_in_csi(self, controls: str, op: Tuple[Any, ...]) -> None:
        """A CSI holding C0 controls (``CSI 2 BS D``): the controls act where
        they are, as outside a sequence (BEL, BS, HT, CR: xterm, tmux), then
        the sequence without them (``op``, decoded) runs."""
        for c in controls:
            if c == "\x08":
                self.backspace()
            elif c == "\t":
                self.tab()
            elif c == "\r":
                self.carriage_return()
        code = op[0]
        cursor = self.cursor
        if code == OP_SGR:
            cursor.attrs = self._apply_sgr(cursor.attrs, op[1])
        elif code == OP_CUP:
            self.cursor_position(*op[3])
        elif code == OP_EL:
            self.erase_in_line(op[1])
        elif code == OP_CALL or code == OP_REPLY:
            call_handler(op)

    # ----------------------------------------------------------------- floods
    def _flood_ready(self) -> bool:
        """A line feed now may start a flood stretch."""
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
        """At a LF that scrolled (:meth:`_flood_ready` says so): skip the layout
        of lines that will scroll off anyway (see
        :func:`~cctui.terminal.flood.find_skip`); returns where to go on."""
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
                row = buf.get(y)
                self._record(compact_row(row, cols), getattr(row, "wrapped", 0))
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

    def release(self) -> None:
        """Let a throwaway emulator be freed at once. Its dispatch tables, op cache
        and buffer factory refer back to it, and those cycles would keep its
        caches (megabytes once a scrollback is laid out) alive until the cyclic
        GC happens to run. The emulator is unusable afterwards."""
        self._infos.clear()             # infos point at each other: another cycle
        vars(self).clear()


def _controls_only(m: "re.Match[str]") -> str:
    """An aborted CSI holding controls: the controls alone (they act the same)."""
    return NOT_CSI_CONTROLS.sub("", m.group()[2:])


def layout_raw(raw: RawFlood) -> List[CompactRow]:
    """The rows of a flood that went to the scrollback raw (laid out when
    first looked at, by a scratch emulator of its width)."""
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


check_handlers(Emulator)

__all__ = ["Emulator", "EMPTY_ROW", "layout_raw"]
