"""Pilot tests of the TUI against real VMs (TCG here): panes, layout, panels, alt screen.

One VM is booted per module on a loop that every test reuses (the instance's
streams belong to the loop that booted it); each test runs the app on that loop.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Iterator

import pytest
from textual import events

from cctui.aio import AsyncInstance
from cctui.vm.machine import boot_async
from cctui.tui.app import CctuiApp
from cctui.tui.pane_frame import PaneFrame
from cctui.tui.pane_process import OUTPUT_WINDOW, YIELD_WINDOW
from cctui.tui.terminal_view import FLOOD_FRAME, FRAME
from helpers.wait import until

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier

# bash without the user's rc files: a host's ~/.bashrc (pyenv init...) takes tens
# of seconds under TCG, which is the guest's business, not the multiplexer's.
SHELL = ["env", "PS1=tui$ ", "bash", "--norc", "--noprofile"]
SIZE = (160, 48)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def vm(loop) -> Iterator[AsyncInstance]:
    inst = loop.run_until_complete(boot_async("host", name="vmA"))
    yield inst
    loop.run_until_complete(inst.close())


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    path = tmp_path / "config"
    monkeypatch.setenv("CCTUI_CONFIG_DIR", str(path))
    return path


def drawn(frame: PaneFrame) -> str:
    """What the pane's widget draws (its strips), one line a row."""
    view = frame.view
    return "\n".join(view.render_line(y).text.rstrip() for y in range(view.size.height))


def frames(app: CctuiApp):
    return list(app.layout_widget.frames.values())


async def shell_ready(app: CctuiApp, frame: PaneFrame) -> None:
    await until(lambda: frame.process.state == "running", 60, "the command to start")
    await until(lambda: "tui$" in drawn(frame), 60, "a shell prompt")


async def type_line(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text], "enter")


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, 300))


def test_type_a_command_and_read_the_screen(loop, vm):
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=SHELL)
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


def test_split_focus_zoom_close(loop, vm):
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=SHELL)
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


def test_windows_like_tmux(loop, vm):
    """ctrl+b c opens a window with a shell, n/p/digits switch, each window keeps its
    own panes and focus, the status line lists them, the last pane closes its window."""
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=SHELL)
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


def test_cwd_panel_follows_cd_and_exit_panel_shows_code(loop, vm):
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=SHELL)
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


def test_a_flood_is_paused_in_the_guest_and_redrawn_at_the_frame_rate(loop, vm):
    """A pane acks only what it laid out: while it cannot draw, `yes` in the guest is
    held to the window instead of filling host memory; then it resumes, and two
    redraws are never closer than the frame interval."""
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=["yes", "flood"])
        async with app.run_test(size=SIZE):
            frame = frames(app)[0]
            process, view = frame.process, frame.view
            flush, flushes = view._flush, []
            view._flush = lambda: None                  # the pane stalls: nothing is laid out
            await until(lambda: process.state == "running", 60, "yes to start")
            await until(lambda: process.received >= OUTPUT_WINDOW - 64 * 1024, 60, "a window")
            for _ in range(5):                          # guest round trips while it stays stalled
                await vm.command("true").run()
            assert process.received <= OUTPUT_WINDOW and process.has_pending

            def timed_flush() -> None:
                flushes.append((time.monotonic(), view._frame_interval()))
                flush()
            view._flush = timed_flush
            view._flush_scheduled = False
            view.output_arrived()
            await until(lambda: process.received > 4 * OUTPUT_WINDOW, 120, "the flood to resume")
            # a flood that has gone on for FLOOD_AFTER drops to the flood rate (on a fast
            # host 4 windows can arrive before that, so wait for the switch itself)
            await until(lambda: flushes and flushes[-1][1] == FLOOD_FRAME, 120, "the flood rate")
            assert process.model.history_len == 10_000          # the scrollback's bound
            gaps = [(b[0] - a[0], b[1]) for a, b in zip(flushes, flushes[1:])]
            assert len(gaps) > 10
            assert all(gap >= interval * 0.9 for gap, interval in gaps), min(gaps)
            # a long flood nobody types into is drawn at the lower flood rate...
            assert gaps[-1][1] == FLOOD_FRAME and gaps[0][1] == FRAME
            process.type(b"x")                     # ...until a key goes into the pane
            assert view._frame_interval() == FRAME
            process.kill()
    run(loop, scenario())


def test_a_flood_yields_while_another_pane_is_typed_in(loop, vm):
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=SHELL)
        app.typing_priority.hold = 0.5
        async with app.run_test(size=SIZE) as pilot:
            typer = frames(app)[0]
            await shell_ready(app, typer)
            flooder = await app.open_pane(vm, ["yes", "flood"], beside=typer.pane_id)
            await until(lambda: flooder.process.model.history_len > 50, 60, "the flood")
            channel = flooder.process.cmd.channel
            assert channel.window == OUTPUT_WINDOW
            await pilot.click(f"#{typer.pane_id} TerminalView")
            await until(lambda: app.focused_pane == typer.pane_id, what="focus on the shell")
            await type_line(pilot, "echo $((6*7))XY")
            # the flood's guest window shrank; the typed pane kept its own
            assert flooder.process.yielding and channel.window == YIELD_WINDOW
            assert typer.process.cmd.channel.window == OUTPUT_WINDOW
            await until(lambda: "42XY" in drawn(typer), 30, "the echo and output")
            received = flooder.process.received
            await until(lambda: flooder.process.received > received + YIELD_WINDOW, 30,
                        "the flood to go on, slower, while yielding")
            # the full window comes back once the keys stop
            await until(lambda: channel.window == OUTPUT_WINDOW, 30, "the flood's window back")
            assert not flooder.process.yielding
            flooder.process.kill()
    run(loop, scenario())


