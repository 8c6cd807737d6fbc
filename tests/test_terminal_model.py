"""Unit tests for TerminalModel behaviour pyte does not have (or gets wrong)."""
from __future__ import annotations

from cctui.terminal import TerminalModel


def text_rows(model: TerminalModel) -> list:
    return [row.rstrip() for row in model.display]


def make(rows: int = 5, cols: int = 20, **kw) -> tuple:
    replies: list = []
    model = TerminalModel(rows, cols, on_reply=replies.append, **kw)
    return model, replies


# ------------------------------------------------------------ alternate screen
def test_alternate_screen_1049_restores_primary_screen_and_cursor() -> None:
    m, _ = make()
    m.feed(b"\x1b[32mprompt$ \x1b[0mvim file\r\nline two")
    before_rows = m.lines
    before_cursor = m.cursor
    m.feed(b"\x1b[?1049h")
    assert m.alternate_screen
    assert text_rows(m) == [""] * 5  # alternate screen starts cleared
    m.feed(b"\x1b[H\x1b[1;31mVIM SCREEN\x1b[3;4Hmore\x1b[?25l")
    assert text_rows(m)[0] == "VIM SCREEN"
    m.feed(b"\x1b[?1049l")
    assert not m.alternate_screen
    assert m.lines == before_rows
    assert (m.cursor.x, m.cursor.y) == (before_cursor.x, before_cursor.y)
    assert m.line(0)[0].fg == "green"


def test_alternate_screen_does_not_feed_scrollback() -> None:
    m, _ = make(rows=3)
    m.feed(b"one\r\ntwo\r\n")
    m.feed(b"\x1b[?1049h" + b"".join(b"alt %d\r\n" % i for i in range(50)))
    assert m.history_len == 0
    m.feed(b"\x1b[?1049l")
    assert text_rows(m) == ["one", "two", ""]


def test_alternate_screen_1047_and_47() -> None:
    m, _ = make()
    m.feed(b"main")
    m.feed(b"\x1b[?1047hALT")
    assert m.alternate_screen and text_rows(m)[0].endswith("ALT")
    m.feed(b"\x1b[?1047l")
    assert text_rows(m)[0] == "main"
    m.feed(b"\x1b[?47hX\x1b[?47l")
    assert text_rows(m)[0] == "main"


def test_reset_leaves_alternate_screen() -> None:
    m, _ = make()
    m.feed(b"\x1b[?1049hxx\x1bc")
    assert not m.alternate_screen
    assert text_rows(m) == [""] * 5


# ------------------------------------------------------------------ scrollback
def test_scrollback_is_bounded_and_keeps_newest_rows() -> None:
    m, _ = make(rows=4, cols=30, scrollback=100)
    for i in range(1000):
        m.feed(b"row %d\r\n" % i)
    assert m.history_len == 100
    assert m.history_text(m.history_len - 1) == "row 996"
    assert m.history_text(0) == "row 897"


def test_scrollback_bounded_after_flood() -> None:
    m, _ = make(rows=4, cols=30, scrollback=100)
    m.feed(b"".join(b"\x1b[3%dmrow %d\x1b[0m\r\n" % (i % 8, i) for i in range(100_000)))
    assert m.history_len == 100
    assert m.history_text(m.history_len - 1) == "row 99996"
    assert m.history_text(0) == "row 99897"
    cell = m.history_line(m.history_len - 1)[0]
    assert cell.data == "r" and cell.fg == ["black", "red", "green", "brown", "blue", "magenta", "cyan",
                                            "white"][99996 % 8]
    assert text_rows(m)[:3] == ["row 99997", "row 99998", "row 99999"]


def test_zero_scrollback_keeps_nothing() -> None:
    m, _ = make(rows=2, scrollback=0)
    m.feed(b"a\r\nb\r\nc\r\n" * 100)
    assert m.history_len == 0


def test_wrapped_lines_go_to_scrollback_as_rows() -> None:
    m, _ = make(rows=2, cols=10)
    m.feed(b"0123456789abcdefghij\r\nend")
    assert m.history_len == 1
    assert m.history_text(0) == "0123456789"
    assert text_rows(m) == ["abcdefghij", "end"]


def test_erase_scrollback_ed3() -> None:
    m, _ = make(rows=2)
    m.feed(b"a\r\nb\r\nc\r\n")
    assert m.history_len == 2
    m.feed(b"\x1b[3J")
    assert m.history_len == 0


