"""The TUI as a client of the server (issue 11): AttachedApp under Textual's pilot.

One server serves the module, in its own socket directory, allowed the local image
(the guest agent as a host process: a pane's command is a real pty process, its
screen emulated by the server). Every check reads the server's own answer
(capture-pane, ls) beside what the app draws; no VM, so this runs in seconds.
"""
from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import threading
from itertools import count
from typing import Any, Coroutine, Iterator, List, Optional, Set

import ptyprocess

import pytest
from textual.widgets import Static

from cctui.client import Attachment
from cctui.tui.attached_app import AttachedApp
from cctui.tui.help_screen import HelpScreen
from cctui.tui.keymap import display_keys
from cctui.server.pane_process import PaneState
from helpers.processes import alive
from helpers.attached import (HISTORY_START, acapture, aclients, apanes, arequest, asession, capture,
                              new_session, panes, private_server, request, session, trimmed,
                              until_async)
from helpers.tui import SHELL, SIZE, drawn, frames, type_line
from helpers.wait import until, wait_until

pytestmark = pytest.mark.usefixtures("config_dir")    # never the user's keys.toml or theme


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with private_server(local_image=True, prefix="cctui-tui-attach-") as where:
        new_session("keep", ["cat"])        # the last session's end would end the server
        yield where


NUMBERS = count(1)


@pytest.fixture
def name(server: str) -> Iterator[str]:
    """A fresh session name for one test; the session is ended afterwards if it still runs."""
    sname = f"t{next(NUMBERS)}"
    yield sname
    if session(sname) is not None:
        request("kill-session", target=sname)


def run(coro: Coroutine[Any, Any, Any], timeout: float = 90) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def shell_session(sname: str) -> str:
    pane = new_session(sname, SHELL)
    request("wait-text", target=pane, text="tui$", timeout=30)
    return pane


async def attached(app: AttachedApp) -> Any:
    """The app's one frame once the first LAYOUT drew it, focused and showing the prompt."""
    await until(lambda: app.attachment is not None and len(frames(app)) >= 1, 30, "the attached pane")
    frame = frames(app)[0]
    await until(lambda: app.focused_pane == frame.pane_id, 30, "focus on the pane")
    await until(lambda: frame.process.state is PaneState.RUNNING, 30, "the pane running")
    await until(lambda: "tui$" in drawn(frame), 30, "the prompt drawn")
    return frame


async def drawn_equals_capture(frame: Any, target: str) -> List[str]:
    """Wait until what the frame draws equals the server's capture-pane; return it."""
    last: List[Any] = [None, None]

    async def same() -> bool:
        last[0] = trimmed(await acapture(target))
        last[1] = trimmed(drawn(frame))
        return bool(last[0] == last[1])
    try:
        await until_async(same, 30, f"{target} drawn as capture-pane says")
    except AssertionError:
        raise AssertionError(f"drawn:\n{last[1]}\ncapture:\n{last[0]}") from None
    return list(last[0])


async def wait_exit(app: AttachedApp) -> None:
    await until(lambda: not app.is_running, 30, "the app to exit")


# -- attaching and typing ---------------------------------------------------------------------------
def test_attach_draws_what_capture_pane_says(name: str) -> None:
    pane = shell_session(name)
    request("send-keys", target=pane, keys=["printf 'before-%s\\n' $((6*7))", "Enter"])
    request("wait-text", target=pane, text="before-42", timeout=30)

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE):
            frame = await attached(app)
            assert frame.pane_id == pane and app.session_name == name
            rows = await drawn_equals_capture(frame, pane)
            assert "before-42" in rows
    run(scenario())


def test_typing_in_the_app_reaches_the_servers_pane(name: str) -> None:
    pane = shell_session(name)

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE) as pilot:
            frame = await attached(app)
            await type_line(pilot, "echo typed-$((1000+234))")
            await until_async(lambda: _has_row(pane, "typed-1234"), 30, "the output in capture-pane")
            await until(lambda: "typed-1234" in trimmed(drawn(frame)), 30, "the output drawn")
            await drawn_equals_capture(frame, pane)
    run(scenario())


async def _has_row(target: str, text: str) -> bool:
    return text in trimmed(await acapture(target))


