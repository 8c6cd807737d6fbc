"""The attach client (cctui/client) against a real server on the local-agent image.

No VM and no stand-in: the server runs in its own socket directory with
CCTUI_ALLOW_LOCAL_IMAGE=1, so a session's command is a real pty process behind the
guest agent, emulated by the server's TerminalModel and copied to RemoteModel.
"""
from __future__ import annotations

import asyncio
from typing import Any, Iterator, List

import pytest

from cctui.client import Attachment
from cctui.server import client as server_client
from cctui.server.pane_process import PaneState
from helpers.servers import spawned_server
from helpers.wait import until


@pytest.fixture(scope="module")
def socket_dir() -> Iterator[str]:
    """A server of our own in a fresh socket directory, allowed the local image."""
    with spawned_server("cctui-client-") as server:
        yield server.where


def test_typed_keys_echo_in_the_remote_model_and_history_comes_from_the_server(
        socket_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCTUI_SOCKET_DIR", socket_dir)
    with server_client.connect() as conn:
        conn.request("new", name="e2e", image="local", argv=["sh"], rows=12, cols=60)

    async def scenario() -> None:
        lost: List[str] = []
        layouts: List[Any] = []
        att = await Attachment.open("e2e", 12, 60, on_lost=lost.append, on_layout=layouts.append)
        try:
            assert att.session == "e2e" and att.layout is not None
            (pane_id,) = att.panes
            pane = att.panes[pane_id]
            assert pane.instance is att.vms[next(iter(att.vms))]
            await until(lambda: pane.state is PaneState.RUNNING, 30, "the pane to run")

            def pumped() -> None:
                while pane.pump():
                    pass

            def shows(text: str) -> bool:
                pumped()
                return any(line.rstrip() == text for line in pane.model.display)
            pane.type(b"echo h''i\r")                     # the echo reads 'hi', the command line does not
            await until(lambda: shows("hi"), 30, "the echo of 'hi' in the RemoteModel")
            # the size this client shows the pane at becomes the pane's (one client: smallest rule)
            pane.resize(8, 40)
            await until(lambda: pumped() or (pane.model.rows, pane.model.cols) == (8, 40), 30,
                        "the 8x40 SCREEN")
            # scrollback rows come on demand, by absolute number, from the server's model
            pane.type(b"seq 1 30\r")
            await until(lambda: shows("30"), 30, "seq's output")
            hist = pane.model.history_len
            assert hist > 10
            arrived: List[int] = []
            pane.model.on_history = lambda: arrived.append(1)
            assert [pane.model.history_text(i) for i in range(hist)] == [""] * hist   # asked for
            await until(lambda: arrived, 30, "history rows")
            texts = [pane.model.history_text(i) for i in range(hist)]
            numbers = [t for t in texts if t.isdigit()]
            assert numbers and numbers == [str(n) for n in range(int(numbers[0]), int(numbers[-1]) + 1)]
            hits = await pane.search_remote("seq 1 30")
            assert hits and all(h.row < pane.model.history_len + pane.model.rows for h in hits)
            assert not lost
        finally:
            await att.close()

    asyncio.run(asyncio.wait_for(scenario(), 120))
    with server_client.connect() as conn:
        conn.request("kill-session", target="e2e")