def test_search_finds_rows_in_scrollback_and_screen() -> None:
    m, _ = make(rows=3, cols=20)
    m.feed("needle one\r\nhay\r\nhay\r\n中needle\r\nNEEDLE".encode())
    hits = m.search("needle")
    assert [(h.row, h.start, h.end) for h in hits] == [(0, 0, 6), (3, 2, 8), (4, 0, 6)]
    assert m.search("needle", case_sensitive=True)[-1].row == 3


# ---------------------------------------------------------------------- replies
def test_device_attributes_and_status_replies() -> None:
    m, replies = make()
    m.feed(b"\x1b[c")
    m.feed(b"\x1b[>c")
    m.feed(b"\x1b[5n")
    m.feed(b"abc\x1b[3;7H\x1b[6n")
    assert replies == [b"\x1b[?62;22c", b"\x1b[>1;10;0c", b"\x1b[0n", b"\x1b[3;7R"]


def test_query_split_across_feeds_is_answered_on_read() -> None:
    m, replies = make()
    m.feed(b"\x1b[")
    m.feed(b"6n")
    assert m.cursor == (0, 0, False)  # reading the state processes pending bytes
    assert replies == [b"\x1b[1;1R"]


def test_cursor_report_is_clamped_at_pending_wrap() -> None:
    m, replies = make(cols=10)
    m.feed(b"0123456789\x1b[6n")
    assert replies == [b"\x1b[1;10R"]


def test_osc_title_and_clipboard_are_swallowed() -> None:
    m, replies = make()
    m.feed(b"\x1b]0;evil title\x07\x1b]52;c;cm0gLXJmIC8K\x07\x1b]2;second\x1b\\ok")
    assert replies == []
    assert text_rows(m)[0] == "ok"
    assert m.title == "second"  # kept for the app's own label only


def test_dcs_is_swallowed() -> None:
    m, replies = make()
    m.feed(b"\x1bPq#0;2;0;0;0~~\x1b\\after")
    assert text_rows(m)[0] == "after" and replies == []


# ------------------------------------------------------------------------ modes
def test_mode_flags() -> None:
    m, _ = make()
    assert (m.mouse_tracking, m.mouse_sgr, m.bracketed_paste, m.app_cursor_keys, m.app_keypad) == (
        0, False, False, False, False)
    m.feed(b"\x1b[?1000h\x1b[?1006h\x1b[?2004h\x1b[?1h\x1b=\x1b[?25l\x1b[?1004h")
    assert m.mouse_tracking == 1000 and m.mouse_sgr and m.bracketed_paste
    assert m.app_cursor_keys and m.app_keypad and m.cursor_hidden and m.cursor.hidden and m.focus_events
    m.feed(b"\x1b[?1002h")
    assert m.mouse_tracking == 1002
    m.feed(b"\x1b[?1003h")
    assert m.mouse_tracking == 1003
    m.feed(b"\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1l\x1b>\x1b[?25h")
    assert (m.mouse_tracking, m.mouse_sgr, m.bracketed_paste, m.app_cursor_keys, m.app_keypad) == (
        0, False, False, False, False)
    assert not m.cursor.hidden


def test_deccolm_is_ignored() -> None:
    m, _ = make(cols=20)
    m.feed(b"\x1b[?3h")
    assert m.cols == 20


# ---------------------------------------------------------------- scroll up/down
def test_su_sd_within_margins() -> None:
    m, _ = make(rows=5, cols=10)
    m.feed(b"a\r\nb\r\nc\r\nd\r\ne")
    m.feed(b"\x1b[2;4r\x1b[1S")
    assert text_rows(m) == ["a", "c", "d", "", "e"]
    m.feed(b"\x1b[2T")
    assert text_rows(m) == ["a", "", "", "c", "e"]


# ------------------------------------------------------------------------ resize
def test_resize_shrink_keeps_cursor_row_and_moves_top_to_scrollback() -> None:
    m, _ = make(rows=5, cols=20)
    m.feed(b"1\r\n2\r\n3\r\n4\r\n5")
    m.resize(3, 20)
    assert (m.rows, m.cols) == (3, 20)
    assert text_rows(m) == ["3", "4", "5"]
    assert [m.history_text(i) for i in range(m.history_len)] == ["1", "2"]
    assert m.cursor.y == 2


def test_resize_shrink_drops_blank_rows_below_cursor_first() -> None:
    m, _ = make(rows=5, cols=20)
    m.feed(b"$ ls")
    m.resize(2, 20)
    assert text_rows(m) == ["$ ls", ""]
    assert m.history_len == 0 and m.cursor == (4, 0, False)


