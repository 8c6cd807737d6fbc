"""The hot loop: one window of text, token by token, onto the screen.

Text runs, CR/LF, SGR, CUP and EL are done inline with the cursor in local
variables (a method call per token would cost more than the work); every
other token is run by the screen method its decoded op names
(:mod:`cctui.terminal.dispatch`).  A line feed that scrolls at the bottom
of the screen may hand over to the flood shortcut (``Emulator._try_flood``).

Everything the loop reads often is bound to a local first; keep it so.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .cells import RUN_CACHE_MAX, TRANSITIONS
from .dispatch import OP_CALL, OP_CR, OP_CUP, OP_EL, OP_LF, OP_NOP, OP_REPLY, OP_SGR, call_handler
from .pyte_compat import DECOM, IRM, LNM
from .sequences import TOKEN
from .widths import CHAR_WIDTHS, narrow

if TYPE_CHECKING:
    from .engine import Emulator


def run_window(emu: "Emulator", text: str, begin: int, stop: int) -> int:
    """Emulate ``text[begin:stop]`` on ``emu`` (whole tokens: the caller
    holds an incomplete one back); returns where to go on: ``stop``, or the
    end of a flood stretch that was skipped (which may be past ``stop``).

    The cursor lives in locals (``x``, ``y``, ``cur_char``) and is
    written back before anything else looks at it."""
    parts = TOKEN.split(text[begin:stop] if begin or stop != len(text) else text)
    tail = parts.pop()
    decoder = emu._decoder
    decoded = decoder.cache
    decode = decoder.decode
    char_widths = CHAR_WIDTHS
    erase_cache = emu._erase_cache
    attr_info = emu._attr_info
    cols = emu.columns
    last_col = cols - 1
    last_line = emu.lines - 1
    dirty_add = emu.dirty.add
    flood = emu._flood_enabled
    cursor = emu.cursor
    buf = emu.buffer
    mode = emu.mode
    irm = IRM in mode
    decom = DECOM in mode
    lnm = LNM in mode
    margins = emu.margins
    bottom = last_line if margins is None else margins.bottom
    x = cursor.x
    y = cursor.y
    wide_seen = emu.wide_seen
    wraps_seen = emu.wraps_seen
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
                row = buf[y]
                if n == 1:
                    row[x] = cur_cmap[txt]
                else:
                    # the cmap also keeps runs (n > 1) as tuples of cells
                    cells = cur_cmap.get(txt)
                    if cells is None:
                        cells = tuple(map(cur_cmap.__getitem__, txt))
                        if n <= RUN_CACHE_MAX:
                            cur_cmap.keep(txt, cells)
                    row.update(zip(range(x, x + n), cells))
                x += n
                dirty_add(y)
                if wide_seen:
                    # the right half of a wide character overwritten: blanked
                    after = row.get(x)
                    if after is not None and not after[0]:
                        row[x] = emu.default_char
            elif n == 1 and x + 2 <= cols and not irm and char_widths.get(txt) == 2:
                # one wide character that fits (CJK with a colour each)
                row = buf[y]
                row[x] = cur_cmap[txt]
                row[x + 1] = cur_cmap[""]
                x += 2
                dirty_add(y)
                if wide_seen:
                    after = row.get(x)
                    if after is not None and not after[0]:
                        row[x] = emu.default_char
                else:
                    wide_seen = emu.wide_seen = True
            else:
                cursor.x = x
                cursor.y = y
                cursor.attrs = cur_char
                emu.draw(txt)
                x = cursor.x
                y = cursor.y
                wide_seen = emu.wide_seen
                wraps_seen = emu.wraps_seen
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
                    emu.cursor_position(*op[3])
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
            nxt = attr_info(emu._apply_sgr(cur_char, op[1]))
            if len(cur_trans) < TRANSITIONS:
                cur_trans[seq] = nxt
            cur_char, cur_trans, cur_cmap = nxt
        elif code == OP_LF:
            if wraps_seen:
                # a hard line feed: the row's line ends here (for reflow)
                lf_row: Any = buf.get(y)
                if lf_row is not None and getattr(lf_row, "wrapped", False):
                    lf_row.wrapped = 0
            if op[1]:
                x = 0
            if y < bottom:
                y += 1
            elif y > bottom:
                if y < last_line:  # under the region: down to the last row, no scrolling
                    y += 1
            else:
                cursor.x = x
                cursor.y = y
                cursor.attrs = cur_char
                emu.index()
                if flood and emu._flood_ready():
                    j = 2 * k + 2
                    done_pos += sum(map(len, parts[done_i:j]))
                    done_i = j
                    if done_pos >= emu._no_flood_until:
                        newpos = emu._try_flood(text, done_pos)
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
                call_handler(op)
            elif code == OP_REPLY:
                # answers read the state and change nothing
                replies = emu._replies
                queued = len(replies)
                try:
                    if op[3]:
                        op[1](*op[2], private=True)
                    else:
                        op[1](*op[2])
                except TypeError:
                    pass  # more parameters than the query takes
                if len(op) > 4 and len(replies) > queued:
                    replies.repeat_last(op[4] - 1)
                continue
            else:
                op[1](*op[2])  # OP_RUN
            # anything may have changed
            cursor = emu.cursor
            buf = emu.buffer
            mode = emu.mode
            irm = IRM in mode
            decom = DECOM in mode
            lnm = LNM in mode
            margins = emu.margins
            bottom = last_line if margins is None else margins.bottom
            x = cursor.x
            y = cursor.y
            wide_seen = emu.wide_seen
            wraps_seen = emu.wraps_seen
            # (always: a DECSCNM change drops the SGR transitions)
            cur_char, cur_trans, cur_cmap = attr_info(cursor.attrs)
            cursor.attrs = cur_char
    cursor.x = x
    cursor.y = y
    cursor.attrs = cur_char
    if tail:
        emu.draw(tail)
    return stop