def test_focus_changes_are_reported_to_a_guest_that_asks(loop, vm):
    """DECSET 1004: the pane sends ESC [ O when it loses focus and ESC [ I when it gets
    it back; `cat -v` in the guest shows what arrived (the tty echoes it as ^[[O)."""
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=SHELL)
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


def test_copy_mode_selects_with_the_keyboard_and_pastes(loop, vm):
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=SHELL)
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


def test_a_user_keymap_rebinds_the_prefix_and_a_bad_one_keeps_the_defaults(loop, vm, config_dir):
    async def scenario():
        keys = config_dir / "keys.toml"
        keys.parent.mkdir(parents=True, exist_ok=True)
        keys.write_text('prefix = "ctrl+a"\n[bind]\nzoom = "m"\n')
        app = CctuiApp(instances=[vm], first_command=SHELL)
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
        app = CctuiApp(instances=[vm], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            assert "'x' is bound to both" in app.keymap_error and app.prefix == "ctrl+b"
            await shell_ready(app, frames(app)[0])
            await pilot.press("ctrl+b", "z")
            await until(lambda: app.layout_widget.zoomed is not None, what="the default zoom")
    run(loop, scenario())


def test_less_uses_the_alternate_screen_and_the_shell_comes_back(loop, vm):
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=SHELL)
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


def test_resize_reaches_the_guest(loop, vm):
    async def scenario():
        app = CctuiApp(instances=[vm], first_command=SHELL)
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


def test_app_survives_a_vm_killed_from_outside(loop, vm):
    async def scenario():
        doomed = await boot_async("host", name="doomed")
        app = CctuiApp(instances=[vm, doomed], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            good = frames(app)[0]
            await shell_ready(app, good)
            bad = await app.open_pane(doomed, SHELL)
            await shell_ready(app, bad)
            os.kill(doomed._backend.machine.qemu.proc.pid, signal.SIGKILL)
            await until(lambda: doomed.state == "failed", 30, "the VM to be noticed dead")
            await until(lambda: bad.process.state == "failed", 30, "the pane to say so")
            assert "failed" in str(bad.title_bar.render())
            assert "stopped" in drawn(bad) or "not running" in drawn(bad).lower()
            assert app.is_running
            app.focus_pane(good.pane_id)
            await until(lambda: app.focused_pane == good.pane_id)
            await type_line(pilot, "echo STILL-$((40+2))")
            await until(lambda: "STILL-42" in drawn(good), 30, "the other VM's pane")
        await doomed.close()
    run(loop, scenario())


def test_a_flood_of_terminal_queries_costs_one_writer_not_a_task_each(loop, vm):
    """1 MB of DSR queries from a guest that never reads its answers: the answers
    share one buffer and one writer task, and another pane still echoes."""
    queries = "import sys, time; sys.stdout.write('\\x1b[6n' * 250000); sys.stdout.flush(); time.sleep(600)"

    async def scenario():
        app = CctuiApp(instances=[vm], first_command=["python3", "-c", queries])
        async with app.run_test(size=SIZE) as pilot:
            flood = frames(app)[0]
            most_tasks = 0

            def settled() -> bool:
                nonlocal most_tasks
                most_tasks = max(most_tasks, len(asyncio.all_tasks()))
                return flood.process.received >= 1_000_000 and not flood.process.has_pending
            await until(settled, 120, "the queries to be read and answered")
            assert most_tasks < 100, most_tasks
            shell = await app.open_pane(vm, SHELL)
            await shell_ready(app, shell)
            await type_line(pilot, "echo ALIVE-$((40+2))")
            await until(lambda: "ALIVE-42" in drawn(shell), 30, "the other pane's echo")
            flood.process.kill()
    run(loop, scenario())


def test_many_small_terminal_writes_share_one_task_and_all_arrive(loop, vm):
    async def scenario():
        received = bytearray()
        cmd = vm.command("sh", "-c", "stty raw -echo; echo READY; head -c 20000 | wc -c").set_tty(24, 80)
        cmd.set_output_handler(lambda data: (received.extend(data), cmd.ack(len(data))))
        await cmd.start()
        await until(lambda: b"READY" in received, 30, "the terminal in raw mode")
        before = len(asyncio.all_tasks())
        for _ in range(20000):
            cmd.write(b"x")
        assert len(asyncio.all_tasks()) <= before + 1
        await cmd.wait()
        assert b"20000" in bytes(received)
    run(loop, scenario())