def test_resize_columns_truncates_and_grows() -> None:
    m, _ = make(rows=2, cols=10)
    m.feed(b"0123456789")
    m.resize(2, 5)
    assert text_rows(m)[0] == "01234" and m.cursor.x == 4
    m.resize(3, 30)
    assert (m.rows, m.cols) == (3, 30)
    m.feed(b"\r\n\tX")
    assert m.display[1].index("X") == 8
    m.feed(b"\t\t\tY")
    assert m.display[1].index("Y") == 29 - 0 or m.display[1].index("Y") == 24


def test_resize_in_alternate_screen_then_leave() -> None:
    m, _ = make(rows=5, cols=20)
    m.feed(b"1\r\n2\r\n3\r\n4\r\n5")
    m.feed(b"\x1b[?1049hfull screen")
    m.resize(3, 10)
    m.feed(b"\x1b[?1049l")
    assert text_rows(m) == ["3", "4", "5"]
    assert m.cursor.y == 2


# ------------------------------------------------------------------ dirty rows
def test_dirty_tracks_changed_rows_only() -> None:
    m, _ = make(rows=5, cols=20)
    m.feed(b"x")
    m.dirty.clear()
    m.feed(b"\x1b[3;1Hhello")
    assert m.dirty == {2}
    m.dirty.clear()
    m.feed(b"\x1b[5;1H\r\n")  # scroll: every row moved
    assert m.dirty == set(range(5))


def test_wide_chars_and_stub_cells() -> None:
    m, _ = make(rows=2, cols=6)
    m.feed("中文😀".encode())
    row = m.line(0)
    assert [c.data for c in row] == ["中", "", "文", "", "😀", ""]
    m.feed("x".encode())
    assert text_rows(m)[1] == "x"  # wrapped at the edge


def test_split_utf8_and_sequences_across_feeds() -> None:
    m, _ = make()
    data = "é中\x1b[31mred\x1b[0m".encode()
    for i in range(len(data)):
        m.feed(data[i:i + 1])
        m.flush()
    assert text_rows(m)[0] == "é中red"
    assert m.line(0)[3].fg == "red" and m.line(0)[6].fg == "default"


def test_malformed_sequences_do_not_raise() -> None:
    m, _ = make()
    m.feed(b"\x1b[?5A\x1b[1;2;3;4A\x1b[?6h\x1b[0d\x1b[99999999999999999999Hok\x1b[<1;2;3M\x1b")
    m.feed(b"\x1b[?1;2$p\x1b[38:2:1:2:3mz")
    assert "ok" in "".join(m.display)


# ------------------------------------------------------------ memory
PANE_MEMORY_BUDGET = 8 << 20    # per pane: 16 panes with full scrollback stay under 128 MiB


def test_a_full_scrollback_stays_within_the_pane_memory_budget() -> None:
    """10 000 rows of coloured 120-column log, every row laid out (scrolled into view),
    then as much again: held memory stays under the stated budget and does not grow."""
    import tracemalloc
    line = ("\x1b[32m2026-11-26 12:00:%02d\x1b[0m \x1b[1;34mINFO\x1b[0m worker-%d: "
            "request served in %d ms, bytes=%d path=/api/v1/items/%d\r\n")

    def flood(start: int) -> bytes:
        return "".join(line % (i % 60, i % 16, i % 997, i * 7, i)
                       for i in range(start, start + 12_000)).encode()

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        m = TerminalModel(40, 120, scrollback=10_000)
        for start in (0, 12_000):
            data = flood(start)
            for i in range(0, len(data), 65536):
                m.feed(data[i:i + 65536])
            m.flush()
            del data
            for row in range(m.history_len):           # scroll all the way back
                m.history_line(row)
            held = tracemalloc.get_traced_memory()[0] - base
            assert m.history_len == 10_000
            assert held < PANE_MEMORY_BUDGET, held
            if start == 0:
                first = held
        assert held < first * 1.2                       # bounded: the second flood replaced the first
        assert any(row.rstrip().endswith("items/23999") for row in m.display)
    finally:
        tracemalloc.stop()


def test_scrollback_row_with_a_wide_character_and_a_mark_keeps_its_columns() -> None:
    # the stub cell (no character) and a cell with two characters add up to
    # as many characters as cells: the row must not be packed as one string
    m = TerminalModel(2, 10)
    m.feed("中e\u0301\u0323x\r\n\r\n\r\n".encode())
    assert [c.data for c in m.history_line(0)[:4]] == [c.data for c in _screen_row("中e\u0301\u0323x")]


