"""The attached TUI against a real VM session (issue 11: sessions that outlive the TUI).

One server and ONE session on the default host image serve the module, created as
``cctui`` creates it: ``new`` without waiting for the boot, then an attach that
shows the VM booting. Each check compares a client's copy of the pane (the
RemoteModel a reattached client rebuilt from SCREEN frames and history fetched on
demand) with the server's own capture-pane, escapes included, cell by cell.
"""
from __future__ import annotations

import asyncio
import io
from typing import Any, Coroutine, Iterator, List

import pytest

from cctui.client import Attachment
from cctui.server import client as server_client
from cctui.tui.attached_app import AttachedApp
from cctui.server.pane_process import PaneState
from helpers.attached import (acapture, aclients, arequest, history_complete, panes, private_server,
                              pump, remote_capture, request, settled, trimmed, until_async)
from helpers.tui import SHELL, drawn, frames, type_line
from helpers.wait import until

pytestmark = [pytest.mark.vm, pytest.mark.usefixtures("config_dir")]

SESSION = "v"
BOOT = 300          # seconds for the guest's shell under TCG on a loaded machine
APP_SIZE = (100, 30)


@pytest.fixture(scope="module")
def pane() -> Iterator[str]:
    """The module's session, made as `cctui` makes it (new without waiting); its pane id."""
    with private_server(local_image=False, prefix="cctui-tui-attach-vm-"):
        request("new", name=SESSION, image="host", argv=SHELL, rows=24, cols=80, wait=False)
        (pane_id,) = panes(SESSION)
        yield pane_id


def run(coro: Coroutine[Any, Any, Any], timeout: float = BOOT + 120) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def prompt(pane_id: str) -> None:
    await arequest("wait-text", target=pane_id, text="tui$", timeout=BOOT)


async def quiet_prompt(pane_id: str, marker: str) -> None:
    """Wait for ``marker``'s output and the prompt after it (the shell idle again)."""
    await arequest("wait-text", target=pane_id, text=marker, timeout=120)

    async def idle() -> bool:
        rows = trimmed(await acapture(pane_id))
        return bool(rows) and rows[-1] == "tui$" and marker in rows
    await until_async(idle, 60, f"the prompt after {marker}")


async def send(pane_id: str, line: str) -> None:
    await arequest("send-keys", target=pane_id, keys=[line, "Enter"])


async def attach(rows: int = 24, cols: int = 80) -> Attachment:
    return await Attachment.open(SESSION, rows, cols)


def test_the_app_attaches_while_the_vm_boots_and_detaches(pane: str) -> None:
    """`cctui`: the app attaches at once; the pane goes from starting to the shell's prompt
    in view; ctrl+b d leaves it running."""
    async def scenario() -> None:
        app = AttachedApp(SESSION)
        async with app.run_test(size=APP_SIZE) as pilot:
            await until(lambda: len(frames(app)) == 1, 60, "the pane frame")
            frame = frames(app)[0]
            assert frame.pane_id == pane
            await until(lambda: frame.process.state is PaneState.RUNNING, BOOT, "the VM's shell running")
            await until(lambda: "tui$" in drawn(frame), BOOT, "the prompt drawn")
            await until(lambda: app.focused_pane == pane, 30, "focus on the pane")
            await type_line(pilot, "echo booted-$((6*7))")
            await until(lambda: "booted-42" in trimmed(drawn(frame)), 60, "the echo")
            await pilot.press("ctrl+b", "d")
            await until(lambda: not app.is_running, 30, "the app to exit")
        assert app.exit_message == f"[detached (from session {SESSION})]"
        (listed,) = (await arequest("ls"))["sessions"]
        assert listed["windows"][0]["panes"][0]["state"] == "running"
        (vm,) = listed["vms"]
        assert vm["state"] == "running" and vm["qemu_pid"] > 0          # a real VM, not the local image
        assert await aclients(SESSION) == 0
    run(scenario())


