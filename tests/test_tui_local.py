"""Pilot tests of the TUI over a local agent: panes, splits, windows, focus, zoom, keys,
copy mode, mouse selection, search, panels, titles, help, themes, alternate screen,
resize, an instance dying. None needs a VM (the commands run on this host), so
``-m "not vm"`` covers the TUI's behaviour in seconds; what needs a real guest
(floods paced over vsock, a VM killed) stays in test_tui_app.py.

One agent serves the module, on a loop every test reuses (its streams belong to the
loop that connected it); each test runs the app on that loop.
"""
from __future__ import annotations

import asyncio
import os
import signal
from typing import Iterator

import pytest
from textual import events
from textual.widgets import Checkbox, Input, Static

from cctui.aio import AsyncInstance, connect_local
from cctui.tui.app import CctuiApp
from cctui.tui.dialogs import BootDialog, SearchDialog
from cctui.tui.help_screen import HelpScreen
from cctui.tui.keymap import display_keys
from cctui.tui.themes import load_settings
from helpers.tui import (SHELL, SIZE, drawn, frames, kill_one_instance_and_check_the_other, run,
                         shell_ready, type_line)
from helpers.wait import until

pytestmark = pytest.mark.usefixtures("config_dir")    # never the user's keys.toml or theme

BLANK = ("default", "default", False, False, False, False, False, False)   # a cell's attributes


@pytest.fixture(scope="module")
def local(loop: asyncio.AbstractEventLoop) -> Iterator[AsyncInstance]:
    inst = loop.run_until_complete(connect_local(name="local"))
    yield inst
    loop.run_until_complete(inst.close())