def _screen_row(text: str) -> list:
    m = TerminalModel(2, 10)
    m.feed(text.encode())
    return m.line(0)[:4]


# ------------------------------------------------ where tmux and xterm agree
def test_nel_goes_to_column_zero() -> None:
    m, _ = make(rows=3, cols=10)
    m.feed(b"abc\x1bEdef\x1bE")
    assert text_rows(m) == ["abc", "def", ""]
    assert m.cursor[:2] == (0, 2)
    m.feed(b"xyz\x1bE")                 # at the bottom: scrolls, column 0
    assert text_rows(m) == ["def", "xyz", ""] and m.cursor[:2] == (0, 2)


def test_line_feed_under_the_scroll_region_moves_down_without_scrolling() -> None:
    m, _ = make(rows=6, cols=10)
    m.feed(b"r0\r\nr1\r\nr2\r\nr3\r\nr4\x1b[2;3r\x1b[4;1H\n")
    assert m.cursor.y == 4
    m.feed(b"\n\n\nX")
    assert text_rows(m) == ["r0", "r1", "r2", "r3", "r4", "X"]
    assert m.history_len == 0


def test_hpa_cbt_rep() -> None:
    m, _ = make(rows=3, cols=30)
    m.feed(b"abc\x1b[10`X\x1b[`Y")
    assert text_rows(m)[0] == "Ybc      X"
    m.feed(b"\x1b[1;28H\x1b[ZA\x1b[2ZB\x1b[9ZC")
    assert text_rows(m)[0] == "Cbc      X      B       A"
    m.feed(b"\x1b[2;1Hab\x1b[5bc\x1b[1;30Hz\x1b[9b")   # REP never wraps
    assert text_rows(m)[1] == "abbbbbbc" and text_rows(m)[0].endswith("A    z")
    m.feed("\x1b[3;1H中\x1b[3b".encode())               # only an ASCII character repeats
    assert text_rows(m)[2] == "中" and m.cursor.x == 2


def test_scosc_scorc_save_and_restore_position_and_attributes() -> None:
    m, _ = make(rows=5, cols=10)
    m.feed(b"\x1b[1;33m\x1b[3;5H\x1b[s\x1b[0m\x1b[5;8HA\x1b[uB")
    assert m.cursor[:2] == (5, 2)
    cell = m.line(2)[4]
    assert cell.data == "B" and cell.bold and cell.fg == "brown"


def test_decrc_without_a_save_homes_and_resets_attributes() -> None:
    m, _ = make(rows=5, cols=10)
    m.feed(b"\x1b[1;31m\x1b[3;3HA\x1b8B")
    cell = m.line(0)[0]
    assert cell.data == "B" and not cell.bold and cell.fg == "default"


def test_decaln_and_decstbm_reset_home_the_cursor() -> None:
    m, _ = make(rows=3, cols=4)
    m.feed(b"ab\x1b#8X")
    assert text_rows(m) == ["XEEE", "EEEE", "EEEE"]
    m.feed(b"\x1b[3;3H\x1b[rY")
    assert text_rows(m)[0] == "YEEE"


def test_il_dl_outside_the_scroll_region_do_nothing() -> None:
    m, _ = make(rows=5, cols=5)
    m.feed(b"a\r\nb\r\nc\r\nd\r\ne\x1b[2;3r\x1b[5;1H\x1b[L\x1b[1;1H\x1b[M")
    assert text_rows(m) == ["a", "b", "c", "d", "e"]


def test_ed3_clears_only_the_scrollback() -> None:
    m, _ = make(rows=2, cols=5)
    m.feed(b"a\r\nb\r\nc\x1b[3J")
    assert m.history_len == 0 and text_rows(m) == ["b", "c"]


def test_wide_character_with_one_column_left_wraps_or_is_dropped() -> None:
    m, _ = make(rows=3, cols=5)
    m.feed("abcd中x".encode())
    assert text_rows(m)[:2] == ["abcd", "中x"]
    m.feed("\r\n\x1b[?7labcd中x".encode())        # autowrap off: dropped
    assert text_rows(m)[2] == "abcdx"


def test_overwriting_the_left_half_of_a_wide_character_blanks_its_right_half() -> None:
    m, _ = make(rows=2, cols=10)
    m.feed("中文字\r\x1b[2CX".encode())
    assert [c.data for c in m.line(0)[:6]] == ["中", "", "X", " ", "字", ""]
    m.feed("\r\n中文字\r\x1b[1CY".encode())       # the right half: the left one stays (tmux)
    assert [c.data for c in m.line(1)[:3]] == ["中", "Y", "文"]


