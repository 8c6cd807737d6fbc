"""The TUI's pure parts: key encoding, the split tree, theme files, cell painting."""
from __future__ import annotations

import asyncio
import json
import random
import re

import pytest
from pyte.screens import Char

from cctui.tui.copy_cursor import CopyCursor
from cctui.tui.keymap import KeymapError, load_keymap
from cctui.tui.keys import encode_key, encode_mouse, encode_paste
from cctui.tui.layout_tree import LayoutTree
from cctui.server.pane_process import PaneProcess
from cctui.tui.render import STYLE_CACHE_SIZE, Painter, row_strip
from cctui.server.slice_pacer import MIN_SLICE, START_COMPLEX_RATE, SlicePacer
from cctui.tui.themes import TerminalColors, ThemeError, load_settings, load_themes, parse_theme, save_setting
from cctui.server.typing_priority import TypingPriority


@pytest.mark.parametrize("key,char,app,expected", [
    ("a", "a", False, b"a"),
    ("A", "A", False, b"A"),
    ("enter", "\r", False, b"\r"),
    ("ctrl+c", None, False, b"\x03"),
    ("ctrl+a", None, False, b"\x01"),
    ("alt+x", None, False, b"\x1bx"),
    ("up", None, False, b"\x1b[A"),
    ("up", None, True, b"\x1bOA"),
    ("shift+up", None, True, b"\x1b[1;2A"),
    ("ctrl+right", None, False, b"\x1b[1;5C"),
    ("ctrl+shift+left", None, False, b"\x1b[1;6D"),
    ("delete", None, False, b"\x1b[3~"),
    ("ctrl+delete", None, False, b"\x1b[3;5~"),
    ("pageup", None, False, b"\x1b[5~"),
    ("f1", None, False, b"\x1bOP"),
    ("f5", None, False, b"\x1b[15~"),
    ("shift+f5", None, False, b"\x1b[15;2~"),
    ("shift+tab", None, False, b"\x1b[Z"),
    ("backspace", None, False, b"\x7f"),
    ("escape", None, False, b"\x1b"),
    ("é", "é", False, "é".encode()),
])
def test_keys_encode_like_xterm(key, char, app, expected):
    assert encode_key(key, char, app) == expected


def test_paste_is_bracketed_only_when_asked_and_cannot_break_out():
    assert encode_paste("a\nb", False) == b"a\rb"
    assert encode_paste("x\x1b[201~rm -rf /\n", True) == b"\x1b[200~xrm -rf /\r\x1b[201~"


def test_mouse_reports():
    assert encode_mouse(0, 4, 2, True, False, sgr=True) == b"\x1b[<0;5;3M"
    assert encode_mouse(0, 4, 2, False, False, sgr=True) == b"\x1b[<0;5;3m"
    assert encode_mouse(64, 0, 0, True, False, sgr=False) == b"\x1b[M`!!"


def test_layout_splits_focus_neighbours_and_resize():
    tree = LayoutTree()
    tree.add("a")
    tree.add("b", "a", "row")
    tree.add("c", "b", "column")
    regions, dividers = tree.regions((101, 40))
    assert regions["a"].right + 1 == regions["b"].x          # one divider column between
    assert regions["b"].bottom + 1 == regions["c"].y
    assert len(dividers) == 2
    assert sum(r.width for k, r in regions.items() if k != "c") + 1 == 101
    assert tree.neighbour("a", "right", (101, 40)) in ("b", "c")
    assert tree.neighbour("c", "up", (101, 40)) == "b"
    assert tree.neighbour("b", "left", (101, 40)) == "a"
    assert tree.neighbour("a", "left", (101, 40)) is None
    width = regions["a"].width
    assert tree.resize("a", "row", 10, (101, 40))
    assert tree.regions((101, 40))[0]["a"].width == width + 10
    tree.remove("b")
    assert tree.panes() == ["a", "c"]
    tree.remove("a")
    assert tree.root == "c"
    assert tree.regions((10, 5))[0]["c"].width == 10