# -- structure: splits and kills are server requests ---------------------------------------------
async def split_in_app(app: AttachedApp, pilot: Any, name: str, first: str) -> str:
    """ctrl+b % in the app: the server's ls and the app both have the new pane, side by
    side, active there and focused here. Returns its id."""
    await attached(app)
    await pilot.press("ctrl+b", "percent_sign")
    await until_async(lambda: _count_panes(name, 2), 30, "ls to list two panes")
    await until(lambda: len(frames(app)) == 2, 30, "two pane frames")
    listed = await apanes(name)
    assert {f.pane_id for f in frames(app)} == set(listed) and first in listed
    assert frames(app)[1].region.x > frames(app)[0].region.x        # side by side
    (second,) = [i for i in listed if i != first]
    assert listed[second]["active"]             # the server's active pane: the new one
    await until(lambda: app.focused_pane == second, 10, "focus on the new pane")
    return second


def test_split_and_kill_pane_go_through_the_server(name: str) -> None:
    first = shell_session(name)

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE) as pilot:
            await split_in_app(app, pilot, name, first)
            await pilot.press("ctrl+b", "x")            # the focused pane: the new one
            await until_async(lambda: _count_panes(name, 1), 30, "ls to list one pane")
            assert list(await apanes(name)) == [first]
            await until(lambda: [f.pane_id for f in frames(app)] == [first], 30, "one pane frame")
            await until(lambda: app.focused_pane == first, 10, "focus back on the first pane")
    run(scenario())


def test_focus_follows_the_pane_another_client_selects(name: str) -> None:
    first = shell_session(name)

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE) as pilot:
            await split_in_app(app, pilot, name, first)
            await arequest("select-pane", target=first)
            await until(lambda: app.focused_pane == first, 10, "focus on the pane another client selected")
            assert (await apanes(name))[first]["active"]
    run(scenario())


async def _count_panes(sname: str, n: int) -> bool:
    return len(await apanes(sname)) == n


# -- detaching, reattaching ----------------------------------------------------------------------------
def test_detach_leaves_the_session_running_and_a_new_app_shows_what_came_meanwhile(name: str) -> None:
    pane = shell_session(name)

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE) as pilot:
            await attached(app)
            assert await aclients(name) == 1
            await pilot.press("ctrl+b", "d")
            await wait_exit(app)
        assert app.exit_message == f"[detached (from session {name})]"
        assert app.return_value == 0
        listed = await apanes(name)
        assert listed[pane]["state"] == "running"
        await until_async(lambda: _clients_are(name, 0), 30, "ls to show no client")
        await arequest("send-keys", target=pane, keys=["echo while-away-$((40+2))", "Enter"])
        await arequest("wait-text", target=pane, text="while-away-42", timeout=30)

        again = AttachedApp(name)
        async with again.run_test(size=SIZE):
            frame = await attached(again)
            await until(lambda: "while-away-42" in trimmed(drawn(frame)), 30, "output made while detached")
            await drawn_equals_capture(frame, pane)
    run(scenario())


async def _clients_are(sname: str, n: int) -> bool:
    return await aclients(sname) == n


def test_two_apps_attached_at_once_see_each_others_typing(name: str) -> None:
    pane = shell_session(name)

    async def scenario() -> None:
        one, two = AttachedApp(name), AttachedApp(name)
        async with one.run_test(size=SIZE) as pilot_one:
            frame_one = await attached(one)
            async with two.run_test(size=(120, 40)):
                frame_two = await attached(two)
                await until_async(lambda: _clients_are(name, 2), 30, "ls to count two clients")
                await until(lambda: one.attachment.layout.clients == 2       # type: ignore[union-attr]
                            and two.attachment.layout.clients == 2, 30,      # type: ignore[union-attr]
                            "LAYOUT to count two clients")
                await type_line(pilot_one, "echo from-one-$((3*3))")
                await until(lambda: "from-one-9" in trimmed(drawn(frame_two)), 30,
                            "the other app to draw the typed line's output")
                assert "from-one-9" in trimmed(drawn(frame_one))
                # both draw the server's screen (the pane takes the smaller client's size)
                await drawn_equals_capture(frame_two, pane)
                await drawn_equals_capture(frame_one, pane)
            await until(lambda: one.attachment.layout.clients == 1, 30,   # type: ignore[union-attr]
                        "LAYOUT to count one client after the other app closed")
    run(scenario())


