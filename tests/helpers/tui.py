"""Driving the app under Textual's pilot: read what a pane draws, wait for a prompt,
type a line. Shared by the local-agent module and the VM module of TUI tests."""
from __future__ import annotations

import asyncio
import os
import signal
from typing import Any, Coroutine, List, Optional, TypeVar

from cctui.api.instance import AsyncInstance
from cctui.tui.app import CctuiApp
from cctui.tui.pane_frame import PaneFrame
from helpers.wait import until

T = TypeVar("T")

# bash without the user's rc files: a host's ~/.bashrc (pyenv init...) takes tens
# of seconds under TCG, and a prompt of its own would hide the one waited for.
SHELL = ["env", "PS1=tui$ ", "bash", "--norc", "--noprofile"]
SIZE = (160, 48)


def drawn(frame: PaneFrame) -> str:
    """What the pane's widget draws (its strips), one line a row."""
    view = frame.view
    return "\n".join(view.render_line(y).text.rstrip() for y in range(view.size.height))


def frames(app: CctuiApp) -> List[PaneFrame]:
    """The panes of the window on screen, in the order they were opened."""
    return list(app.layout_widget.frames.values())


async def shell_ready(app: CctuiApp, frame: PaneFrame) -> None:
    await until(lambda: frame.process.state == "running", 60, "the command to start")
    await until(lambda: "tui$" in drawn(frame), 60, "a shell prompt")


async def type_line(pilot: Any, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text], "enter")


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """One test's scenario on the module's loop (where its instance's streams live)."""
    return loop.run_until_complete(asyncio.wait_for(coro, 300))


async def kill_one_instance_and_check_the_other(app: CctuiApp, pilot: Any, doomed: AsyncInstance,
                                                pid: Optional[int], shell: List[str]) -> None:
    """SIGKILL ``pid`` (what runs ``doomed``) from outside: ``doomed``'s pane says it
    failed, while the app and the first pane (another instance) go on echoing."""
    good = frames(app)[0]
    await shell_ready(app, good)
    bad = await app.open_pane(doomed, shell)
    await shell_ready(app, bad)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await until(lambda: doomed.state == "failed", 30, "the instance to be noticed dead")
    await until(lambda: bad.process.state == "failed", 30, "the pane to say so")
    assert "failed" in str(bad.title_bar.render())
    assert "stopped" in drawn(bad) or "not running" in drawn(bad).lower()
    assert app.is_running
    app.focus_pane(good.pane_id)
    await until(lambda: app.focused_pane == good.pane_id)
    await type_line(pilot, "echo STILL-$((40+2))")
    await until(lambda: "STILL-42" in drawn(good), 30, "the other instance's pane")