def test_themes_bundled_and_user(tmp_path, monkeypatch):
    monkeypatch.setenv("CCTUI_CONFIG_DIR", str(tmp_path))
    themes, problems = load_themes()
    assert len(themes) >= 4 and not problems
    for theme in themes.values():
        assert len(theme.terminal.palette) == 16
        theme.to_textual()
    user = tmp_path / "themes"
    user.mkdir()
    mine = {"name": "mine", "app": {"primary": "#123456"},
            "terminal": {"palette": ["#000000"] * 16}}
    (user / "mine.json").write_text(json.dumps(mine))
    (user / "broken.json").write_text('{"name": "broken", "app": {"primary": "blue"}}')
    themes, problems = load_themes()
    assert "mine" in themes and "broken" not in themes and len(problems) == 1
    save_setting("theme", "mine")
    assert load_settings()["theme"] == "mine"
    with pytest.raises(ThemeError):
        parse_theme({"name": "x", "app": {"primary": "#fff"}, "terminal": {"palette": []}})
    # a [terminal] that is not a table is one skipped theme, not a crash of the app
    (user / "flat.json").write_text('{"name": "flat", "app": {"primary": "#123456"}, "terminal": "x"}')
    themes, problems = load_themes()
    assert "flat" not in themes and len(problems) == 2
    with pytest.raises(ThemeError):
        parse_theme({"name": "x", "app": {"primary": "#fff"}, "terminal": {"cursor": 5}})


def test_painter_maps_ansi_and_256_through_the_palette_and_skips_wide_stubs():
    themes, _ = load_themes()
    painter = Painter(themes["nord"].terminal)
    red = painter.colour("red", None)
    assert painter.colour("cd0000", None) == red          # 38;5;1 as pyte spells it
    assert painter.colour("123456", None).triplet.hex == "#123456"
    cells = [Char("漢", "red"), Char("", "red"), Char("x")]
    strip = row_strip(cells, 6, painter, [(2, 3, "cursor")])
    assert strip.cell_length == 6
    assert strip.text.startswith("漢x")


def test_painter_styles_stay_bounded_when_a_guest_sends_ever_new_colours():
    """A guest picks the attribute combinations: the style cache keeps a bounded number,
    and a repeated one is the same object (row_strip joins cells into runs by identity)."""
    painter = Painter(TerminalColors())
    for i in range(3 * STYLE_CACHE_SIZE):
        attrs = (f"{i:06x}", "default", False, False, False, False, False, False)
        first = painter.style(attrs)
        assert painter.style(attrs) is first
    assert len(painter._cache) <= STYLE_CACHE_SIZE


class _Pane:
    """Records what the priority tells it (a PaneProcess's set_yielding)."""

    def __init__(self) -> None:
        self.yielding = False
        self.released = asyncio.Event()

    def set_yielding(self, flag: bool) -> None:
        self.yielding = flag
        if not flag:
            self.released.set()


def test_typing_priority_makes_the_other_panes_yield_for_a_while() -> None:
    async def scenario() -> None:
        now = [100.0]
        priority = TypingPriority(hold=0.05, clock=lambda: now[0])
        a, b = _Pane(), _Pane()
        priority.add(a)
        priority.add(b)
        assert not a.yielding and not b.yielding
        priority.typed(a)
        assert priority.typist is a and b.yielding and not a.yielding
        c = _Pane()
        priority.add(c)                       # a pane opened meanwhile yields too
        assert c.yielding
        priority.typed(b)                     # typing moves: a yields, b gets the guest
        assert a.yielding and not b.yielding and c.yielding
        now[0] += 10                          # the hold has passed by the clock
        a.released.clear()
        await asyncio.wait_for(a.released.wait(), 5)
        assert priority.typist is None and not (a.yielding or b.yielding or c.yielding)
        priority.typed(a)
        assert b.yielding
        priority.discard(a)                   # the typist's pane closed: nobody yields
        assert priority.typist is None and not b.yielding and not c.yielding
    asyncio.run(scenario())


def test_typing_priority_holds_while_keys_keep_coming() -> None:
    async def scenario() -> None:
        now = [0.0]
        priority = TypingPriority(hold=0.02, clock=lambda: now[0])
        a, b = _Pane(), _Pane()
        priority.add(a)
        priority.add(b)
        priority.typed(a)
        b.released.clear()
        # the real timer fires, but by the clock the last key was just now: still yielding
        done = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.1, done.set_result, None)
        await done
        assert b.yielding and priority.typist is a
        now[0] += 1.0
        await asyncio.wait_for(b.released.wait(), 5)
        assert not b.yielding
    asyncio.run(scenario())


