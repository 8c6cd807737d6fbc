"""The fast terminal model shows exactly what a plain pyte screen shows.

Reference: ``pyte.Screen`` + ``pyte.ByteStream`` fed all the bytes in one go.
Where pyte itself is wrong, the reference below is pyte plus the correction,
and the streams generated here stay off the rest:

* alternate screen (DECSET 1049): pyte has none.  ``ReferenceScreen`` adds a
  naive one (copy the buffer and cursor, clear; put them back on leave).
* a zero-width character that is not a combining mark makes pyte drop the rest
  of the text run; the model skips just that character.  Not generated.
* ``CSI > ... m`` (xterm modifyOtherKeys) is SGR to pyte; the model ignores it;
  ``CSI S``/``CSI T`` (scroll up/down) are ignored by pyte and done by the
  model; DCS strings are drawn as text by pyte and swallowed by the model;
  DECCOLM resizes pyte to 132 columns and is ignored by the model (as xterm
  does by default).  Not generated; unit tests cover the model's behaviour.
* where tmux and xterm agree against pyte, ``ReferenceScreen`` is corrected:
  a wide character with one column left wraps (autowrap on) or is dropped;
  writing over the left half of a wide character blanks its right half; a
  line feed under the scroll region moves down to the last row; DECRC with
  nothing saved resets the attributes; ``CSI r`` homes the cursor; ED 3
  leaves the screen alone.  NEL (``ESC E``) goes to column 0 in the model and
  keeps the column in pyte, HPA, CBT, REP, SCOSC/SCORC are ignored by pyte,
  C0 controls inside a CSI, SGR with colons, DECALN homing: not generated.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import pyte
import pytest
from pyte.screens import wcwidth
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.terminal_corpus import CORPORA  # noqa: E402

from cctui.terminal import TerminalModel  # noqa: E402
from conftest import split_at

ROWS, COLS = 40, 120


class ReferenceScreen(pyte.Screen):
    """pyte with a textbook alternate screen (what xterm does for 1049), and
    corrected where xterm and tmux agree against it (see the module docstring)."""

    def __init__(self, columns: int, lines: int) -> None:
        self._saved = None
        super().__init__(columns, lines)

    def draw(self, data: str) -> None:
        """One character at a time: a wide character with one column left
        wraps (autowrap) or is dropped; a narrow character written over the
        left half of a wide one blanks its right half."""
        cursor = self.cursor
        for ch in data:
            w = wcwidth(ch)
            x0, y0 = cursor.x, cursor.y
            if w == 2 and self.columns > 1 and cursor.x == self.columns - 1:
                if pyte.modes.DECAWM not in self.mode:
                    continue
                cursor.x = self.columns
            super().draw(ch)
            cursor = self.cursor
            if w > 0 and (cursor.x, cursor.y) != (x0, y0) and cursor.x < self.columns:
                if self.buffer[cursor.y][cursor.x].data == "":
                    self.buffer[cursor.y][cursor.x] = self.default_char

    def index(self) -> None:
        """A line feed under the scroll region moves down to the last row
        (pyte jumps back to the region's bottom)."""
        if self.margins is not None and self.cursor.y > self.margins.bottom:
            self.cursor.y = min(self.cursor.y + 1, self.lines - 1)
            return
        super().index()

    def restore_cursor(self) -> None:
        """With nothing saved, the attributes are reset too."""
        if not self.savepoints:
            self.cursor.attrs = self.default_char
        super().restore_cursor()

    def set_margins(self, top=None, bottom=None):
        """``CSI r`` homes the cursor too."""
        super().set_margins(top, bottom)
        if not top and bottom is None:
            self.cursor_position()

    def erase_in_display(self, how=0, *args, **kwargs):
        """ED 3 clears only the scrollback (pyte has none)."""
        if how != 3:
            super().erase_in_display(how, *args, **kwargs)

    def set_mode(self, *modes, **kwargs):
        if kwargs.get("private") and 1049 in modes and self._saved is None:
            self._saved = (copy.deepcopy(dict(self.buffer)), copy.copy(self.cursor))
            self.buffer.clear()
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes, **kwargs):
        if kwargs.get("private") and 1049 in modes and self._saved is not None:
            saved_buffer, saved_cursor = self._saved
            self._saved = None
            self.buffer.clear()
            for y, row in saved_buffer.items():
                self.buffer[y].update(row)
            hidden = self.cursor.hidden
            self.cursor = saved_cursor
            self.cursor.hidden = hidden
        super().reset_mode(*modes, **kwargs)