def test_controls_inside_a_csi_act_and_the_sequence_goes_on() -> None:
    m, _ = make(rows=2, cols=10)
    m.feed(b"abc\x1b[2\x08DX\r\n\x1b[1\r;5HY")
    assert text_rows(m) == ["Xbc Y", ""]
    m.feed(b"\x1b[2J\x1b[1;1Hab\x1b[\x08\x1b[Kq")   # aborted by ESC: the BS still acts
    assert text_rows(m)[0] == "aq"


def test_sgr_colon_sub_parameters() -> None:
    m, _ = make(rows=1, cols=10)
    m.feed(b"\x1b[38:2::10:20:30ma\x1b[38:2:1:2:3mb\x1b[0;48:5:17mc\x1b[0;4:3md\x1b[4:0me\x1b[58:5:1mf\x1b[3:1mg")
    a, b, c, d, e, f, g = m.line(0)[:7]
    assert a.fg == "0a141e" and b.fg == "010203"
    assert c.bg == "00005f" and c.fg == "default"
    assert d.underscore and not e.underscore and not f.underscore
    assert g.italics


# ------------------------------------------------------------------ reflow
def history(m: TerminalModel) -> list:
    return [m.history_text(i) for i in range(m.history_len)]


def test_narrowing_rewraps_a_soft_wrapped_line_and_widening_joins_it() -> None:
    m, _ = make(rows=4, cols=10)
    m.feed(b"0123456789abcdefghij\r\n$ ")
    assert text_rows(m) == ["0123456789", "abcdefghij", "$", ""]
    m.resize(4, 15)
    assert text_rows(m) == ["0123456789abcde", "fghij", "$", ""] and m.cursor[:2] == (2, 2)
    m.resize(4, 20)
    assert text_rows(m) == ["0123456789abcdefghij", "$", "", ""] and m.cursor[:2] == (2, 1)
    m.resize(4, 7)      # 3 + 1 rows: the blank row under the cursor goes first
    assert text_rows(m) == ["0123456", "789abcd", "efghij", "$"] and m.cursor[:2] == (2, 3)
    assert m.history_len == 0
    m.resize(4, 5)      # 4 + 1 rows: the top one goes to the scrollback
    assert history(m) == ["01234"] and text_rows(m) == ["56789", "abcde", "fghij", "$"]
    m.resize(4, 10)     # and comes back, joined
    assert m.history_len == 0 and text_rows(m) == ["0123456789", "abcdefghij", "$", ""]


def test_hard_newlines_are_not_joined() -> None:
    m, _ = make(rows=3, cols=5)
    m.feed(b"abcde\r\nfghij")
    m.resize(3, 12)
    assert text_rows(m) == ["abcde", "fghij", ""]


def test_a_hard_line_feed_ends_a_wrapped_row() -> None:
    m, _ = make(rows=3, cols=5)
    m.feed(b"abcdefg\x1b[1;1HABCDE\n")     # row 0 soft-wrapped, then a LF from it
    m.resize(3, 12)
    assert text_rows(m) == ["ABCDE", "fg", ""]


def test_an_erased_row_ends_its_line() -> None:
    m, _ = make(rows=3, cols=5)
    m.feed(b"abcdefg\x1b[2;1H\x1b[1J\x1b[1;1Hxy")     # ED 1 erases row 0, which had wrapped
    m.resize(3, 12)
    assert text_rows(m) == ["xy", " g", ""]     # (not joined into "xy    g")


def test_the_cursor_stays_on_its_character() -> None:
    m, _ = make(rows=4, cols=10)
    m.feed(b"0123456789abcdefghij\x1b[2;4H")   # on 'd'
    m.resize(4, 6)
    assert m.line(m.cursor.y)[m.cursor.x].data == "d" and m.cursor[:2] == (1, 2)
    m.resize(4, 30)
    assert m.cursor[:2] == (13, 0)


def test_wide_characters_rewrap_whole() -> None:
    m, _ = make(rows=4, cols=7)
    m.feed("中中中中中".encode())                 # 3 a row (one column left over)
    m.resize(4, 4)
    assert text_rows(m) == ["中中", "中中", "中", ""]
    assert [c.data for c in m.line(0)] == ["中", "", "中", ""]
    m.resize(4, 11)
    assert text_rows(m) == ["中中中中中", "", "", ""] and m.cursor[:2] == (10, 0)
    m.resize(4, 5)                            # an odd width: 2 a row, one column left over
    assert text_rows(m) == ["中中", "中中", "中", ""]
    assert [c.data for c in m.line(1)] == ["中", "", "中", "", " "]