def _cursor(rows, row=0, col=0, width=20):
    return CopyCursor(row, col, len(rows), width, lambda r: rows[r])


def test_copy_cursor_moves_like_tmux_vi_copy_mode() -> None:
    rows = ["alpha beta  gamma", "", "   indented word", "last"]
    cur = _cursor(rows)
    assert cur.move("w", 10) and cur.point == (0, 6)          # beta
    cur.move("w", 10)
    assert cur.point == (0, 12)                               # gamma, past two spaces
    cur.move("w", 10)
    assert cur.point == (2, 3)                                # skips the empty row, lands on text
    cur.move("b", 10)
    assert cur.point == (0, 12)                               # back over the empty row
    cur.move("b", 10)
    assert cur.point == (0, 6)
    cur.move("e", 10)
    assert cur.point == (0, 9)                                # the end of beta
    cur.move("e", 10)
    assert cur.point == (0, 16)                               # the end of gamma
    cur.move("e", 10)
    assert cur.point == (2, 10)                               # "indented", two rows on
    cur.move("g", 10)
    cur.move("$", 10)
    assert cur.point == (0, 16)                               # the last character, not the width
    cur.move("0", 10)
    assert cur.point == (0, 0)
    cur.move("j", 10), cur.move("j", 10), cur.move("^", 10)
    assert cur.point == (2, 3)
    cur.move("l", 10), cur.move("right", 10), cur.move("h", 10)
    assert cur.point == (2, 4)
    cur.move("G", 10)
    assert cur.point == (3, 0)
    cur.move("down", 10), cur.move("pagedown", 10)            # clamped at the last row
    assert cur.point == (3, 0)
    cur.move("ctrl+u", 4)
    assert cur.point == (1, 0)
    cur.move("g", 10), cur.move("h", 10), cur.move("up", 10)  # clamped at the first cell
    assert cur.point == (0, 0)
    assert not cur.move("x", 10) and cur.point == (0, 0)      # not a move


def test_copy_cursor_clamps_to_the_pane_width() -> None:
    cur = _cursor(["x" * 50], width=20)
    cur.move("$", 10)
    assert cur.point == (0, 19)
    cur = _cursor(["ab"], col=99, width=20)
    assert cur.point == (0, 19)