CLIENT = """
import asyncio, sys
from cctui.client import Attachment
async def main():
    att = await Attachment.open(sys.argv[1], 20, 70)
    print("attached", len(att.panes), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def test_a_sigkilled_client_is_a_detach(name: str) -> None:
    pane = shell_session(name)
    proc = subprocess.Popen([sys.executable, "-c", CLIENT, name], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        ready = select.select([proc.stdout], [], [], 30)[0]
        line = proc.stdout.readline() if ready else b""
        assert line.split() == [b"attached", b"1"], (line, proc.poll())
        assert wait_until(lambda: _clients_sync(name) == 1, 30, what="ls to count the client")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    wait_until(lambda: _clients_sync(name) == 0, 30, what="ls to drop the killed client")
    listed = request("ls")
    entry = next(s for s in listed["sessions"] if s["name"] == name)
    assert [p["state"] for w in entry["windows"] for p in w["panes"]] == ["running"]
    request("send-keys", target=pane, keys=["echo after-kill-$((5+5))", "Enter"])
    request("wait-text", target=pane, text="after-kill-10", timeout=30)

    async def scenario() -> None:
        att = await Attachment.open(name, 20, 70)
        try:
            remote = att.panes[pane]

            def shows() -> bool:
                while remote.pump():
                    pass
                return any(r.rstrip() == "after-kill-10" for r in remote.model.display)
            await until(shows, 30, "the new attachment's screen")
            assert await aclients(name) == 1
        finally:
            await att.close()
    run(scenario())


def _clients_sync(sname: str) -> int:
    return sum(1 for c in request("ls")["clients"] if c["session"] == sname)


# -- ending the session -----------------------------------------------------------------------------------
def test_quit_key_ends_the_session(name: str) -> None:
    shell_session(name)

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE) as pilot:
            await attached(app)
            await pilot.press("ctrl+b", "q")
            await wait_exit(app)
        assert app.exit_message == f"[session {name} ended: its VMs are powered off]"
        await until_async(lambda: _gone(name), 30, "ls to drop the session")
    run(scenario())


async def _gone(sname: str) -> bool:
    return await asession(sname) is None


# -- scrollback from the server -----------------------------------------------------------------------------
def test_copy_mode_scrolls_to_the_top_of_history_fetched_from_the_server(name: str) -> None:
    pane = shell_session(name)

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE) as pilot:
            frame = await attached(app)
            await type_line(pilot, "seq 1 3000")
            await until(lambda: trimmed(drawn(frame))[-2:] == ["3000", "tui$"], 30, "seq's end and a prompt")
            view = frame.view
            assert frame.process.model.history_len > 2900
            await pilot.press("ctrl+b", "left_square_bracket")
            await until(lambda: view.copy_mode, 30, "copy mode")
            await pilot.press("g")
            await until(lambda: view.scroll_back == frame.process.model.history_len, 30, "the top")
            await until(lambda: "1" in trimmed(drawn(frame)), 30, "row '1' from the server's history")
            height = view.size.height
            oldest = trimmed(await acapture(pane, start=HISTORY_START))[:height]
            await until(lambda: trimmed(drawn(frame)) == oldest, 30, "the oldest rows as capture-pane's")
            assert oldest[oldest.index("1"):][:3] == ["1", "2", "3"]
            assert trimmed(drawn(frame)).count("1") == 1
    run(scenario())


# -- help -------------------------------------------------------------------------------------------------------
def test_help_lists_the_detach_key(name: str) -> None:
    shell_session(name)

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE) as pilot:
            await attached(app)
            await pilot.press("ctrl+b", "question_mark")
            await until(lambda: isinstance(app.screen, HelpScreen), 30, "the help screen")
            await pilot.pause()
            lines = str(app.screen.query_one("#help-text", Static).render()).splitlines()
            (detach,) = [a for a in app.keymap.actions if a.action == "detach"]
            assert display_keys(detach) == "d"
            assert f"  ctrl+b {'d':<14} {detach.description} detach" in lines
            assert "Detach" in detach.description
            await pilot.press("escape")
            await until(lambda: not isinstance(app.screen, HelpScreen), 30, "the help closed")
            assert app.is_running and await aclients(name) == 1
    run(scenario())


# -- the CLI in a terminal: `cctui` and `cctui attach` under a pty -------------------------------------------
class Terminal:
    """``python -m cctui ARGS`` on a pty of its own; a thread drains what it draws."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, TERM="xterm-256color")
        self.proc = ptyprocess.PtyProcess.spawn([sys.executable, "-m", "cctui", *args], env=env,
                                                dimensions=(30, 100))
        self.output = bytearray()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = self.proc.read(1 << 16)
            except EOFError:
                return
            self.output.extend(data)

    def ended(self) -> bool:
        return not self.proc.isalive()

    def close(self) -> None:
        if self.proc.isalive():
            self.proc.kill(signal.SIGKILL)
            wait_until(self.ended, 30, what="the killed client to go")
        self.reader.join(30)