def reference(data: bytes, rows: int = ROWS, cols: int = COLS) -> pyte.Screen:
    screen = ReferenceScreen(cols, rows)
    try:
        pyte.ByteStream(screen).feed(data)
    except (AssertionError, TypeError):
        assume(False)  # pyte itself crashes on this stream (e.g. VPA in origin mode without margins)
    return screen


def model_fed(data: bytes, chunk: int, rows: int = ROWS, cols: int = COLS) -> TerminalModel:
    model = TerminalModel(rows, cols)
    for i in range(0, len(data), chunk):
        model.feed(data[i:i + chunk])
        model.flush()  # emulate each chunk on its own (feed() would coalesce)
    return model


def assert_same(model: TerminalModel, ref: pyte.Screen) -> None:
    rows, cols = ref.lines, ref.columns
    assert model.display == ["".join(ref.buffer[y][x].data for x in range(cols)) for y in range(rows)]
    for y in range(rows):
        want = [ref.buffer[y][x] for x in range(cols)]
        assert model.line(y) == want, "row %d differs" % y
    screen = model._screen
    assert (screen.cursor.x, screen.cursor.y) == (ref.cursor.x, ref.cursor.y)
    assert screen.cursor.attrs == ref.cursor.attrs
    assert model.cursor == (min(ref.cursor.x, cols - 1), ref.cursor.y, ref.cursor.hidden)


_CORPUS_CACHE: dict = {}


def corpus(name: str) -> bytes:
    if name not in _CORPUS_CACHE:
        _CORPUS_CACHE[name] = CORPORA[name](250_000)
    return _CORPUS_CACHE[name]


@pytest.mark.parametrize("name", sorted(CORPORA))
@pytest.mark.parametrize("chunk", [1 << 30, 65536, 4093, 97])
def test_corpus_matches_pyte(name: str, chunk: int) -> None:
    data = corpus(name)
    ref = reference(data)
    assert_same(model_fed(data, chunk), ref)


def assert_flood_scrollback_is_line_by_line(data: bytes, cols: int = COLS) -> None:
    """One big feed (the flood path) and 4093-byte chunks (which never trigger it)
    leave the same scrollback, row for row."""
    flood = model_fed(data, 1 << 30, cols=cols)
    slow = model_fed(data, 4093, cols=cols)
    assert flood._history.raw_blocks() > 0
    assert slow._history.raw_blocks() == 0
    assert flood.history_len == slow.history_len > 1000
    for i in range(flood.history_len):
        assert flood.history_line(i) == slow.history_line(i), i


@pytest.mark.parametrize("name", ["log-sgr", "ls-color-lR", "cjk-emoji"])
def test_flood_scrollback_equals_line_by_line_scrollback(name: str) -> None:
    """Lines skipped in a flood and laid out later equal lines laid out as
    they scrolled (4093-byte chunks never trigger the flood path)."""
    assert_flood_scrollback_is_line_by_line(corpus(name)[:120_000])


def test_crlf_text_through_a_pty_wrapping_in_a_narrow_pane_matches_pyte() -> None:
    """A CRLF file cat through a pty (ONLCR) arrives as CR CR LF, and log lines wrap
    in a pane narrower than they are: the flood path measures these too."""
    data = corpus("log-sgr").replace(b"\r\n", b"\r\r\n")
    for chunk in (1 << 30, 65536):
        assert_same(model_fed(data, chunk, cols=86), reference(data, cols=86))
    assert_flood_scrollback_is_line_by_line(data[:120_000], cols=86)


# --------------------------------------------------------------- generated
_TEXT = st.sampled_from([
    "hello", "world ", "x", "0123456789", "a" * 50, "b" * 130, "  ", "~!@#",
    "中文字", "日本語テキスト", "한국어", "😀🚀", "é", "e\u0301", "ñandú", "\u4e2d" * 70,
])
_SGR = st.sampled_from([
    "\x1b[0m", "\x1b[m", "\x1b[1m", "\x1b[31m", "\x1b[1;32m", "\x1b[4;7m", "\x1b[38;5;208m",
    "\x1b[48;5;17m", "\x1b[38;2;10;20;30m", "\x1b[22;27m", "\x1b[3m", "\x1b[90m", "\x1b[107m",
    "\x1b[0;1;4m", "\x1b[;1m", "\x1b[39;49m",
])
_CONTROL = st.sampled_from(["\r\n", "\n", "\r", "\x08", "\t", "\r\n\r\n\r\n", "\x07", "\x0b"])


