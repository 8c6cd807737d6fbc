"""Floods: finding what would scroll off unseen, and measuring it without drawing.

When a run of text holds many more lines than the screen, only its last
screenful needs laying out: the part before goes to the scrollback as raw
text (laid out later, on view).  This module decides where such a stretch
ends (:func:`find_skip`) and measures it (:func:`measure_block`: rows taken
and the column it ends at; :func:`fold_sgr`: the attributes it ends with).
All of it is pure: the screen's state comes in as arguments, and
:meth:`Emulator._skip <cctui.terminal.engine.Emulator._skip>` applies a
:class:`Skip` to the screen.

What is measured must move the cursor exactly as drawing would (the
differential tests hold the two together): :func:`simulate` is the cursor
walk of ``Screen.draw`` and of LF, CR, BS and TAB.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from typing import Any, Callable, Collection, Dict, List, NamedTuple, Optional, Tuple, Union

from .dispatch import OP_NOP, OP_RUN, OP_SGR, handler_names
from .pyte_compat import Char
from .sequences import MAX_PARAMS, SGR, SGR_PARAMS, TOKEN
from .widths import CELL_CLASS, NOT_NARROW, WIDTHS

#: a flood goes to the scrollback in pieces of about this size (so that the
#: scrollback's byte bound drops the oldest part of a huge flood)
FLOOD_PIECE = 1 << 17

# What a token does to a stretch being skipped (see find_skip).
F_SAFE = 0         #: nothing that matters: text, SGR, BEL, BS, TAB, ignored sequences, strings
F_LF = 1           #: a line feed: where a stretch may be cut
F_STOP = 2         #: anything else (moves the cursor elsewhere, edits the screen): the stretch ends before it
F_KEYPAD_ON = 3    #: DECKPAM: applied where it is
F_KEYPAD_OFF = 4   #: DECKPNM: applied where it is
F_SAVE = 5         #: DECSC: the cursor there is measured and saved
F_TABSET = 6       #: HTS: a tab stop where the cursor is then
F_RESET = 7        #: RIS: ends the stretch; what is on screen then is dropped

#: what the sequences run by a screen method (``OP_RUN``) do to a stretch,
#: by the method's name (:mod:`~cctui.terminal.dispatch`'s tables); any
#: other method stops it
FLOOD_EFFECTS = {
    "index": F_LF,                   # (LNM is off in a flood)
    "next_line": F_LF,
    "keypad_application": F_KEYPAD_ON,
    "keypad_numeric": F_KEYPAD_OFF,
    "save_cursor": F_SAVE,
    "set_tab_stop": F_TABSET,
    "reset": F_RESET,
}
#: the tokens that move the cursor in a skipped stretch, as measured (line
#: feeds as LF, ESC E as CR LF, as in the ESC table);
#: every other token is left out
CLEAN_TOKENS = {"\n": "\n", "\x0b": "\n", "\x0c": "\n", "\r": "\r", "\r\n": "\r\n",
                "\x08": "\x08", "\t": "\t", "\x1bD": "\n", "\x1bE": "\r\n"}

_stale = set(FLOOD_EFFECTS) - handler_names()
if _stale:  # (a renamed handler would quietly stop every flood that holds it)
    raise ValueError("flood.FLOOD_EFFECTS names no handler: %s" % ", ".join(sorted(_stale)))

# A stretch of plain text and SGR ends at the first other ESC or control.
_NONSIMPLE_ESC = re.compile(r"\x1b(?!\[[0-9;]{0,%d}m)" % MAX_PARAMS)
_NONSIMPLE_CTRL = re.compile(r"[\x00-\x07\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
# CRs before a LF: a CRLF file through a pty's ONLCR arrives as CR CR LF
_CR_RUN_LF = re.compile(r"\r+\n")
_MOVES = re.compile(r"([\n\r\t\x08])")

#: ``(start, end, what)``: a token with an effect where it is (offsets in its piece)
Event = Tuple[int, int, int]


class Skip(NamedTuple):
    """A stretch of a flood to account for without laying it out."""

    end: int                 #: where emulation goes on: the line feed that ends the stretch (or a reset)
    pieces: List[str]        #: the stretch cut at line feeds (left out), each about FLOOD_PIECE at most
    cleaned: List[str]       #: each piece with only the tokens that move the cursor (what is measured)
    events: Optional[List[List[Event]]]  #: per piece: the DECSC, HTS and keypad tokens in it
    dropped: int = 0         #: rows at the end that never scroll off (a reset follows)


def mark_risk(line: str) -> bool:
    """``line`` (the first of a flood's piece) may hold a combining mark, which
    at column 0 would join the row above: a row laid out apart."""
    return not line.isascii() and "z" in line.translate(NOT_NARROW)


def clean_flood(piece: str) -> str:
    """``piece`` with only the tokens that move the cursor in a flood, line
    feeds as LF (what :func:`measure_block` measures)."""
    parts = TOKEN.split(piece)
    if len(parts) > 1:
        get = CLEAN_TOKENS.get
        parts[1::2] = [get(t, "") for t in parts[1::2]]
        return "".join(parts)
    return piece


def token_class(tok: str, op: Callable[[str], Tuple[Any, ...]]) -> int:
    """What a token of :data:`~.sequences.TOKEN` does to a stretch being
    skipped; ``op(tok)`` is what it decodes to (asked for ESC tokens only)."""
    c = tok[0]
    if c == "\n" or c == "\x0b" or c == "\x0c":
        return F_LF
    if c == "\r":
        return F_LF if len(tok) == 2 else F_SAFE
    if c != "\x1b":
        return F_SAFE          # BEL, BS, TAB, CAN, SUB, ST
    decoded = op(tok)
    code = decoded[0]
    if code == OP_NOP or code == OP_SGR:
        return F_SAFE
    if code == OP_RUN:
        return FLOOD_EFFECTS.get(decoded[3], F_STOP)
    return F_STOP


# ---------------------------------------------------------------- finding
def find_skip(text: str, start: int, text_end: int, lines: int, cols: int,
              classes: Dict[str, int], op: Callable[[str], Tuple[Any, ...]]) -> Union[Skip, int]:
    """At a line feed at ``start`` that scrolled (the cursor on the bottom
    row, no margins, autowrap on, no insert or LNM mode): the stretch of
    ``text`` after it that can be skipped, as a :class:`Skip`, or the
    position before which no stretch can start (go on at ``start``).
    ``text_end``: where complete tokens end; ``classes``: a cache of
    :func:`token_class` (filled for tokens up to 40 characters); ``op(tok)``:
    what a token decodes to."""
    esc = _NONSIMPLE_ESC.search(text, start)
    stop = esc.start() if esc else len(text)
    ctl = _NONSIMPLE_CTRL.search(text, start, stop)
    if ctl:
        stop = ctl.start()
    if text.count("\n", start, stop) < 2 * lines + 2:
        if stop < text_end:
            # something else than text and SGR: maybe a flood still
            return _find_skip_tokens(text, start, text_end, lines, classes, op)
        return stop
    first_lf = text.find("\n", start, stop)
    if mark_risk(text[start:first_lf]):
        return first_lf + 1
    # the tail left to lay out must scroll at least a screenful (each
    # LF and each wrap scrolls once): count LFs back from the end, plus
    # the wraps of lines simple enough to measure (others count none,
    # which only makes the tail longer)
    split = stop
    rfind = text.rfind
    scrolls = 0
    while scrolls < lines:
        lf = rfind("\n", start, split)
        seg = text[lf + 1:split]
        split = lf
        scrolls += 1
        if len(seg) > cols:
            if "\x1b" in seg:
                seg = SGR.sub("", seg)
            seg = seg.rstrip("\r")
            v = len(seg)
            if v > cols and seg.isascii() and "\r" not in seg and "\t" not in seg and "\x08" not in seg:
                scrolls += (v - 1) // cols
    # (the line after the block is laid out with the block's rows gone)
    while mark_risk(text[split + 1:text.find("\n", split + 1)]):
        split = rfind("\n", start, split)
        if split <= first_lf:
            return stop
    block = text[start:split]
    # in pieces cut at a LF (each starts where the last ended)
    pieces = []
    begin = 0
    while len(block) - begin > FLOOD_PIECE:
        lf = block.find("\n", begin + FLOOD_PIECE)
        while lf >= 0 and mark_risk(block[lf + 1:block.find("\n", lf + 1)]):
            lf = block.find("\n", lf + 1)
        if lf < 0:
            break
        pieces.append(block[begin:lf])
        begin = lf + 1
    pieces.append(block[begin:] if begin else block)
    return Skip(split, pieces, [SGR.sub("", piece) for piece in pieces], None)


def _find_skip_tokens(text: str, start: int, end: int, lines: int,
                      classes: Dict[str, int], op: Callable[[str], Tuple[Any, ...]]) -> Union[Skip, int]:
    """:func:`find_skip` for text with any token that leaves the screen
    alone but for text, SGR, line feeds, CR, BS and TAB (sequences that do
    nothing, strings, BEL...); a token that moves the cursor elsewhere or
    edits the screen ends the stretch (see :func:`token_class`)."""
    cut_s: List[int] = []      # line feed tokens: where the cut starts
    cut_e: List[int] = []      # and ends
    events: List[Event] = []   # tokens with an effect where they are
    stop = end
    reset = False
    for m in TOKEN.finditer(text, start, end):
        tok = m.group()
        c = classes.get(tok)
        if c is None:
            c = token_class(tok, op)
            if len(tok) <= 40:
                classes[tok] = c
        if c == F_SAFE:
            continue
        if c == F_LF:
            e = m.end()
            cut_s.append(m.start() if tok[0] == "\x1b" else e - 1)
            cut_e.append(e)
        elif c == F_STOP or c == F_RESET:
            stop = m.start()
            reset = c == F_RESET
            break
        else:
            events.append((m.start(), m.end(), c))
    if len(cut_s) < 2 * lines + 2:
        return stop
    if mark_risk(text[start:cut_s[0]]):
        return cut_e[0]
    if reset:
        # a reset ends the stretch: nothing of it needs laying out but
        # the rows that scroll off before it (all but the last screenful)
        k = len(cut_s)
        split = stop
    else:
        k = len(cut_s) - lines     # the tail holds `lines` line feeds
        # (the line after the block is laid out with the block's rows gone)
        while mark_risk(text[cut_e[k]:cut_s[k + 1] if k + 1 < len(cut_s) else stop]):
            k -= 1
            if k < 1:
                return stop
        split = cut_s[k]
    pieces = []
    bounds = []
    p = start
    i = 0
    while split - p > FLOOD_PIECE:
        i = bisect_left(cut_s, p + FLOOD_PIECE, i, k)
        while i < k - 1 and mark_risk(text[cut_e[i]:cut_s[i + 1]]):
            i += 1
        if i >= k - 1:
            break
        pieces.append(text[p:cut_s[i]])
        bounds.append((p, cut_s[i]))
        p = cut_e[i]
        i += 1
    pieces.append(text[p:split])
    bounds.append((p, split))
    # the events of each piece, at offsets in it
    in_pieces: List[List[Event]] = [[] for _ in pieces]
    j = 0
    for pos, e, c in events:
        if pos >= split:
            break
        while pos >= bounds[j][1]:
            j += 1
        in_pieces[j].append((pos - bounds[j][0], e - bounds[j][0], c))
    return Skip(split, pieces, [clean_flood(piece) for piece in pieces], in_pieces, lines if reset else 0)


# -------------------------------------------------------------- measuring
def measure_block(stripped: str, x: int, cols: int, tabstops: Collection[int]) -> Tuple[int, int]:
    """Rows taken and final column for ``stripped`` (text with only the
    tokens of :data:`CLEAN_TOKENS`) drawn from column ``x``."""
    if "\r\r" in stripped:           # CR CR LF moves the cursor as CR LF does
        stripped = _CR_RUN_LF.sub("\r\n", stripped)
    parts = stripped.split("\n")
    k = len(parts)
    if (
        k > 2
        and stripped.isascii()
        and "\t" not in stripped
        and "\x08" not in stripped
        and stripped.count("\r", 0, len(stripped) - len(parts[-1]))
        == k - 1 == stripped.count("\r\n")
    ):
        # every line but the last ends in CR, so each starts at column 0
        r0, _ = measure_line(parts[0], x, cols, tabstops)
        rl, x_end = measure_line(parts[-1], 0, cols, tabstops)
        lens = list(map(len, parts[1:-1]))
        extra = 0
        if max(lens) > cols + 1:
            extra = sum([(n - 2) // cols for n in lens if n > cols + 1])
        return r0 + (k - 2) + extra + rl, x_end
    if not stripped.isascii() or "\t" in stripped or "\x08" in stripped:
        return simulate(stripped, x, cols, tabstops)
    total = 0
    for part in parts:
        r, x = measure_line(part, x, cols, tabstops)
        total += r
    return total, x


def measure_line(s: str, x: int, cols: int, tabstops: Collection[int]) -> Tuple[int, int]:
    """:func:`measure_block` for a line without LF."""
    if "\r" in s:
        text = s.rstrip("\r")
        if "\r" not in text:
            return measure_line(text, x, cols, tabstops)[0], 0
        return simulate(s, x, cols, tabstops)
    if "\t" in s or "\x08" in s:
        return simulate(s, x, cols, tabstops)
    if not s:
        return 1, x
    if s.isascii():
        w = len(s)
        if x == 0 and w <= cols:
            return 1, w
        return 1 + (x + w - 1) // cols, (x + w - 1) % cols + 1
    if x == 0:
        w = len(s.translate(WIDTHS))
        if w < cols:
            return 1, w
    return simulate(s, x, cols, tabstops)


def simulate(s: str, x: int, cols: int, tabstops: Collection[int]) -> Tuple[int, int]:
    """The cursor walk of ``Screen.draw`` (and LF, CR, BS, TAB) over ``s``
    from column ``x``: rows taken and final column.  Each character is first
    classed (one translate: one-cell, zero-width or unprintable, wide), then
    runs between moves and wide characters are measured at once."""
    rows = 1
    stops: Optional[List[int]] = None
    odd = False
    for seg in _MOVES.split(s if s.isascii() else s.translate(CELL_CLASS)):
        if odd:
            if seg == "\n":
                rows += 1        # (the column stays)
            elif seg == "\r":
                x = 0
            elif seg == "\x08":
                if x == cols:
                    x -= 1
                x = max(0, x - 1)
            else:
                if stops is None:
                    stops = sorted(tabstops)
                i = bisect_right(stops, x)
                x = min(stops[i], cols - 1) if i < len(stops) else cols - 1
        elif seg:
            for k, run in enumerate(seg.split("\x01") if "\x01" in seg else (seg,)):
                if k:            # a wide character before the run
                    if x == cols or (x == cols - 1 and cols > 1):
                        rows += 1    # (with one column left it wraps too)
                        x = 0
                    x = x + 2 if x + 2 < cols else cols
                if not run:
                    continue
                n = len(run) - run.count("\x00")
                if n:
                    # a character that takes a cell wraps first if at the edge
                    total = x + n
                    if total > cols:
                        rows += (total - 1) // cols
                        x = (total - 1) % cols + 1
                    else:
                        x = total
                if x == cols and run[-1] == "\x00":
                    rows += 1    # a zero-width character at the edge wraps too
                    x = 0
        odd = not odd
    return rows, x


def fold_sgr(block: str, attrs: Char, apply_sgr: Callable[[Char, str], Char]) -> Char:
    """The attributes after the SGRs of ``block``, from ``attrs``
    (``apply_sgr(attrs, params)``: one SGR)."""
    i = max(block.rfind("\x1b[0m"), block.rfind("\x1b[m"))
    if i >= 0:
        block = block[i:]
    for params in SGR_PARAMS.findall(block):
        attrs = apply_sgr(attrs, params)
    return attrs