def _new_session_named(before: Set[str]) -> Optional[str]:
    names = {s["name"] for s in request("ls")["sessions"]} - before
    return next(iter(names)) if len(names) == 1 else None


def test_cctui_makes_a_session_attaches_and_detaches(server: str) -> None:
    """`cctui tui -- CMD` (as `cctui`, with a first command; here on the local image): a new
    server session, attached at once; keys typed in the terminal reach its pane; ctrl+b d
    ends the client with the detached message and leaves the session running."""
    before = {s["name"] for s in request("ls")["sessions"]}
    term = Terminal("tui", "--image", "local", "--", *SHELL)
    sname = None
    try:
        sname = wait_until(lambda: _new_session_named(before), 30, what="the new session")
        wait_until(lambda: _clients_sync(sname) == 1, 30, what="the client attached")
        (pane,) = panes(sname)
        wait_until(lambda: b"tui$" in term.output, 30, what="the app to draw the prompt")
        term.proc.write(b"echo via-pty-$((2+3))\r")
        wait_until(lambda: "via-pty-5" in trimmed(capture(pane)), 30, what="the typed line's output")
        term.proc.write(b"\x02")
        term.proc.write(b"d")
        wait_until(term.ended, 30, what="the client to exit")
        term.reader.join(30)
        assert term.proc.exitstatus == 0
        assert f"[detached (from session {sname})]".encode() in term.output
        assert panes(sname)[pane]["state"] == "running"
        assert _clients_sync(sname) == 0
    finally:
        term.close()
        if sname is not None and session(sname) is not None:
            request("kill-session", target=sname)


def test_a_sigkilled_cctui_attach_is_a_detach(name: str) -> None:
    pane = shell_session(name)
    term = Terminal("attach", "-t", name)
    try:
        wait_until(lambda: _clients_sync(name) == 1, 30, what="`cctui attach` attached")
        wait_until(lambda: b"tui$" in term.output, 30, what="the app to draw the prompt")
        term.proc.write(b"echo from-attach-$((4+4))\r")
        wait_until(lambda: "from-attach-8" in trimmed(capture(pane)), 30, what="the typed line's output")
        term.proc.kill(signal.SIGKILL)
        wait_until(term.ended, 30, what="the client to die")
    finally:
        term.close()
    wait_until(lambda: _clients_sync(name) == 0, 30, what="ls to drop the killed client")
    assert panes(name)[pane]["state"] == "running"
    request("send-keys", target=pane, keys=["echo still-$((9+9))", "Enter"])
    request("wait-text", target=pane, text="still-18", timeout=30)