def test_type_a_command_and_read_the_screen(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            await type_line(pilot, "echo $((6*7))XY")
            await until(lambda: "42XY" in drawn(frame), 30, "the command's output")
            await type_line(pilot, "printf '\\033[1;31mRED\\033[0m\\n'")
            await until(lambda: "RED" in drawn(frame))
            row = next(y for y in range(frame.view.size.height)
                       if frame.view.render_line(y).text.startswith("RED"))
            style = frame.view.render_line(row)._segments[0].style
            assert style.bold and style.color.triplet is not None
    run(loop, scenario())


def test_split_focus_zoom_close(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            first = frames(app)[0]
            await shell_ready(app, first)
            await pilot.press("ctrl+b", "percent_sign")
            await until(lambda: len(frames(app)) == 2, what="a second pane")
            second = frames(app)[1]
            assert app.focused_pane == second.pane_id
            assert second.region.x > first.region.x          # side by side
            await pilot.press("ctrl+b", "quotation_mark")
            await until(lambda: len(frames(app)) == 3, what="a third pane")
            third = frames(app)[2]
            await pilot.pause()
            assert third.region.y > second.region.y          # stacked under the second
            await pilot.press("ctrl+b", "left")
            await until(lambda: app.focused_pane == first.pane_id, what="focus left")
            await pilot.press("ctrl+b", "o")
            await until(lambda: app.focused_pane != first.pane_id, what="focus next")
            # a click focuses too
            await pilot.click(f"#{first.pane_id} TerminalView")
            await until(lambda: app.focused_pane == first.pane_id, what="click focus")
            await pilot.press("ctrl+b", "z")
            await pilot.pause()
            assert app.layout_widget.zoomed == first.pane_id
            assert not second.display and first.region.width == app.layout_widget.size.width
            await pilot.press("ctrl+b", "z")
            await pilot.pause()
            assert second.display and app.layout_widget.zoomed is None
            width = first.region.width
            await pilot.press("ctrl+b", "ctrl+right")
            await until(lambda: first.region.width > width, what="the split to move")
            await pilot.press("ctrl+b", "x")
            await until(lambda: len(frames(app)) == 2, what="the pane to close")
            assert app.focused_pane in app.layout_widget.frames
    run(loop, scenario())


def test_windows_like_tmux(loop, local):
    """ctrl+b c opens a window with a shell, n/p/digits switch, each window keeps its
    own panes and focus, the status line lists them, the last pane closes its window."""
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            first = frames(app)[0]
            await shell_ready(app, first)
            await type_line(pilot, "echo one-$((1+0))")
            await until(lambda: "one-1" in drawn(first), 30, "output in window 0")
            await pilot.press("ctrl+b", "c")
            await until(lambda: len(app.windows) == 2 and len(frames(app)) == 1, what="window 1")
            second = frames(app)[0]
            assert app.window_index == 1 and second is not first
            assert not app.windows[0].display and app.windows[1].display
            await until(lambda: app.focused_pane == second.pane_id, what="focus in window 1")
            await until(lambda: second.process.state == "running", 60, "its shell")
            await pilot.press("ctrl+b", "percent_sign")            # a split inside window 1
            await until(lambda: len(frames(app)) == 2, what="a split in window 1")
            assert len(app.windows[0].frames) == 1
            assert "0:bash 1:bash*" in str(app.status.render())       # the list, current starred
            await pilot.press("ctrl+b", "0")
            await until(lambda: app.window_index == 0 and app.focused_pane == first.pane_id,
                        what="window 0 and its pane")
            assert "one-1" in drawn(first)                          # its screen kept
            await pilot.press("ctrl+b", "n")
            await until(lambda: app.window_index == 1, what="next window")
            await pilot.press("ctrl+b", "p")
            await until(lambda: app.window_index == 0, what="previous window")
            await pilot.press("ctrl+b", "7")                        # no such window: nothing moves
            await pilot.pause()
            assert app.window_index == 0
            app.focus_pane(second.pane_id)             # the sidebar's way: it shows the window
            await until(lambda: app.window_index == 1 and app.focused_pane == second.pane_id,
                        what="window 1 through its pane")
            await pilot.press("ctrl+b", "0")
            await until(lambda: app.window_index == 0, what="window 0 again")
            await pilot.press("ctrl+b", "1")
            await until(lambda: app.window_index == 1, what="window 1 by number")
            await pilot.press("ctrl+b", "comma")                    # rename it
            await pilot.press(*"logs", "enter")
            await until(lambda: "0:bash 1:logs*" in str(app.status.render()), what="the new name")
            await pilot.press("ctrl+b", "c")                        # window 2, then close it whole
            await until(lambda: len(app.windows) == 3 and app.window_index == 2, what="window 2")
            await until(lambda: frames(app)[0].process.state == "running", 60, "its shell")
            doomed = frames(app)[0].process
            await pilot.press("ctrl+b", "ampersand", "n", "enter")   # asked, and declined
            await pilot.pause()
            assert len(app.windows) == 3
            await pilot.press("ctrl+b", "ampersand", "y", "enter")
            await until(lambda: len(app.windows) == 2 and app.window_index == 1, what="window 2 closed")
            await until(lambda: doomed.state == "exited", 30, "its shell killed")
            await pilot.press("ctrl+b", "x")
            await until(lambda: len(frames(app)) == 1, what="one pane left in window 1")
            await pilot.press("ctrl+b", "x")                        # its last pane: the window goes
            await until(lambda: len(app.windows) == 1 and app.window_index == 0, what="window 1 gone")
            await until(lambda: app.focused_pane == first.pane_id, what="back in window 0")
            assert app.windows[0].display
    run(loop, scenario())


def test_cwd_panel_follows_cd_and_exit_panel_shows_code(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            await type_line(pilot, "cd /tmp")
            await until(lambda: "/tmp" in str(app.cwd_panel.body.render()), 30, "cwd /tmp")
            await pilot.press("ctrl+b", "e")       # the environment panel, filtered
            await until(lambda: app.env_panel.display and app.env_panel.table.row_count > 3)
            app.env_panel.filter.value = "TERM"
            await until(lambda: 0 < app.env_panel.table.row_count < 4, what="env filter")
            await type_line(pilot, "exit 3")
            await until(lambda: frame.process.state == "exited", 30, "the exit")
            await until(lambda: "exit 3" in str(app.exit_panel.body.render()), 10, "exit 3 shown")
            assert "exited 3" in str(frame.title_bar.render())
            await pilot.press("ctrl+b", "r")                   # re-run it in its pane
            await until(lambda: frame.process.state == "running" and frame.process.runs == 2)
            await until(lambda: "tui$" in drawn(frame), 60, "the prompt again")
    run(loop, scenario())


def test_focus_changes_are_reported_to_a_guest_that_asks(loop, local):
    """DECSET 1004: the pane sends ESC [ O when it loses focus and ESC [ I when it gets
    it back; `cat -v` in the guest shows what arrived (the tty echoes it as ^[[O)."""
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            first = frames(app)[0]
            await shell_ready(app, first)
            await pilot.press("ctrl+b", "percent_sign")          # focus moves: nothing asked yet
            await until(lambda: len(frames(app)) == 2, what="a second pane")
            await pilot.click(f"#{first.pane_id} TerminalView")
            await until(lambda: app.focused_pane == first.pane_id, what="focus back")
            assert "^[[" not in drawn(first)
            await type_line(pilot, "printf '\\033[?1004h'; cat -v")
            await until(lambda: first.process.model.focus_events, 30, "focus reporting on")
            await pilot.press("ctrl+b", "o")                       # away...
            await until(lambda: "^[[O" in drawn(first), 30, "the focus-out report")
            await pilot.click(f"#{first.pane_id} TerminalView")   # ...and back
            await until(lambda: "^[[O^[[I" in drawn(first), 30, "the focus-in report")
            app.post_message(events.AppBlur())                     # the terminal window too
            await until(lambda: "^[[O^[[I^[[O" in drawn(first), 30, "the app's focus-out")
            app.post_message(events.AppFocus())
            # Textual blurs and refocuses the pane with the terminal window: one report each
            await until(lambda: "^[[O^[[I^[[O^[[I" in drawn(first), 30, "the app's focus-in")
            assert "^[[O^[[I^[[O^[[I^[[" not in drawn(first)
    run(loop, scenario())


def test_copy_mode_selects_with_the_keyboard_and_pastes(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            await type_line(pilot, "printf 'alpha beta\\ngamma delta\\n'")
            await until(lambda: drawn(frame).count("tui$") == 2, 30, "the output and a prompt")
            await pilot.press("ctrl+b", "left_square_bracket")
            await until(lambda: frame.view.copy_mode, what="copy mode")
            # from the prompt: up to "alpha beta", its second word, select to the end of
            # the next line, copy
            await pilot.press("k", "k", "0", "w", "space", "j", "dollar_sign", "y")
            await until(lambda: not frame.view.copy_mode, what="copy mode left")
            assert frame.view.last_selection == "beta\ngamma delta"
            await pilot.press("ctrl+b", "right_square_bracket")   # paste it at the prompt
            # bash takes it as a bracketed paste: both lines at the prompt, nothing run
            await until(lambda: drawn(frame).rstrip().endswith("tui$ beta\ngamma delta"), 30,
                        "the paste")
    run(loop, scenario())


def test_a_user_keymap_rebinds_the_prefix_and_a_bad_one_keeps_the_defaults(loop, local, config_dir):
    async def scenario():
        keys = config_dir / "keys.toml"
        keys.parent.mkdir(parents=True, exist_ok=True)
        keys.write_text('prefix = "ctrl+a"\n[bind]\nzoom = "m"\n')
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            first = frames(app)[0]
            await shell_ready(app, first)
            await pilot.press("ctrl+a", "percent_sign")
            await until(lambda: len(frames(app)) == 2, what="a split by the new prefix")
            await pilot.press("ctrl+a", "m")
            await until(lambda: app.layout_widget.zoomed is not None, what="zoom on m")
            await pilot.press("ctrl+b", "z")                # now an ordinary key for the guest
            await pilot.pause()
            assert app.layout_widget.zoomed is not None and not app.prefix_pending
        keys.write_text('[bind]\nzoom = "x"\n')            # x is close_pane's
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            assert "'x' is bound to both" in app.keymap_error and app.prefix == "ctrl+b"
            await shell_ready(app, frames(app)[0])
            await pilot.press("ctrl+b", "z")
            await until(lambda: app.layout_widget.zoomed is not None, what="the default zoom")
    run(loop, scenario())


def test_less_uses_the_alternate_screen_and_the_shell_comes_back(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            await type_line(pilot, "echo BEFORE-LESS")
            await until(lambda: drawn(frame).count("BEFORE-LESS") == 2)
            await type_line(pilot, "less /etc/passwd")
            await until(lambda: frame.process.model.alternate_screen, 60, "the alternate screen")
            await until(lambda: "root:x:0:0" in drawn(frame), 30, "less showing the file")
            assert "BEFORE-LESS" not in drawn(frame)
            await pilot.press("q")
            await until(lambda: not frame.process.model.alternate_screen, 30, "leaving it")
            await until(lambda: drawn(frame).count("BEFORE-LESS") == 2, 10, "the shell screen")
            assert "root:x:0:0" not in drawn(frame)
    run(loop, scenario())


def test_resize_reaches_the_command(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            await pilot.press("ctrl+b", "minus")           # split down: the pane halves
            await until(lambda: len(frames(app)) == 2)
            await pilot.press("ctrl+b", "up")
            await until(lambda: app.focused_pane == frame.pane_id)
            await pilot.pause()
            rows, cols = frame.view.size.height, frame.view.size.width
            assert (frame.process.rows, frame.process.cols) == (rows, cols)
            await type_line(pilot, "stty size")
            await until(lambda: f"{rows} {cols}" in drawn(frame), 30, f"stty size = {rows} {cols}")
            await pilot.resize_terminal(140, 40)
            await until(lambda: frame.view.size.width != cols, 10, "a new width")
            await pilot.pause()
            rows, cols = frame.view.size.height, frame.view.size.width
            await type_line(pilot, "clear; stty size")
            await until(lambda: f"{rows} {cols}" in drawn(frame), 30, f"stty size = {rows} {cols}")
    run(loop, scenario())


def test_too_small_terminal_shows_a_notice_and_keeps_the_panes(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=["sh"])
        async with app.run_test(size=(30, 6)) as pilot:
            await pilot.pause()
            assert app.too_small.has_class("-shown")
            assert "too small (30x6)" in str(app.too_small.render())
            assert len(app.layout_widget.frames) == 1      # nothing was closed
            await pilot.resize_terminal(120, 40)
            await pilot.pause()
            assert not app.too_small.has_class("-shown")
    run(loop, scenario())


def test_panels_step_aside_when_the_terminal_narrows(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=["sh"])
        async with app.run_test(size=(160, 40)) as pilot:
            panels = app.query_one("#panels")
            await pilot.pause()
            assert panels.display and not panels.has_class("-narrow")
            await pilot.resize_terminal(100, 40)
            await pilot.pause()
            assert panels.has_class("-narrow")
            await pilot.resize_terminal(160, 40)
            await pilot.pause()
            assert not panels.has_class("-narrow")
    run(loop, scenario())


def test_search_marks_every_hit_and_n_steps_through_them(loop, local):
    """ctrl+b / asks for text; every hit is painted, the newest is current (the copy
    cursor on it, the title counts), n goes to an older hit, N back to a newer one."""
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            view = frame.view
            await shell_ready(app, frame)
            # the typed line must not hold the needle itself: %s puts it together
            await type_line(pilot, "printf 'ne%sle-1\\nhay\\nne%sle-2\\n' ed ed")
            await until(lambda: drawn(frame).count("tui$") == 2, 30, "the output and a prompt")
            await pilot.press("ctrl+b", "slash")
            await until(lambda: isinstance(app.screen, SearchDialog), what="the search prompt")
            await pilot.press(*"needle", "enter")
            await until(lambda: view.copy_mode and len(view.matches) == 2, what="two hits")
            lines = drawn(frame).splitlines()
            rows = [lines.index("needle-1"), lines.index("needle-2")]
            assert [(start, end) for _, start, end in view.matches] == [(0, 6), (0, 6)]
            match = app.painter.style(BLANK, "match")
            cursor = app.painter.style(BLANK, "cursor")

            def painted(y: int) -> list:
                return [(s.text.rstrip(), s.style == match, s.style == cursor) for s in view.render_line(y)]
            # both hits painted, and only them; the current one has the copy cursor on it
            assert painted(rows[0])[:2] == [("needle", True, False), ("-1", False, False)]
            assert painted(rows[1])[:3] == [("n", False, True), ("eedle", True, False), ("-2", False, False)]
            assert view.match_index == 1 and view.copy_cursor.row == view.matches[1][0]
            assert "/needle 2/2" in str(frame.title_bar.render())
            await pilot.press("n")
            await until(lambda: view.match_index == 0, what="the older hit")
            assert view.copy_cursor.row == view.matches[0][0]
            assert "/needle 1/2" in str(frame.title_bar.render())
            await pilot.press("N")
            await until(lambda: view.match_index == 1, what="the newer hit again")
            await pilot.press("q")
            await until(lambda: not view.copy_mode, what="copy mode left")
            assert view.matches == [] and "needle" not in str(frame.title_bar.render())
    run(loop, scenario())


def test_a_title_set_by_the_command_shows_in_its_title_bar_as_text(loop, local):
    """OSC 2 retitles the pane (never the user's terminal); markup in it is shown, not applied."""
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            await type_line(pilot, "printf '\\033]2;%s\\007' '[b]build[/b] 3/7'")
            await until(lambda: "[b]build[/b] 3/7" in str(frame.title_bar.render()), 30,
                        "the new title")
            assert frame.process.guest_title == "[b]build[/b] 3/7"
    run(loop, scenario())


def test_help_lists_every_binding_with_its_keys_shown_literally(loop, local):
    """ctrl+b ? lists the keymap; keys that look like markup ([ and ]) are shown as typed."""
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            await shell_ready(app, frames(app)[0])
            await pilot.press("ctrl+b", "question_mark")
            await until(lambda: isinstance(app.screen, HelpScreen), what="the help screen")
            await pilot.pause()
            shown = str(app.screen.query_one("#help-text", Static).render())
            lines = shown.splitlines()
            for item in app.keymap.actions:           # each line exactly: no key lost to markup
                keys = f"{display_keys(item):<14}"
                assert f"  ctrl+b {keys} {item.description} {item.action}" in lines, item.action
            assert "  ctrl+b [              Scrollback / copy mode (q leaves) copy_mode" in lines
            assert "[/" not in shown and "0 ^ $ line" in shown
            await pilot.press("escape")
            await until(lambda: not isinstance(app.screen, HelpScreen), what="the help closed")
    run(loop, scenario())


def test_a_drag_selects_text_and_the_paste_key_types_it(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            await type_line(pilot, "printf 'alpha %s\\n' beta")
            await until(lambda: drawn(frame).count("tui$") == 2, 30, "the output and a prompt")
            y = drawn(frame).splitlines().index("alpha beta")
            view = f"#{frame.pane_id} TerminalView"
            await pilot.mouse_down(view, offset=(6, y))
            await pilot.hover(view, offset=(9, y))
            await pilot.mouse_up(view, offset=(9, y))
            await until(lambda: frame.view.last_selection == "beta", 10, "the selection")
            await pilot.press("ctrl+b", "right_square_bracket")
            await until(lambda: drawn(frame).rstrip().endswith("tui$ beta"), 30, "the paste")
    run(loop, scenario())


def test_app_survives_an_agent_killed_from_outside(loop, local):
    """The instance behind a pane dies: that pane says so, the app and the other pane go on."""
    async def scenario():
        doomed = await connect_local(name="doomed")
        app = CctuiApp(instances=[local, doomed], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            await kill_one_instance_and_check_the_other(app, pilot, doomed, doomed._backend.proc.pid, SHELL)
        await doomed.close()
    run(loop, scenario())


def test_the_next_theme_recolours_the_panes_and_is_remembered(loop, local):
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            before, painter = app.theme, frame.view.painter
            await pilot.press("ctrl+b", "t")
            await until(lambda: app.theme != before, what="another theme")
            assert frame.view.painter is app.painter and app.painter is not painter
            assert app.painter.colours is app.themes[app.theme].terminal
            assert load_settings()["theme"] == app.theme       # the next start opens with it
            assert f"theme {app.theme}" in str(app.status.render())
    run(loop, scenario())


def test_a_slow_rc_file_shows_what_runs_in_the_title_and_the_cwd_panel(loop, local, tmp_path):
    """While bash runs its rc file, the pane says what runs now (tmux's pane_current_command)."""
    rc = tmp_path / "slowrc"
    rc.write_text("sleep 60\nPS1='tui$ '\n")

    async def scenario():
        app = CctuiApp(instances=[local], first_command=["bash", "--rcfile", str(rc), "-i"])
        async with app.run_test(size=SIZE):
            frame = frames(app)[0]
            await until(lambda: "bash: running sleep" in str(frame.title_bar.render()), 30,
                        "the title to say what runs")
            process = frame.process
            assert process.current_command == "sleep" and process.fg_pid != process.cmd.pid
            await until(lambda: f"foreground: sleep (pid {process.fg_pid})"
                        in str(app.cwd_panel.body.render()), 10, "the cwd panel")
            os.kill(process.fg_pid, signal.SIGTERM)          # the rc file goes on: a prompt
            await until(lambda: "tui$" in drawn(frame), 30, "the prompt after the rc file")
            await until(lambda: process.current_command == "bash"
                        and "bash: running" not in str(frame.title_bar.render()), 10,
                        "the shell itself again")
            assert "foreground: bash" in str(app.cwd_panel.body.render())
    run(loop, scenario())


def test_a_process_name_with_escape_bytes_shows_escaped(loop, local):
    """A guest names its process with ESC and BEL: the title shows symbols, nothing applies."""
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            # a subshell (its own process group, in the foreground) renames itself, then waits
            await type_line(pilot, "(printf '\\033]2;pwn\\007' > /proc/self/comm; read -t 60)")
            await until(lambda: "running ␛]2;pwn␇" in str(frame.title_bar.render()), 30,
                        "the escaped name in the title")
            assert frame.process.current_command == "␛]2;pwn␇"
            assert "foreground: ␛]2;pwn␇ (pid" in str(app.cwd_panel.body.render())
            assert frame.process.guest_title == ""
            await pilot.press("ctrl+c")
            await until(lambda: frame.process.current_command == "bash", 30, "the shell again")
    run(loop, scenario())


def test_the_boot_dialogs_network_checkbox_reaches_the_boot(loop, local):
    """ctrl+b v: the dialog's Network checkbox starts off; its value is what the app boots
    with (boot_vm, the seam below the dialog, is replaced by a recorder: no VM here)."""
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL)
        booted: list = []

        def record(image=None, *, net=False, ports=(), volumes=(), memory_mb=None, cpus=None):
            booted.append((image, net, list(ports), list(volumes)))
            return local

        app.boot_vm = record                                 # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await shell_ready(app, frames(app)[0])
            for tick in (False, True):
                await pilot.press("ctrl+b", "v")
                await until(lambda: isinstance(app.screen, BootDialog), 10, "the boot dialog")
                box = app.screen.query_one("#net", Checkbox)
                assert box.value is False                    # off by default, every time
                if tick:
                    await pilot.click("#net")
                    await until(lambda b=box: b.value is True, 10, "the box ticked")
                await pilot.click("#boot")
                await until(lambda n=1 + tick: len(booted) == n, 10, "the boot call")
                assert booted[-1] == ("host", tick, [], [])
    run(loop, scenario())


def test_the_first_vm_gets_the_network_ports_and_volumes(loop, local):
    """`cctui tui --net=restrict -p .. -v ..`: the flags reach the first VM's boot only."""
    from cctui.cli import _parser
    args = _parser().parse_args(["tui", "--net=restrict", "-p", "8080:80", "-v", "/srv:/srv:ro",
                                 "--", "htop"])
    assert (args.net, args.publish, args.volume, args.argv) == (
        "restrict", ["8080:80"], ["/srv:/srv:ro"], ["--", "htop"])
    args = _parser().parse_args(["--net", "-p", "8080:80"])      # `cctui` alone: the TUI
    assert (args.command, args.net, args.publish, args.volume) == (None, "on", ["8080:80"], [])

    async def scenario():
        app = CctuiApp(first_command=SHELL, net=args.net, ports=args.publish,
                       volumes=["/srv:/srv:ro"])
        booted: list = []

        def record(image=None, *, net=False, ports=(), volumes=(), memory_mb=None, cpus=None):
            booted.append((image, net, list(ports), list(volumes)))
            return local

        app.boot_vm = record                                 # type: ignore[method-assign]
        async with app.run_test(size=SIZE):
            await until(lambda: booted, 10, "the first VM's boot")
            assert booted == [("host", "on", ["8080:80"], ["/srv:/srv:ro"])]
    run(loop, scenario())


def test_the_boot_dialog_sets_memory_and_cpus_and_refuses_bad_values(loop, local):
    """ctrl+b v: memory and CPUs start at the app's values and reach the boot; a value out
    of range keeps the dialog open (nothing boots) until it is corrected."""
    async def scenario():
        app = CctuiApp(instances=[local], first_command=SHELL, memory_mb=768, cpus=1)
        booted: list = []

        def record(image=None, *, net=False, ports=(), volumes=(), memory_mb=None, cpus=None):
            booted.append((memory_mb, cpus))
            return local

        app.boot_vm = record                                 # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await shell_ready(app, frames(app)[0])
            await pilot.press("ctrl+b", "v")
            await until(lambda: isinstance(app.screen, BootDialog), 10, "the boot dialog")
            dialog = app.screen
            memory, cpus = dialog.query_one("#memory", Input), dialog.query_one("#cpus", Input)
            assert (memory.value, cpus.value) == ("768", "1")
            memory.value, cpus.value = "2048", "999"          # 999 CPUs: out of range
            await pilot.click("#boot")
            await pilot.pause()
            assert app.screen is dialog and booted == []
            await until(lambda: cpus.has_focus, 10, "the bad field focused")
            cpus.value = "4"
            await pilot.press("enter")                          # submit from the corrected field
            await until(lambda: booted, 10, "the boot call")
            assert booted == [(2048, 4)]
    run(loop, scenario())