def test_user_keymap_changes_the_prefix_and_rebinds_actions(tmp_path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text('prefix = "ctrl+a"\n[bind]\nzoom = "m"\nsplit_right = ["|", "s"]\n')
    keymap = load_keymap(path)
    table = keymap.table()
    assert keymap.prefix == "ctrl+a"
    assert table["m"].action == "zoom" and "z" not in table          # replaced, not added
    assert table["s"].action == table["vertical_line"].action == "split_right"
    assert "percent_sign" not in table
    assert table["x"].action == "close_pane"                          # the rest stay
    assert "Zoom" in next(i.description for i in keymap.actions if i.keys == ("m",))


def test_a_missing_keys_file_means_the_defaults(tmp_path) -> None:
    keymap = load_keymap(tmp_path / "keys.toml")
    assert keymap.prefix == "ctrl+b" and keymap.table()["z"].action == "zoom"


@pytest.mark.parametrize("text,message", [
    ('prefix = "alt+x"\n', "prefix must be ctrl+<letter>"),
    ('[bind]\nzoomm = "m"\n', "no action 'zoomm'"),
    ('[bind]\nzoom = "x"\n', "'x' is bound to both"),
    ('[bind]\nzoom = []\n', "zoom must be a key or a list of keys"),
    ('prefix = "ctrl+a"\n[bind]\nzoom = "ctrl+a"\n', "the prefix ctrl+a is also bound to zoom"),
    ('colour = 1\n', "unknown setting 'colour'"),
    ('prefix = \n', "keys.toml"),
])
def test_a_bad_keys_file_is_refused_with_the_reason(tmp_path, text, message) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(text)
    with pytest.raises(KeymapError, match=re.escape(message)):
        load_keymap(path)


def test_a_slow_chunk_after_fast_text_gets_a_slice_sized_for_slow_output() -> None:
    pacer = SlicePacer()
    for _ in range(40):                       # text laid out at 50 MB/s, over and over
        pacer.start()
        size = pacer.admit(b"plain text\r\n" * 1000, pacer.slice_size(True, 0.008), 0, 0.008)
        pacer.measured(size, size / 50e6)
    text_slice = pacer.slice_size(True, 0.008)
    assert text_slice >= 256 * 1024           # text earns big slices (the flood layout)
    pacer.start()
    hostile = bytes(range(256)) * 256         # random-looking bytes: not simple
    size = pacer.admit(b"x" * 65536, text_slice, 0, 0.008)
    size = pacer.admit(hostile, size, 65536, 0.008)
    assert size <= 65536 + max(MIN_SLICE, int(START_COMPLEX_RATE * 0.008))
    pacer.measured(size, size / 1e5)          # and it was slower still: believed at once
    pacer.start()
    assert pacer.admit(hostile, pacer.slice_size(True, 0.008), 0, 0.008) == MIN_SLICE


def _record_slices(monkeypatch, process: PaneProcess) -> "list[bytes]":
    """The bytes of each slice the pane's model is fed and flushed (laid out) as one."""
    model, slices, fed = process.model, [], bytearray()
    feed, flush = model.feed, model.flush

    def recording_feed(data: bytes) -> None:
        fed.extend(data)
        feed(data)

    def recording_flush() -> None:
        slices.append(bytes(fed))
        fed.clear()
        flush()

    monkeypatch.setattr(model, "feed", recording_feed)
    monkeypatch.setattr(model, "flush", recording_flush)
    return slices


def _coloured_log(nbytes: int) -> bytes:
    """A log with SGR colours on every line (about one ESC per 30 bytes, as `ls --color`, a build)."""
    rnd, lines, n = random.Random(5), [], 0
    while n < nbytes:
        line = ("\x1b[2m12:00:%02d\x1b[0m \x1b[32mINFO\x1b[0m worker[%d]: request %d done in %d ms\r\n"
                % (rnd.randrange(60), rnd.randrange(8), rnd.randrange(10**6), rnd.randrange(999))).encode()
        lines.append(line)
        n += len(line)
    return b"".join(lines)


def test_a_coloured_log_is_pumped_in_slices_the_flood_layout_takes(monkeypatch) -> None:
    # The model skips the layout of a flood only when one slice holds more than two
    # screenfuls of lines; smaller slices of text are laid out row by row, 10-20 times
    # slower, and the slow rate measured on them kept the slices small for good (a 20 MB
    # coloured log took 60-90 s in a pane instead of ~7 s). SGR colours are text here.
    rows = 40
    process = PaneProcess(None, ["cat"], rows, 120, on_change=lambda p: None, on_output=lambda: None)
    slices = _record_slices(monkeypatch, process)
    data = _coloured_log(4 << 20)
    for i in range(0, len(data), 65536):
        process._output(data[i:i + 65536])
    while process.pump(budget=0.008):
        pass
    lines = [piece.count(b"\n") for piece in slices]
    assert lines and min(lines[:-1]) >= 2 * rows + 2
    # a small slice measured slow (laid out row by row) does not shrink the next one
    pacer = SlicePacer()
    pacer.start()
    size = pacer.admit(data[:4096], pacer.slice_size(True, 0.0005), 0, 0.0005)
    pacer.measured(size, size / 2e6)
    pacer.start()
    assert pacer.admit(data[:65536], pacer.slice_size(True, 0.008), 0, 0.008) >= 65536


def test_a_pane_pumps_hostile_output_in_slices_bounded_by_its_rate(monkeypatch) -> None:
    process = PaneProcess(None, ["cat"], 40, 120, on_change=lambda p: None, on_output=lambda: None)
    slices = _record_slices(monkeypatch, process)
    for _ in range(32):
        process._output(random.Random(3).randbytes(65536))
    assert process.pump(budget=0.008)
    sizes = [len(piece) for piece in slices]
    # the first slice fits the rate assumed for such output; none is sized for text
    assert sizes[0] <= max(MIN_SLICE, int(START_COMPLEX_RATE * 0.008))
    assert max(sizes) <= 64 * 1024
