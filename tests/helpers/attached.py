"""A cctui server of a test module's own, and what tests of the attached TUI ask it.

``private_server`` starts ``python -m cctui server`` in a fresh socket directory
(CCTUI_SOCKET_DIR, set in this process for the module's lifetime, so
``Attachment.open`` and ``AttachedApp`` find it) and waits for its ready pipe.
The request helpers each open a short connection, as the CLI does; the async
ones run it in a thread so the app's event loop keeps drawing meanwhile.
"""
from __future__ import annotations

import asyncio
import io
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

from cctui.server import client as server_client

from .servers import spawned_server

HISTORY_START = -(1 << 30)          # capture-pane's start for "the oldest scrollback row"


@contextmanager
def private_server(local_image: bool = True, prefix: str = "cctui-tui-") -> Iterator[str]:
    """A server in its own socket directory (allowed the local image unless told not to);
    CCTUI_SOCKET_DIR points at it while the context lasts. Yields the directory."""
    old = os.environ.get("CCTUI_SOCKET_DIR")
    with spawned_server(prefix, local_image) as server:
        os.environ["CCTUI_SOCKET_DIR"] = server.where
        try:
            yield server.where
        finally:
            os.environ["CCTUI_SOCKET_DIR"] = server.where   # this server's, never another one's
            try:
                with server_client.connect() as conn:
                    conn.request("kill-server")     # ends the sessions (and any VM) in order
            except Exception:
                pass
            if old is None:
                os.environ.pop("CCTUI_SOCKET_DIR", None)
            else:
                os.environ["CCTUI_SOCKET_DIR"] = old


def server_log(where: str) -> str:
    try:
        with open(os.path.join(where, "test-server.log"), errors="replace") as f:
            return f.read()[-4000:]
    except OSError:
        return ""


# -- blocking requests (one connection each) ------------------------------------------------------
def request(op: str, **args: Any) -> Dict[str, Any]:
    with server_client.connect() as conn:
        return conn.request(op, **args)


def capture(target: str, start: Optional[int] = None, end: Optional[int] = None,
            escapes: bool = False) -> str:
    """capture-pane's text (as ``cctui capture-pane -p``)."""
    out = io.BytesIO()
    with server_client.connect() as conn:
        conn.request("capture-pane", out=out, target=target, start=start, end=end, escapes=escapes)
    return out.getvalue().decode()


def sessions() -> List[Dict[str, Any]]:
    return list(request("ls")["sessions"])


def session(name: str) -> Optional[Dict[str, Any]]:
    return next((s for s in sessions() if s["name"] == name), None)


def panes(name: str) -> Dict[str, Dict[str, Any]]:
    """The session's panes by id (every window), as ls lists them; {} for no such session."""
    found = session(name)
    if found is None:
        return {}
    return {p["id"]: p for w in found["windows"] for p in w["panes"]}


def clients(name: str) -> int:
    """Clients attached to session ``name``, as ls's client list says."""
    return sum(1 for c in request("ls")["clients"] if c["session"] == name)


def new_session(name: str, argv: List[str], image: str = "local", rows: int = 24, cols: int = 80,
                wait: bool = True, **more: Any) -> str:
    """A session whose first pane runs ``argv``; its pane id."""
    request("new", name=name, image=image, argv=argv, rows=rows, cols=cols, wait=wait, **more)
    (pane,) = panes(name)
    return pane


def trimmed(text: str) -> List[str]:
    """Rows without trailing blanks, trailing empty rows dropped (a screen as text)."""
    rows = [r.rstrip() for r in text.split("\n")]
    while rows and not rows[-1]:
        rows.pop()
    return rows


# -- the same, off the event loop ---------------------------------------------------------------
async def arequest(op: str, **args: Any) -> Dict[str, Any]:
    return await asyncio.to_thread(request, op, **args)


async def acapture(target: str, **args: Any) -> str:
    return await asyncio.to_thread(capture, target, **args)


async def apanes(name: str) -> Dict[str, Dict[str, Any]]:
    return await asyncio.to_thread(panes, name)


async def aclients(name: str) -> int:
    return await asyncio.to_thread(clients, name)


async def asession(name: str) -> Optional[Dict[str, Any]]:
    return await asyncio.to_thread(session, name)


async def until_async(predicate: Any, timeout: float = 30.0, what: str = "") -> Any:
    """``helpers.wait.until`` for a coroutine predicate (a server request per try)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        await asyncio.sleep(0.1)


# -- plain attachments (no app): a RemoteModel compared with the server's -----------------------
def pump(pane: Any) -> None:
    """Apply every SCREEN the pane has queued (what the view's flush does)."""
    while pane.pump():
        pass


def remote_capture(model: Any, start: Optional[int] = None, end: Optional[int] = None,
                   escapes: bool = False) -> str:
    """capture-pane's text made from a client's RemoteModel (the server's own formatter,
    which reads only rows, history_len, line and history_line)."""
    from cctui.server.capture import capture as format_capture
    return format_capture(model, start, end, escapes)


async def settled(pane: Any, target: str, escapes: bool = True, timeout: float = 60) -> str:
    """Wait until the pane's RemoteModel prints as the server's capture-pane (escapes too);
    return that capture."""
    last: List[str] = ["", ""]

    async def same() -> bool:
        pump(pane)
        last[0] = await acapture(target, escapes=escapes)
        pump(pane)
        last[1] = remote_capture(pane.model, escapes=escapes)
        return last[0] == last[1]
    try:
        await until_async(same, timeout, f"{target}'s RemoteModel to equal capture-pane")
    except AssertionError:
        raise AssertionError(f"remote:\n{last[1]!r}\ncapture:\n{last[0]!r}") from None
    return last[0]


def history_complete(model: Any) -> bool:
    """Every scrollback row is in the client's cache (reading a missing one asks for its chunk)."""
    missing = [i for i in range(model.history_len) if model.history.peek(model.absolute(i)) is None]
    for i in missing:
        model.history_text(i)
    return not missing