def test_attaching_to_a_split_window_sends_each_pane_one_size(name: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pane-size makes the server reflow that pane's whole scrollback: a frame
    mounted before its place in the layout is known would send a passing size first."""
    from cctui.client import RemotePane
    first = shell_session(name)
    for horizontal in (True, False, True):
        request("split-window", target=first, horizontal=horizontal, argv=SHELL)
    second = request("new-window", target=name, argv=SHELL)["target"]
    for horizontal in (True, False, True):
        request("split-window", target=second, horizontal=horizontal, argv=SHELL)
    sent: dict = {}
    original = RemotePane.resize

    def recording(self: RemotePane, rows: int, cols: int) -> None:
        sent.setdefault(self.ident, []).append((rows, cols))
        original(self, rows, cols)
    monkeypatch.setattr(RemotePane, "resize", recording)

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: len(frames(app)) == 4, 30, "the shown window's four pane frames")
            await pilot.pause()
            await until(lambda: len(sent) >= 4, 30, "a size from every pane on screen")
            await pilot.pause(0.5)
            drawn_sizes = {f.pane_id: (f.view.size.height, f.view.size.width) for f in frames(app)}
            assert {p: sent[p] for p in drawn_sizes} == {p: [size] for p, size in drawn_sizes.items()}, (sent, drawn_sizes)
    run(scenario())


def test_another_windows_panes_are_drawn_when_it_is_shown(name: str) -> None:
    """A window's pane frames are made when it is first shown (an attach mounts only the
    window on screen); the sidebar lists every pane meanwhile, and ctrl+b n shows them."""
    first = shell_session(name)
    other = request("new-window", target=name, argv=SHELL)["id"]
    request("wait-text", target=other, text="tui$", timeout=30)
    request("send-keys", target=other, keys=["echo in-window-$((2*3))", "Enter"])
    request("wait-text", target=other, text="in-window-6", timeout=30)
    request("select-window", target=f"{name}:0")

    async def scenario() -> None:
        app = AttachedApp(name)
        async with app.run_test(size=SIZE) as pilot:
            await attached(app)
            assert [f.pane_id for f in frames(app)] == [first]
            assert len(app.all_frames()) == 1               # the other window's: not made yet
            await pilot.press("ctrl+b", "n")
            await until(lambda: [f.pane_id for f in frames(app)] == [other], 30, "the other window's pane")
            await until(lambda: app.focused_pane == other, 30, "focus on it")
            await drawn_equals_capture(frames(app)[0], other)
            await pilot.press("ctrl+b", "p")                # back: its frame was kept
            await until(lambda: app.focused_pane == first, 30, "focus back on the first pane")
            assert len(app.all_frames()) == 2
    run(scenario())


def test_attaching_without_a_terminal_says_so_and_starts_nothing(server: str) -> None:
    """A script that runs `cctui new` (no -d) or `cctui attach` gets a clear error, and
    no session is made behind its back."""
    before = {s["name"] for s in request("ls")["sessions"]}
    env = dict(os.environ, CCTUI_SOCKET_DIR=server)
    for argv in (["new", "-s", "no-tty", "--image", "local", "--", "sh"], ["attach", "-t", "keep"]):
        done = subprocess.run([sys.executable, "-m", "cctui", *argv], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=60)
        assert done.returncode == 1 and b"attaching needs a terminal" in done.stderr, done.stderr
    assert {s["name"] for s in request("ls")["sessions"]} == before


def test_bare_cctui_makes_a_session_and_attaches(server: str) -> None:
    """`cctui` with no command at all (what ./quickstart runs): a session on the image's
    own entrypoint, attached at once; ctrl+b d leaves it running."""
    before = {s["name"] for s in request("ls")["sessions"]}
    term = Terminal("--image", "local")
    sname = None
    try:
        sname = wait_until(lambda: _new_session_named(before), 30, what="the new session")
        wait_until(lambda: _clients_sync(sname) == 1, 30, what="the client attached")
        (pane,) = panes(sname)
        wait_until(lambda: panes(sname)[pane]["state"] == "running", 30, what="its command running")
        wait_until(lambda: b"running" in term.output, 30, what="the pane drawn (its title)")
        # (its command is the host user's login shell, whose rc files are theirs: typing
        # through the terminal is checked with a known shell in the test above)
        term.proc.write(b"\x02")
        term.proc.write(b"d")
        wait_until(term.ended, 30, what="the client to exit")
        term.reader.join(30)
        assert term.proc.exitstatus == 0, term.output[-500:]
        assert f"[detached (from session {sname})]".encode() in term.output
        assert panes(sname)[pane]["state"] == "running"
    finally:
        term.close()
        if sname is not None and session(sname) is not None:
            request("kill-session", target=sname)


def test_quitting_the_last_session_ends_the_server_quietly() -> None:
    """ctrl+b q on a server's only session: the server exits with it, and the client
    says the session ended (status 0), not that it lost the server."""
    with private_server(local_image=True, prefix="cctui-tui-last-") as where:
        new_session("only", SHELL)
        request("wait-text", target="only", text="tui$", timeout=30)
        pid = request("ls")["server_pid"]

        async def scenario() -> AttachedApp:
            app = AttachedApp("only")
            async with app.run_test(size=SIZE) as pilot:
                await attached(app)
                await pilot.press("ctrl+b", "q")
                await wait_exit(app)
            return app

        app = run(scenario())
        assert app.exit_message == "[session only ended: its VMs are powered off]"
        assert app.return_code in (0, None)
        wait_until(lambda: not alive(pid), 30, what="the server to exit")
        assert where