def _csi(final: str, *ranges: int) -> st.SearchStrategy[str]:
    return st.tuples(*[st.integers(0, r) for r in ranges]).map(
        lambda args: "\x1b[" + ";".join(str(a) for a in args) + final)


_MOVES = st.one_of(
    _csi("H", ROWS + 2, COLS + 2), _csi("f", ROWS, COLS), _csi("A", 50), _csi("B", 50), _csi("C", 130),
    _csi("D", 130), _csi("E", 5), _csi("F", 5), _csi("G", 130), _csi("d", 45), st.just("\x1b[H"),
    st.sampled_from(["\x1b7", "\x1b8", "\x1bM", "\x1bD", "\r\x1bD", "\x1b[?25l", "\x1b[?25h"]),
)
_ERASES = st.one_of(
    _csi("J", 3), _csi("K", 2), _csi("X", 130), _csi("P", 130), _csi("@", 130), _csi("L", 45),
    _csi("M", 45), st.sampled_from(["\x1b[J", "\x1b[K", "\x1b[2J", "\x1b[?2K"]),
)
_REGIONS = st.one_of(
    st.tuples(st.integers(1, ROWS), st.integers(1, ROWS)).map(lambda t: "\x1b[%d;%dr" % t),
    st.just("\x1b[r"),
    st.sampled_from(["\x1b[?6h", "\x1b[?6l", "\x1b[?7l", "\x1b[?7h", "\x1b[4h", "\x1b[4l"]),
)
_MISC = st.sampled_from([
    "\x1b]0;a title\x07", "\x1b]2;other\x1b\\", "\x1b]52;c;aGVsbG8=\x07", "\x1b(B", "\x1b)0",
    "\x1b[?1049h", "\x1b[?1049l", "\x1b[?2004h", "\x1b[?1000h", "\x1b[?1006h", "\x1b[?1h", "\x1b=",
    "\x1b>", "\x1bH", "\x1b[g", "\x1b[3g", "\x1b[?5h", "\x1b[?5l",
])
_PIECE = st.one_of(_TEXT, _TEXT, _TEXT, _SGR, _CONTROL, _CONTROL, _MOVES, _ERASES, _REGIONS, _MISC)
_STREAM = st.lists(_PIECE, min_size=1, max_size=200).map(lambda parts: "".join(parts).encode())
_LINES = st.lists(st.one_of(_TEXT, _SGR, st.just("\r\n"), st.just("\r\n"), st.just("\n"), st.just("\t"),
                            st.just("\r\r\n"), st.just("\r")),
                  min_size=1, max_size=600).map(lambda parts: "".join(parts).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_STREAM, st.lists(st.integers(0, 10**6), max_size=12), st.sampled_from([(ROWS, COLS), (5, 20), (1, 8)]))
def test_generated_streams_match_pyte(data: bytes, cuts: list, size: tuple) -> None:
    rows, cols = size
    model = TerminalModel(rows, cols)
    for piece in split_at(data, cuts):
        model.feed(piece)
        model.flush()
    assert_same(model, reference(data, rows, cols))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES, st.lists(st.integers(0, 10**6), max_size=4), st.sampled_from([(4, 10), (3, 17), (6, 40)]))
def test_generated_floods_match_pyte(data: bytes, cuts: list, size: tuple) -> None:
    """Many lines per chunk on a small screen: exercises the flood path
    (wrapping, wide characters at the edge, bare LF, tabs)."""
    rows, cols = size
    model = TerminalModel(rows, cols)
    for piece in split_at(data, cuts):
        model.feed(piece)
        model.flush()
    assert_same(model, reference(data, rows, cols))
    # and the scrollback equals the one built without flood skipping
    slow = TerminalModel(rows, cols)
    for i in range(len(data)):
        slow.feed(data[i:i + 1])
        slow.flush()
    assert model.history_len == slow.history_len
    for i in range(model.history_len):
        assert model.history_line(i) == slow.history_line(i)


