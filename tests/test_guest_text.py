"""Guest text made printable in one place; widgets that show it never parse it as markup."""
from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.app import App, ComposeResult

from cctui.guest_text import ENV_ENTRIES_LIMIT, LABEL_LIMIT, printable, printable_env
from cctui.terminal import TerminalModel
from cctui.terminal.search import find_in_row
from cctui.tui.panels import CwdPanel, EnvPanel, ExitPanel
from cctui.tui.status_line import StatusLine
from cctui.tui.vm_tree import VmTree

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")

# Guest strings: controls, escape sequences, markup, surrogates, wide text.
guest_strings = st.lists(st.one_of(
    st.text(max_size=20),
    st.sampled_from(["\x1b[2J", "\x1b]52;c;QUJD\x07", "\x9b31m", "\x1bP+q\x1b\\", "[/x]", "[b]",
                     "[@click=app.quit]", "\\", "\ud800", "\u202e", "İ", "界", "\x7f", "\n", "$accent"]),
), max_size=30).map("".join)


def test_controls_become_visible_symbols() -> None:
    assert printable("a\x1b[2Jb") == "a␛[2Jb"
    assert printable("\x07\x7f\x9b\ud800") == "␇␡\ufffd\ufffd"
    assert printable("tab\there") == "tab␉here"
    assert printable("left\u202eright") == "left\ufffdright"


def test_length_is_capped_and_says_so() -> None:
    shown = printable("x" * 10_000, 100)
    assert len(shown) == 100 and shown.endswith("…")
    assert printable(12345) == "12345"              # a number where a string belonged


def test_console_text_keeps_lines_and_drops_whole_escape_sequences() -> None:
    assert printable("\x1b[1;31mfail\x1b[0m\r\nnext\x1b]0;t\x07", keep_newlines=True) == "fail␍\nnext"


def test_environment_is_bounded_in_entries_and_sizes() -> None:
    env = printable_env({f"K{i}": "v" * 10_000 for i in range(5000)})
    assert len(env) == ENV_ENTRIES_LIMIT
    assert all(len(value) <= 4096 for value in env.values())


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None)
@given(guest_strings, st.integers(1, 300))
def test_printable_never_lets_a_control_through(text: str, limit: int) -> None:
    for keep in (False, True):
        shown = printable(text, limit, keep_newlines=keep)
        assert len(shown) <= limit
        assert not _CONTROL.search(shown.replace("\n", "") if keep else shown)


def test_search_maps_columns_when_lowercase_changes_length() -> None:
    # "İ".lower() is two characters: the hit after it must still name its columns
    assert list(find_in_row(list("İİab"), "AB")) == [(2, 4)]
    assert list(find_in_row(["a", "界", "", "x"], "界x")) == [(1, 4)]
    model = TerminalModel(3, 20)
    model.feed("İİİİ needle\r\n".encode())
    assert [(m.start, m.end) for m in model.search("NEEDLE")] == [(5, 11)]


class _Process:
    """What the panels read of a pane's process."""

    def __init__(self, cwd: str, env: dict, error: str) -> None:
        self.cwd, self.env, self.error = printable(cwd), printable_env(env), printable(error, LABEL_LIMIT)
        self.fg_pid, self.state, self.cmd, self.runs, self.duration = 7, "failed", None, 1, None
        self.exit_status = None
        self.current_command = printable(error[:16], 32)    # the foreground process's name


class _Panels(App):
    def compose(self) -> ComposeResult:
        yield CwdPanel()
        yield ExitPanel()
        yield EnvPanel()


@pytest.mark.fuzz
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guest_strings, guest_strings, guest_strings)
def test_panels_show_any_guest_text_as_text(cwd: str, value: str, error: str) -> None:
    async def show() -> None:
        app = _Panels()
        async with app.run_test(size=(80, 30)) as pilot:
            process = _Process(cwd, {"KEY" + value[:3]: value}, error)
            for panel in (app.query_one(CwdPanel), app.query_one(ExitPanel), app.query_one(EnvPanel)):
                panel.show(process)          # a MarkupError here would end the app
            await pilot.pause()
            cwd_text = str(app.query_one("#cwd-text").render())
            assert process.cwd.split("\n")[0][:20] in cwd_text
            if process.current_command:
                assert f"foreground: {process.current_command} (pid 7)" in cwd_text
    asyncio.run(show())


class _FailedVm:
    name, accel, transport, state, status_detail, commands = "vm1", "tcg", "vsock-user", "failed", "", []
    error = "QEMU exited: [/x]\x1b]2;t\x07" + "y" * 5000


def test_a_vm_error_in_the_tree_is_text_not_markup() -> None:
    async def build() -> str:
        class _Tree(App):
            def compose(self) -> ComposeResult:
                yield VmTree()
        app = _Tree()
        async with app.run_test() as pilot:
            tree = app.query_one(VmTree)
            tree.rebuild([_FailedVm()], [])          # a MarkupError here would end the app
            await pilot.pause()
            return str(tree.root.children[0].label)
    label = asyncio.run(build())
    assert "QEMU exited: [/x]␛]2;t␇" in label and len(label) <= LABEL_LIMIT
    assert "vm1 tcg vsock-user" in label                 # which transport, beside the accel


@pytest.mark.fuzz
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guest_strings, guest_strings)
def test_the_status_line_shows_any_pane_or_vm_text_as_text(pane: str, vms: str) -> None:
    async def show() -> str:
        class _Status(App):
            def compose(self) -> ComposeResult:
                yield StatusLine()
        app = _Status()
        async with app.run_test(size=(400, 3)) as pilot:
            line = app.query_one(StatusLine)
            line.show(prefix="ctrl+b", pending=True, windows="0:x[6n*", pane=pane, vms=vms, theme="t")
            await pilot.pause()
            return line.render_line(0).text
    text = asyncio.run(show())
    assert "0:x[6n*" in text and printable(pane)[:40] in text


def test_a_command_line_that_looks_like_markup_does_not_break_the_status_line() -> None:
    test_the_status_line_shows_any_pane_or_vm_text_as_text.hypothesis.inner_test(
        "1 vmA: python3 -c sys.stdout.write('\\x1b[6n' * 9) [/]", "[b]vm")