def test_a_reattached_client_has_the_servers_screen_history_cursor_and_modes(pane: str) -> None:
    async def scenario() -> None:
        await prompt(pane)
        await send(pane, "clear; printf '\\033[31mred\\033[0m plain \\033[1;44mbold-on-blue\\033[0m\\n'; "
                         "seq 1 500 > /tmp/seq.txt; cat /tmp/seq.txt; echo end-$((1+1))")
        await quiet_prompt(pane, "end-2")
        # a client attaches (the TUI: it sizes the pane to its view) and detaches
        app = AttachedApp(SESSION)
        async with app.run_test(size=APP_SIZE) as pilot:
            await until(lambda: len(frames(app)) == 1, 60, "the pane frame")
            frame = frames(app)[0]
            await until(lambda: "end-2" in trimmed(drawn(frame)), 60, "the output drawn")
            await until_async(lambda: _drawn_is_capture(frame, pane), 60, "the app's pane as capture-pane")
            await pilot.press("ctrl+b", "d")
            await until(lambda: not app.is_running, 30, "the app to exit")
        assert app.exit_message == f"[detached (from session {SESSION})]"

        # a new client: its copy equals the server's, cell by cell (escapes), and a fresh one's
        again = await attach()
        try:
            remote = again.panes[pane]
            screen = await settled(remote, pane)
            fresh = await attach()
            try:
                other = fresh.panes[pane]
                await settled(other, pane)
                assert [remote.model.line(y) for y in range(remote.model.rows)] == \
                    [other.model.line(y) for y in range(other.model.rows)]
                assert remote.model.cursor == other.model.cursor
                assert remote.model.modes == other.model.modes and not remote.model.alternate_screen
            finally:
                await fresh.close()
            rows = screen.split("\n")
            last_prompt = max(i for i, r in enumerate(rows) if r.startswith("tui$"))
            assert (remote.model.cursor.y, remote.model.cursor.x) == (last_prompt, len("tui$ "))

            # the scrollback, fetched row by row from the server, equals capture -S -N -e
            hist = remote.model.history_len
            assert hist > 400
            await until(lambda: history_complete(remote.model), 60, "every history row fetched")
            assert remote.model.history_len == hist
            theirs = await acapture(pane, start=-hist, end=-1, escapes=True)
            ours = remote_capture(remote.model, -hist, -1, escapes=True)
            assert ours == theirs
            lines = ours.split("\n")
            assert "\x1b[0;31mred\x1b[0m plain \x1b[0;1;44mbold-on-blue\x1b[0m" in lines
            numbers = [int(r) for r in lines if r.isdigit()]
            assert len(numbers) > 400 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))

            # the alternate screen: less shows the file; a client attached meanwhile agrees
            await send(pane, "less /tmp/seq.txt")
            await until(lambda: pump(remote) or remote.model.alternate_screen, 60, "less's alternate screen")
            await until_async(lambda: _less_drawn(pane, remote.model.rows), 60, "less's first page")
            await settled(remote, pane)
        finally:
            await again.close()
        during = await attach()
        try:
            seen = during.panes[pane]
            await settled(seen, pane)
            assert seen.model.alternate_screen and seen.model.modes.alternate_screen
            assert remote_capture(seen.model).split("\n")[0] == "1"         # less's first page
            await arequest("send-keys", target=pane, keys=["q"])
            await until(lambda: pump(seen) or not seen.model.alternate_screen, 60, "less to end")
            await until_async(lambda: _ends_with(pane, ["tui$ less /tmp/seq.txt", "tui$"]), 60,
                              "the prompt after less")
            restored = await settled(seen, pane)
            assert trimmed(restored)[-2:] == ["tui$ less /tmp/seq.txt", "tui$"]
            assert "end-2" in trimmed(restored)
        finally:
            await during.close()
    run(scenario())


async def _less_drawn(pane_id: str, rows: int) -> bool:
    """less's first page: the file's first rows-1 lines, then its prompt row."""
    shown = trimmed(await acapture(pane_id))
    return len(shown) == rows and shown[:rows - 1] == [str(n) for n in range(1, rows)]


async def _ends_with(pane_id: str, rows: List[str]) -> bool:
    return trimmed(await acapture(pane_id))[-len(rows):] == rows


async def _drawn_is_capture(frame: Any, pane_id: str) -> bool:
    return trimmed(await acapture(pane_id)) == trimmed(drawn(frame))


def test_output_made_while_detached_shows_after_reattach(pane: str) -> None:
    """A command that waits on a fifo the test opens only after the client detached:
    its output is certainly made while nobody is attached."""
    async def scenario() -> None:
        await prompt(pane)
        await send(pane, "clear; rm -f /tmp/gate; mkfifo /tmp/gate && echo gate-$((1+1)); cat /tmp/gate; "
                         "echo late-$((6*7))")
        await arequest("wait-text", target=pane, text="gate-2", timeout=60)    # the fifo exists
        first = await attach()
        try:
            shown = first.panes[pane]
            await settled(shown, pane)
            assert "late-42" not in remote_capture(shown.model).split("\n")
            await first.detach()
            await until(lambda: first.detached is not None, 30, "DETACHED")
        finally:
            await first.close()
        await until_async(lambda: _no_clients(), 30, "no client attached")
        await asyncio.to_thread(_exec, ["sh", "-c", "echo go > /tmp/gate"])
        await arequest("wait-text", target=pane, text="late-42", timeout=60)
        second = await attach()
        try:
            later = second.panes[pane]
            screen = await settled(later, pane)
            assert "late-42" in screen.split("\n")
        finally:
            await second.close()
    run(scenario())


async def _no_clients() -> bool:
    return await aclients(SESSION) == 0


def _exec(argv: List[str]) -> None:
    out, err = io.BytesIO(), io.BytesIO()
    with server_client.connect() as conn:
        code = conn.exec(SESSION, argv, None, None, out, err)
    assert code == 0, (out.getvalue(), err.getvalue())
