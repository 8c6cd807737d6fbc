"""A hostile guest (or ``cat`` of a binary file) cannot crash, stall or bloat
the terminal model.  One test per finding; work is measured structurally
(tokens, rows, bytes) where possible, and timing only as a ratio to plain
text in the same test with a factor the old code missed by orders of magnitude."""
from __future__ import annotations

import random
import re
import time
import tracemalloc

from cctui.terminal import TerminalModel
from cctui.terminal import cells, engine, sequences, widths
from cctui.terminal.history import History
from cctui.terminal.replies import MAX_REPLY

ROWS, COLS = 40, 120


def fed(data: bytes, rows: int = ROWS, cols: int = COLS, chunk: int = 65536) -> TerminalModel:
    model = TerminalModel(rows, cols, on_reply=lambda b: None)
    for i in range(0, len(data), chunk):
        model.feed(data[i:i + chunk])
    model.flush()
    return model


def seconds(data: bytes) -> float:
    t = time.perf_counter()
    fed(data)
    return time.perf_counter() - t


def plain(size: int) -> bytes:
    line = b"the quick brown fox jumps over the lazy dog 0123456789\r\n"
    return line * (size // len(line) + 1)


def test_huge_csi_parameters_are_clamped_not_converted() -> None:
    digits = "9" * 5000
    # over-long parameter strings: the sequence is ignored (as tmux does)
    m = fed(("\x1b[%s;%sHX\x1b[%sm\x1b[?%sh\x1b[%sAok" % (digits, digits, digits, digits, digits)).encode())
    assert m.display[0].startswith("Xok")
    # long but within bounds: clamped to 9999, i.e. the bottom right corner
    m = fed(b"\x1b[" + b"9" * 30 + b";" + b"0" * 20 + b"99999999H" + b"X")
    assert m.line(ROWS - 1)[COLS - 1].data == "X"
    assert sequences.csi_param(digits) == 9999
    assert sequences.csi_param("00007") == 7


def test_huge_csi_parameter_split_across_feeds() -> None:
    m = TerminalModel(ROWS, COLS)
    m.feed(b"\x1b[")
    for _ in range(50):
        m.feed(b"9" * 1000)
        m.flush()
    m.feed(b"Hok")
    assert "ok" in m.display[0]
    assert len(m._screen._held) <= sequences.HELD_LIMIT


def test_repeated_csi_introducers_are_one_token_a_run() -> None:
    """ESC [ ESC [ ...: each is aborted by the next ESC; the tokenizer takes
    the run in one piece (the old code re-split the rest after each one)."""
    data = "\x1b[" * 100_000 + "\x18ok"   # CAN aborts the last one (a BEL would be run inside it)
    parts = sequences.TOKEN.split(data)
    assert len(parts) <= 7   # the run, the last ESC [, the CAN
    m = fed(data.encode())
    assert m.display[0].startswith("ok")


def test_repeated_csi_introducers_with_newlines_are_linear() -> None:
    data = (b"\x1b[" * 40 + b"\r\n") * 5000
    assert len(sequences.TOKEN.split(data.decode())) <= 6 * 5000 + 1   # 41 tokens a line before
    assert seconds(data) < 50 * seconds(plain(len(data))) + 0.5


def test_decaln_runs_are_coalesced_and_fill_the_screen() -> None:
    m = fed(b"\x1b#8" * 100_000)
    assert m.display == ["E" * COLS] * ROWS
    data = b"\x1b#8" * 300_000
    assert seconds(data) < 50 * seconds(plain(len(data))) + 0.5


def test_scroll_up_down_counts_are_clamped_to_the_region() -> None:
    m = fed(b"top\r\n\x1b[9999S\x1b[9999T" * 1 + b"x")
    assert m.history_len == ROWS          # one screenful scrolled off, not 9999 rows
    data = b"\x1b[9999S\x1b[9999T" * 20_000
    assert seconds(data) < 50 * seconds(plain(len(data))) + 0.5


def test_runs_of_scrolls_act_as_each_scroll_in_turn() -> None:
    # a run of SU/SD is one token (once the screen is blank, only blank rows
    # are counted): the same as with something between the sequences
    rnd = random.Random(5)
    for case in range(150):
        parts = []
        for _ in range(rnd.randrange(1, 30)):
            r = rnd.random()
            if r < 0.55:
                parts.append("\x1b[%s%s" % (rnd.choice(["", "0", "1", "3", "19", "20", "21", "9999", "00005", "9" * 70]),
                                            rnd.choice("ST")))
            elif r < 0.65:
                parts.append("\x1b[%d;%dr" % (rnd.randrange(0, 8), rnd.randrange(4, 25)))
            elif r < 0.72:
                parts.append(rnd.choice(["\x1b[?1049h", "\x1b[?1049l"]))
            else:
                parts.append("line%d\r\n" % rnd.randrange(100))
        text = "".join(parts)
        limit = rnd.choice([5, 50, 1000])
        states = []
        for data in (text, text.replace("\x1b[", "\x07\x1b[")):  # BEL: does nothing
            m = TerminalModel(20, 30, scrollback=limit)
            m.feed(data.encode())
            states.append((m.display, m.cursor, m.history_len, sorted(m.dirty),
                           [m.history_text(i) for i in range(m.history_len)]))
        assert states[0] == states[1], (case, text)


def test_blank_scroll_runs_are_held_as_a_count() -> None:
    m = fed(b"top\r\n" + b"\x1b[9999S\x1b[9999T" * 50_000)
    assert m.history_len == 10_000
    assert m.scrollback_bytes < 10_000
    assert m.history_text(0) == "" and m.history_text(m.history_len - 1) == ""
    m = fed(b"top\r\n\x1b[3S\x1b[2S")
    assert [m.history_text(i) for i in range(m.history_len)] == ["top"] + [""] * 4


def test_combining_marks_are_capped_per_cell() -> None:
    m = fed(b"e" + "\u0301\u0323".encode() * 50_000 + b"x")
    cell = m.line(0)[0]
    assert 1 < len(cell.data) <= widths.MAX_CELL_CHARS
    assert m.line(0)[1].data == "x"


def test_dropping_aborted_csis_changes_nothing(monkeypatch) -> None:
    rnd = random.Random(13)
    pieces = ["\x1b[", "\x1b[12", "\x1b[?", "\x1b[1;2H", "\x1b[31m", "\x1b(", "\x1b(B", "\x1b]0;t", "\x07",
              "\x1b\\", "\x1bP1", "\x9c", "\x18", "\x1b", "\r", "\n", "\r\n", "ab", "\u00e9", "\u0301",
              "\u4e2d", "\x1b[6n", "\x1b[2S", "\x1b[K", "\x08", "\t", "x" * 30]
    streams = ["".join(rnd.choice(pieces) for _ in range(rnd.randrange(1, 80))) for _ in range(300)]
    streams += [("\x1b[" * 40 + "\r\n") * 200, ("\x1b[" * 3 + "line\r\n") * 200,
                ("\x1b[1\r\n\x1b[2\x08\t\x1b[\r5\n") * 200]

    def states() -> list:
        out = []
        for text in streams:
            m = TerminalModel(6, 10, on_reply=lambda b: None)
            m.feed(text.encode())
            out.append((m.lines, m.cursor, m._screen.cursor.attrs, m.title,
                        [m.history_line(i) for i in range(m.history_len)]))
        return out

    got = states()
    monkeypatch.setattr(engine, "ABORTED_CSI", re.compile("(?!)"))
    monkeypatch.setattr(engine, "ABORTED_CSI_CONTROLS", re.compile("(?!)"))
    assert got == states()


def test_long_runs_of_marks_are_cut_without_changing_cells() -> None:
    # a run of more marks than a cell can take is cut before drawing: the same
    # cells as with a BEL (which does nothing) between every two marks
    rnd = random.Random(11)
    marks = "\u0300\u0301\u0302\u0308\u0313\u0323\u0327\u0344\u0345\u0342\u05b0\u20d7\U0001e94a"
    bases = ["a", "e", "\u03b1", "\u4e2d", "o\u031b", "", "\r\n", "\r", "x" * 7]
    for case in range(200):
        text = "".join(rnd.choice(bases) + "".join(rnd.choice(marks) for _ in range(rnd.randrange(40)))
                       for _ in range(rnd.randrange(1, 6)))
        lines = []
        for data in (text, "\x07".join(text)):
            m = TerminalModel(4, 8)
            m.feed(data.encode())
            lines.append((m.lines, m.cursor, [m.history_line(i) for i in range(m.history_len)]))
        assert lines[0] == lines[1], (case, ascii(text))
    data = ("e" + "\u0301\u0323\u0302" * 200 + " ").encode() * 1000
    assert seconds(data) < 10 * seconds(plain(len(data))) + 0.2


def test_random_bytes_do_not_go_character_by_character() -> None:
    data = random.Random(1).randbytes(400_000)
    m = fed(data)
    assert all(len(m.line(y)) == COLS for y in range(ROWS))
    assert m.cursor.x < COLS and m.cursor.y < ROWS
    assert not hasattr(m._screen, "_pstream")  # no pyte per-character parser left
    assert seconds(data) < 50 * seconds(plain(len(data))) + 0.5


def test_titles_are_capped_on_every_path() -> None:
    body = "T" * 65536
    for data in ("\x1b]0;%s\x07" % body, "\x1b]2;%s\x1b\\" % body):
        assert len(fed(data.encode()).title) == sequences.TITLE_LIMIT
        m = TerminalModel(ROWS, COLS)                  # split: the held string is shortened
        raw = data.encode()
        for i in range(0, len(raw), 1000):
            m.feed(raw[i:i + 1000])
            m.flush()
        assert m.title == "T" * sequences.TITLE_LIMIT
    assert fed(b"\x1b]0;a\nb\tc\x07").title == "abc"


def _traced(fn) -> int:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        keep = fn()
        used = tracemalloc.get_traced_memory()[0] - base
        del keep
        return used
    finally:
        tracemalloc.stop()


def test_cjk_in_many_colours_keeps_bounded_caches() -> None:
    rnd = random.Random(2)
    cjk = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    data = "".join("\x1b[38;5;%dm%s" % (rnd.randrange(200), "".join(rnd.choices(cjk, k=8)))
                   + ("\r\n" if i % 7 == 6 else "") for i in range(40_000)).encode()
    used = _traced(lambda: fed(data))
    assert used < 24 << 20, used        # the old code kept ~70 bytes of cache per byte fed
    m = fed(data)
    assert len(m._screen._infos) <= cells.ATTR_SETS
    assert sum(map(len, (info[2] for info in m._screen._infos.values()))) <= cells.CELL_BUDGET + 64


def test_sgr_padded_rows_are_bounded_in_bytes() -> None:
    row = "".join("\x1b[38;5;%d;48;5;%dm%s" % (i, (i * 7) % 256, chr(65 + i % 26)) for i in range(COLS))
    data = "".join(row + "\x1b[0m\r\n" for _ in range(12_000)).encode()
    m = TerminalModel(ROWS, COLS, scrollback=10_000, scrollback_bytes=2 << 20)
    for i in range(0, len(data), 4093):   # line by line: no flood skipping
        m.feed(data[i:i + 4093])
        m.flush()
    assert m.scrollback_bytes <= (2 << 20) + 64 * 1024
    assert 0 < m.history_len < 10_000
    assert m.history_line(m.history_len - 1)[0].data == "A"


def test_sgr_cache_keys_are_short_sequences() -> None:
    long_sgr = "\x1b[" + ";".join(["1"] * 5000) + "m"
    m = fed((long_sgr + "x") .encode() * 20)
    assert m.line(0)[0].bold is False          # over-long: ignored, as tmux does
    assert all(len(params) <= sequences.MAX_PARAMS for _, params in m._screen._sgr_cache)


def test_history_byte_bound_drops_oldest_blocks() -> None:
    h = History(100_000, lambda raw: [], max_bytes=100_000)
    row = ("x" * 100, (0, ("default",)))
    for _ in range(20_000):
        h.push(row)
    assert h.nbytes <= 100_000 + 64 * 1024
    assert 0 < len(h) < 20_000


def test_dsr_flood_answers_are_bounded_and_batched() -> None:
    replies = []
    m = TerminalModel(ROWS, COLS, on_reply=replies.append)
    m.feed(b"\x1b[6n" * 200_000)
    m.flush()
    assert len(replies) == 1
    assert len(replies[0]) <= MAX_REPLY + 16
    assert replies[0].startswith(b"\x1b[1;1R")


def test_reflowing_one_huge_line_makes_no_more_rows_than_are_kept() -> None:
    # 2.2 MB without a newline: one line of 10 000 scrollback rows plus the
    # screen.  Cut at one column it would be 1.8 million rows; only those the
    # scrollback keeps are made (the memory of the others was the finding)
    m = fed(("\u4e2d" * 300_000 + "x" * 1_200_000).encode())
    assert m.history_len == 10_000
    tracemalloc.start()
    try:
        m.resize(ROWS, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert m.history_len == 10_000 and m.display == ["x"] * ROWS
    assert peak < 64 << 20, peak
    m.resize(ROWS, 7)
    assert 0 < m.history_len < 10_000 and set("".join(m.display).replace(" ", "")) == {"x"}
