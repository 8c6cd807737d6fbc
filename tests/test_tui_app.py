"""Pilot tests of the TUI against a real VM (TCG here): what needs a guest behind
vsock. Floods paced by the guest's flow-control window, a VM killed from outside,
a guest that floods terminal queries. Everything else the TUI does runs over a local
agent in test_tui_local.py.

One VM is booted per module on a loop that every test reuses (the instance's
streams belong to the loop that booted it); each test runs the app on that loop.
"""
from __future__ import annotations

import asyncio
import time
from typing import Iterator

import pytest

from cctui.aio import AsyncInstance
from cctui.vm.machine import boot_async
from cctui.tui.app import CctuiApp
from cctui.server.pane_process import OUTPUT_WINDOW, YIELD_WINDOW
from cctui.tui.terminal_view import FLOOD_FRAME, FRAME
from helpers.tui import (SHELL, SIZE, drawn, frames, kill_one_instance_and_check_the_other, run,
                         shell_ready, type_line)
from helpers.wait import until

# boots a real VM (`-m "not vm"` skips the slow tier); never the user's keys or theme
pytestmark = [pytest.mark.vm, pytest.mark.usefixtures("config_dir")]


@pytest.fixture(scope="module")
def vm(loop: asyncio.AbstractEventLoop) -> Iterator[AsyncInstance]:
    inst = loop.run_until_complete(boot_async("host", name="vmA"))
    yield inst
    loop.run_until_complete(inst.close())


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


def test_app_survives_a_vm_killed_from_outside(loop, vm):
    async def scenario():
        doomed = await boot_async("host", name="doomed")
        app = CctuiApp(instances=[vm, doomed], first_command=SHELL)
        async with app.run_test(size=SIZE) as pilot:
            await kill_one_instance_and_check_the_other(app, pilot, doomed, doomed.qemu_pid, SHELL)
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


def test_the_first_vm_boots_with_the_apps_network_and_volume(loop, tmp_path):
    """`cctui tui --net -v DIR:/shared:ro`: the VM the app boots itself has a NIC (its tree
    label says so) and the host folder mounted where the pane can read it."""
    from cctui.tui.vm_tree import network_label
    (tmp_path / "hello.txt").write_text("from the host\n")

    async def scenario():
        app = CctuiApp(first_command=SHELL, net="on", volumes=[f"{tmp_path}:/shared:ro"])
        async with app.run_test(size=SIZE) as pilot:
            frame = frames(app)[0]
            await shell_ready(app, frame)
            assert network_label(frame.process.instance) == "net"
            await type_line(pilot, "cat /shared/hello.txt")
            await until(lambda: "from the host" in drawn(frame), 60, "the volume's file")
    run(loop, scenario())