# ------------------------------------------------- windowed tokenizing
_LONG = st.sampled_from([
    "\x1b]0;multi\nline title\x07", "\x1b]2;t\r\nx\x1b\\", "\x1b]0;unterminated\n", "\x1b]Pxx\n",
    "\x1bPq#0;2;0;0;0\n#1\x1b\\", "\x1b_apc\nbody\x9c", "\x1b^pm\n\x1b\\", "\x1bXsos\n\n\x1b\\",
    "\x1b", "\x1b\n", "\x1b[2 q", "\x1b[<u", "\x1b[=5u",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_PIECE, _LONG, _LONG), min_size=1, max_size=200).map(lambda p: "".join(p).encode()),
       st.sampled_from([(ROWS, COLS), (5, 20), (3, 17)]), st.sampled_from([1, 16, 64, 300]))
def test_windowed_tokenizing_equals_unwindowed(data: bytes, size: tuple, window: int) -> None:
    """feed_text cuts big inputs into windows after a LF (never inside an
    OSC/DCS string); tiny windows must give what one window gives."""
    from cctui.terminal import engine

    rows, cols = size
    saved = engine._WINDOW
    try:
        engine._WINDOW = 1 << 30
        whole = TerminalModel(rows, cols)
        whole.feed(data)
        whole.flush()
        engine._WINDOW = window
        cut = TerminalModel(rows, cols)
        cut.feed(data)
        cut.flush()
    finally:
        engine._WINDOW = saved
    assert cut.lines == whole.lines
    assert cut.cursor == whole.cursor
    assert cut._screen.cursor.attrs == whole._screen.cursor.attrs
    assert cut.title == whole.title
    assert cut.history_len == whole.history_len
    for i in range(cut.history_len):
        assert cut.history_line(i) == whole.history_line(i)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_STREAM, st.sampled_from([(ROWS, COLS), (5, 20)]))
def test_generated_streams_match_pyte_with_tiny_windows(data: bytes, size: tuple) -> None:
    from cctui.terminal import engine

    rows, cols = size
    saved = engine._WINDOW
    engine._WINDOW = 8
    try:
        model = TerminalModel(rows, cols)
        model.feed(data)
        model.flush()
    finally:
        engine._WINDOW = saved
    assert_same(model, reference(data, rows, cols))


# ------------------------------------------- floods with other tokens
def _full_state(model: TerminalModel) -> tuple:
    model.flush()
    screen = model._screen
    saved = [(sp.cursor.x, sp.cursor.y, sp.cursor.attrs) for sp in screen.savepoints]
    return (model.lines, model.cursor, screen.cursor.attrs, model.title, screen.app_keypad,
            sorted(screen.tabstops), saved, [model.history_line(i) for i in range(model.history_len)])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bytes_flood_equals_line_by_line(seed: int) -> None:
    """Random bytes (``cat /bin/ls``): stretches without cursor moves take
    the flood path; fed whole they leave the same screen and scrollback as
    in 97-byte chunks (which never trigger it)."""
    import random
    data = random.Random(seed).randbytes(60_000)
    whole = model_fed(data, 1 << 30)
    slow = model_fed(data, 97)
    assert whole._history.raw_blocks() > 0
    assert slow._history.raw_blocks() == 0
    assert whole.history_len == slow.history_len > 500
    assert _full_state(whole) == _full_state(slow)


_FLOOD_TOKENS = [
    "abc", "word ", "x" * 23, "\u00e9t\u00e9", "\u0301", "e\u0301", "\u4e2d", "\ufffd\ufffd", "\u200b",
    "\r\n", "\n", "\n", "\x0b", "\x0c", "\r", "\r\r\n", "\t", "\x08", "\x07", "\x18", "\x9c",
    "\x1b[1;31m", "\x1b[0m", "\x1b[m", "\x1b[38;5;200m", "\x1b[1;2$", "\x1b]8;;url\x07", "\x1b]1;icon\x1b\\",
    "\x1bPq\nsixel\n\x1b\\", "\x1b_a\x9c", "\x1bD", "\x1bE", "\x1b=", "\x1b>", "\x1b(B", "\x1b#3",
    "\x1b\u00e9", "\x1b[12", "\x1b[<5u", "\x1b7", "\x1bH",
]
_FLOOD_STOPS = ["\x1b8", "\x1bc", "\x1bc", "\x1b[2;3H", "\x1b[K", "\x1bM", "\x1bH", "\x1b]0;t\x07",
                "\x1b[6n", "\x1b[3g", "\x1b[?7l", "\x1b[?7h"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(50, 1500), st.sampled_from([(4, 10), (3, 17), (6, 40)]))