def test_scrollback_rows_rewrap_and_come_back() -> None:
    m, _ = make(rows=2, cols=10)
    m.feed(b"".join(b"L%d:%s\r\n" % (i, b"x" * 12) for i in range(4)) + b"$")
    assert history(m) == ["L0:xxxxxxx", "xxxxx", "L1:xxxxxxx", "xxxxx", "L2:xxxxxxx", "xxxxx", "L3:xxxxxxx"]
    m.resize(2, 20)
    assert history(m) == ["L0:" + "x" * 12, "L1:" + "x" * 12, "L2:" + "x" * 12]
    assert text_rows(m) == ["L3:" + "x" * 12, "$"]
    m.resize(2, 8)
    assert history(m)[:3] == ["L0:xxxxx", "xxxxxxx", "L1:xxxxx"]
    assert text_rows(m) == ["xxxxxxx", "$"]


def test_flooded_scrollback_lays_out_at_the_new_width() -> None:
    m, _ = make(rows=3, cols=10, scrollback=100_000)
    lines = [b"%05d:" % i + b"y" * 9 for i in range(3000)]    # 15 characters: 2 rows at 10 columns
    m.feed(b"\r\n".join(lines) + b"\r\n")
    m.flush()
    assert m._history.raw_blocks() > 0
    assert m.history_len == 2 * 3000 - 2        # the last line's two rows are on screen
    m.resize(3, 20)
    assert m.history_len == 3000 - 2            # one row each
    assert m.history_text(0) == "00000:" + "y" * 9 and m.history_text(2997) == "02997:" + "y" * 9
    assert text_rows(m) == ["02998:" + "y" * 9, "02999:" + "y" * 9, ""]


def test_growing_brings_rows_back_from_the_scrollback() -> None:
    m, _ = make(rows=3, cols=10)
    m.feed(b"a\r\nb\r\nc\r\nd\r\ne")
    assert history(m) == ["a", "b"]
    m.resize(4, 10)
    assert history(m) == ["a"] and text_rows(m) == ["b", "c", "d", "e"] and m.cursor[:2] == (1, 3)
    m.resize(6, 10)
    assert m.history_len == 0 and text_rows(m) == ["a", "b", "c", "d", "e", ""] and m.cursor[:2] == (1, 4)


def test_the_alternate_screen_is_cut_and_the_primary_reflowed_on_return() -> None:
    m, _ = make(rows=4, cols=10)
    m.feed(b"0123456789abc\x1b[?1049h\x1b[H0123456789abc")
    m.resize(4, 5)
    assert text_rows(m) == ["01234", "abc", "", ""]
    m.feed(b"\x1b[?1049l")
    assert text_rows(m) == ["01234", "56789", "abc", ""] and m.cursor[:2] == (3, 2)


def test_reflowed_rows_equal_rows_laid_out_at_that_width() -> None:
    """Lines of coloured, wide and plain text scrolled into the scrollback at
    one width, then resized: every row (scrollback and screen, cells with
    their attributes) equals those of a model fed the same at the new width."""
    import random
    rnd = random.Random(7)
    words = ["word", "\x1b[31mred\x1b[0m", "\x1b[1;44mbold on blue\x1b[0m", "中文字", "é", "x" * 13, "  "]
    # (each line ends in a dot: trailing blanks are not kept in the scrollback,
    # so spaces written at a line's end may take one row fewer than laid out)
    data = "".join("".join(rnd.choice(words) for _ in range(rnd.randrange(12))) + ".\r\n"
                   for _ in range(60)).encode()
    for a, b in ((23, 9), (9, 23), (17, 30), (30, 11), (12, 7)):
        for chunk in (len(data), 97):
            m = TerminalModel(5, a)
            for i in range(0, len(data), chunk):
                m.feed(data[i:i + chunk])
                m.flush()
            m.resize(5, b)
            fresh = TerminalModel(5, b)
            fresh.feed(data)

            def rows(t: TerminalModel) -> list:
                return [t.history_line(i) for i in range(t.history_len)] + t.lines
            assert rows(m) == rows(fresh), (a, b, chunk)
            assert m.cursor == fresh.cursor