def test_floods_with_inert_sequences_equal_byte_by_byte(seed: int, n: int, size: tuple) -> None:
    """Floods holding sequences that do nothing, strings, VT/FF, BS, TAB,
    DECSC, HTS, combining marks at line starts: one feed equals byte-by-byte
    feeding."""
    import random
    rnd = random.Random(seed)
    pieces = [rnd.choice(_FLOOD_STOPS) if rnd.random() < 0.01 else rnd.choice(_FLOOD_TOKENS) for _ in range(n)]
    rows, cols = size
    data = "".join(pieces).encode("utf-8", "surrogatepass")
    whole = TerminalModel(rows, cols, on_reply=lambda b: None)
    whole.feed(data)
    slow = TerminalModel(rows, cols, on_reply=lambda b: None)
    for i in range(len(data)):
        slow.feed(data[i:i + 1])
        slow.flush()
    assert _full_state(whole) == _full_state(slow)


def test_flood_measurement_equals_a_walk_character_by_character() -> None:
    """The flood's measurement (runs of one-cell, zero-width and wide
    characters at once) moves the cursor as drawing each character does."""
    import random

    from cctui.terminal.engine import Emulator
    from cctui.terminal.flood import simulate
    from cctui.terminal.widths import wcwidth

    def walk(screen: Emulator, s: str, x: int) -> tuple:
        cols, rows, stops = screen.columns, 1, sorted(screen.tabstops)
        for ch in s:
            if ch == "\n":
                rows += 1
            elif ch == "\r":
                x = 0
            elif ch == "\x08":
                x = max(0, (x - 1 if x == cols else x) - 1)
            elif ch == "\t":
                x = min(next((t for t in stops if x < t), cols - 1), cols - 1)
            else:
                w = wcwidth(ch)
                if x == cols or (w == 2 and x == cols - 1 and cols > 1):
                    rows, x = rows + 1, 0   # (a wide character with one column left wraps)
                if w > 0:
                    x = min(x + w, cols)
        return rows, x

    alphabet = ["a", "b", "\u0301", "\u200b", "\u4e2d", "\r", "\t", "\x08", "\n", "\ufffd", "\u00ad",
                "\x85", "\U0001F600"]
    rnd = random.Random(5)
    for cols in (1, 2, 3, 7, 10):
        screen = Emulator(cols, 3)
        screen.tabstops = set(rnd.sample(range(cols + 3), min(2, cols)))
        for _ in range(3000):
            s = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30)))
            if rnd.random() < 0.2:
                s = "".join(c for c in s if c.isascii())
            x = rnd.randint(0, cols)
            assert simulate(s, x, cols, screen.tabstops) == walk(screen, s, x), (cols, s, x)


def test_flood_in_pieces_with_saved_cursors_and_tab_stops_equals_line_by_line() -> None:
    """A flood longer than one scrollback piece, with DECSC, HTS, keypad
    modes, BS, TAB and wide characters throughout, then DECRC: the same as
    61-byte chunks (which never trigger the flood path)."""
    import random
    rnd = random.Random(3)
    tokens = ["word ", "\tx", "\x1b7", "\x1bH", "\x07", "\x1b[1m", "\x1b[0m", "ab\x08c", "\u4e2d", "\x1b=", "\x1b>"]
    lines = ["".join(rnd.choice(tokens) for _ in range(rnd.randint(0, 8))) + rnd.choice(["\r\n", "\n", "\x0b"])
             for _ in range(14000)]
    data = ("".join(lines) + "\x1b8tail").encode()

    def fed(chunk: int) -> TerminalModel:
        model = TerminalModel(ROWS, COLS, scrollback=10**6, scrollback_bytes=1 << 40)
        for i in range(0, len(data), chunk):
            model.feed(data[i:i + chunk])
            model.flush()
        return model

    whole, slow = fed(1 << 30), fed(61)
    assert whole._history.raw_blocks() > 1
    assert slow._history.raw_blocks() == 0
    assert _full_state(whole) == _full_state(slow)
