"""One attached client: what it was sent, what it is owed, and when to send it.

An ``Attachment`` watches its session (``Domain.observers``) and sends LAYOUT
and SCREEN frames (``wire.py``) to its link. Per pane it remembers the
generation and row version it last sent (``Pane.take``), so what it owes is
never a backlog: at most every row of every pane. Sending is paced to at most
60 SCREEN rounds a second (the first at once when the client was idle, so a
keystroke's echo waits for no timer) and LAYOUT to one per 50 ms. A client
whose socket holds more than ``ATTACH_BUFFER`` unsent bytes is sent nothing
until it drains; then it gets what changed meanwhile (tmux and mosh do this).
So a client that stops reading costs the server at most that buffer and one
screen, never blocks the others, and never reaches ``SEND_LIMIT``.

Pane sizes follow tmux's "smallest" rule: a pane takes the smallest rows and
the smallest cols that attached clients reported for it (``pane-size``).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from ..guest_text import printable
from .domain import Domain, Pane, Session
from .screen_codec import encode_layout, encode_row
from .wire import Frame, encode, encode_json

if TYPE_CHECKING:
    from .daemon import ClientLink

log = logging.getLogger(__name__)
ATTACH_BUFFER = 512 * 1024      # unsent bytes past which a client gets nothing more until it drains
FRAME_INTERVAL = 1 / 60         # at most 60 SCREEN rounds a second per client
LAYOUT_INTERVAL = 0.05          # LAYOUT coalesced to one per 50 ms
SCREEN_FRAME_LIMIT = 768 * 1024  # JSON bytes in one SCREEN (the framing allows 1 MiB)
ENV_ENTRIES = 512               # a pane's environment in LAYOUT: entries
ENV_BYTES = 64 * 1024           # ... and bytes
SIZE_RULE = "smallest"


def pane_number(ident: str) -> int:
    return int(ident[1:])


def bounded_env(env: Dict[str, str]) -> Dict[str, str]:
    """At most ENV_ENTRIES entries and ENV_BYTES bytes (the rest is cut)."""
    out: Dict[str, str] = {}
    total = 0
    for key, value in env.items():
        total += len(key) + len(value) + 2
        if len(out) >= ENV_ENTRIES or total > ENV_BYTES:
            break
        out[key] = value
    return out


def pane_meta(pane: Pane) -> Dict[str, Any]:
    process = pane.process
    status = process.exit_status
    cmd = process.cmd
    return {"vm": pane.vm.name, "title": process.title, "guest_title": process.guest_title,
            "state": str(process.state), "exit_code": status[0] if status else None,
            "exit_signal": status[1] if status else None, "error": process.error,
            "cwd": process.cwd, "env": bounded_env(process.env),
            "current_command": process.current_command,
            "fg_pid": getattr(process, "fg_pid", None), "running_label": process.running_label,
            "runs": process.runs, "duration": process.duration,
            "ended_at": getattr(cmd, "ended_at", None) if cmd is not None else None}


def layout_message(session: Session, clients: int) -> Dict[str, Any]:
    windows = []
    panes: Dict[str, Any] = {}
    for window in session.windows:
        active = window.panes.get(window.active) if window.active is not None else None
        name = window.name or (active.process.title if active is not None else "")
        windows.append({"index": window.index, "name": name,
                        "active": window.active if active is not None else None,
                        "layout": encode_layout(window.layout)})
        for pane in window.ordered():
            panes[pane.ident] = pane_meta(pane)
    vms = [{"name": vm.name, "image": vm.image, "state": str(vm.state),
            "detail": printable(vm.status_detail),
            "error": str(vm.error) if vm.error is not None else None} for vm in session.vms.values()]
    return {"session": session.name, "current": session.current, "windows": windows,
            "panes": panes, "vms": vms, "clients": clients, "size_rule": SIZE_RULE}


def screen_frames(pane: Pane, sent: Optional[Tuple[int, int]],
                  owed: Iterable[int] = ()) -> Iterator[Tuple[bytes, List[int]]]:
    """SCREEN frames, each with the rows it carries, for what ``pane`` changed since
    ``sent`` (its generation, version) plus the rows ``owed`` from a cut-short round; the
    whole screen when the generation differs. Made one at a time: a sender that stops
    early makes no more (a huge screen is several frames, the first one full)."""
    model = pane.take()
    full = sent is None or sent[0] != pane.generation
    rows, cols = model.rows, model.cols
    if full:
        ys = list(range(rows))
    else:
        since = sent[1] if sent is not None else 0
        wanted = {y for y in owed if y < rows}
        wanted.update(y for y, version in enumerate(pane.row_versions) if version > since)
        ys = sorted(wanted)
    cursor = model.cursor
    base = {
        "rows": rows, "cols": cols,
        "cursor": [cursor.x, cursor.y, cursor.hidden], "title": printable(model.title),
        "modes": {"alternate_screen": model.alternate_screen, "mouse_tracking": model.mouse_tracking,
                  "mouse_sgr": model.mouse_sgr, "mouse_utf8": model.mouse_utf8,
                  "mouse_urxvt": model.mouse_urxvt, "focus_events": model.focus_events,
                  "bracketed_paste": model.bracketed_paste, "app_cursor_keys": model.app_cursor_keys,
                  "app_keypad": model.app_keypad, "reverse_video": model.reverse_video},
        "history": {"len": model.history_len, "pushed": model.history_pushed,
                    "epoch": model.history_epoch},
    }
    head = json.dumps(base, separators=(",", ":"))[:-1]
    ident = pane_number(pane.ident)

    def frame(first: bool, parts: List[str]) -> bytes:
        flag = "true" if full and first else "false"
        payload = f'{head},"full":{flag},"lines":[{",".join(parts)}]}}'.encode()
        return encode(Frame.SCREEN, ident, payload)

    parts: List[str] = []
    carried: List[int] = []
    size = len(head) + 64
    first = True
    cache = pane.row_cache        # every attachment sends the same rows: encode each once
    versions = pane.row_versions
    for y in ys:
        hit = cache.get(y)
        if hit is not None and hit[0] == versions[y]:
            part = hit[1]
        else:
            part = json.dumps([y, encode_row(model.line(y))], separators=(",", ":"))
            cache[y] = (versions[y], part)
        if parts and size + len(part) > SCREEN_FRAME_LIMIT:
            yield frame(first, parts), carried
            first, parts, carried, size = False, [], [], len(head) + 64
        parts.append(part)
        carried.append(y)
        size += len(part) + 1
    yield frame(first, parts), carried


class Attachment:
    """A link attached to a session (see the module docstring)."""

    def __init__(self, link: "ClientLink", domain: Domain, session: Session, rows: int, cols: int,
                 clients: Callable[[Session], int]) -> None:
        self.link = link
        self.domain = domain
        self.session = session
        self.rows, self.cols = rows, cols       # the client's terminal (pane sizes come by pane-size)
        self.sizes: Dict[str, Tuple[int, int]] = {}
        self.active = True
        self._clients = clients
        self._sent: Dict[str, Tuple[int, int]] = {}
        self._owed: Set[str] = set()
        self._rows_owed: Dict[str, Set[int]] = {}   # rows of a round cut short by a full buffer
        self._layout_owed = True
        self._layout_panes: Set[str] = set()       # the panes the last LAYOUT named
        self._last_flush = 0.0
        self._last_layout = 0.0
        self._timer: Optional[asyncio.Handle] = None
        self._layout_timer: Optional[asyncio.Handle] = None
        self._drain: Optional[asyncio.Task] = None
        self.stalls = 0                           # times it stopped for a full buffer

    def start(self) -> None:
        """Watch the session; the first LAYOUT and full SCREENs go after the attach REPLY
        (call_soon: the reply is sent in the same step that ends the handler)."""
        self.domain.observers.add(self)
        self._owed = {pane.ident for pane in self.session.panes()}
        self._timer = asyncio.get_event_loop().call_soon(self._flush)

    # -- Observer ---------------------------------------------------------------------------------
    def screen_changed(self, pane: Pane) -> None:
        if pane.session is self.session and self.active:
            self._owed.add(pane.ident)
            self._schedule()

    def layout_changed(self, session: Session) -> None:
        if session is not self.session or not self.active:
            return
        self._layout_owed = True
        if self._layout_timer is None and self._drain is None:
            delay = max(0.0, self._last_layout + LAYOUT_INTERVAL - time.monotonic())
            self._layout_timer = asyncio.get_event_loop().call_later(delay, self._send_layout_soon)

    def session_ended(self, session: Session) -> None:
        if session is self.session:
            self.end(f"session {session.name} ended")

    # -- sending ----------------------------------------------------------------------------------
    def _buffered(self) -> int:
        return self.link.writer.transport.get_write_buffer_size()

    def _schedule(self) -> None:
        if self._timer is not None or self._drain is not None or not self.active:
            return
        loop = asyncio.get_event_loop()
        delay = self._last_flush + FRAME_INTERVAL - time.monotonic()
        self._timer = loop.call_soon(self._flush) if delay <= 0 else loop.call_later(delay, self._flush)

    def _send_layout_soon(self) -> None:
        self._layout_timer = None
        if self.active and not self.link.closed and self._drain is None:
            if self._buffered() > ATTACH_BUFFER:
                self._stall()
            else:
                self._send_layout()

    def _send_layout(self) -> None:
        self._layout_owed = False
        self._last_layout = time.monotonic()
        if self._layout_timer is not None:
            self._layout_timer.cancel()
            self._layout_timer = None
        message = layout_message(self.session, self._clients(self.session))
        self._layout_panes = set(message["panes"])
        for gone in set(self._sent) - self._layout_panes:      # killed panes: forget them
            self._sent.pop(gone, None)
            self._rows_owed.pop(gone, None)
        self.link.send(encode_json(Frame.LAYOUT, 0, message))

    def _flush(self) -> None:
        self._timer = None
        if not self.active or self.link.closed:
            return
        if self._buffered() > ATTACH_BUFFER:
            self._stall()
            return
        now = self._last_flush = time.monotonic()
        if self._layout_owed and (now - self._last_layout >= LAYOUT_INTERVAL
                                  or not self._owed <= self._layout_panes):
            self._send_layout()         # a new pane is in LAYOUT before its first SCREEN
        panes = {pane.ident: pane for pane in self.session.panes()}
        for ident in sorted(self._owed, key=pane_number):
            self._owed.discard(ident)
            pane = panes.get(ident)
            if pane is None:
                self._sent.pop(ident, None)
                continue
            owed = self._rows_owed.pop(ident, set())
            frames = screen_frames(pane, self._sent.get(ident), owed)
            ys: List[int] = []
            for frame, carried in frames:
                if ys and self._buffered() > ATTACH_BUFFER:     # cut short: the rest later
                    rest = set(range(pane.process.model.rows)) - set(ys)
                    self._rows_owed[ident] = rest
                    self._owed.add(ident)
                    break
                self.link.send(frame)
                ys.extend(carried)
            self._sent[ident] = (pane.generation, pane.version)
            if self.link.closed or not self.active:
                return
            if self._buffered() > ATTACH_BUFFER:
                self._stall()
                return

    def _stall(self) -> None:
        """Send nothing until the client's socket drains; then what changed meanwhile."""
        if self._drain is None:
            self.stalls += 1
            self._drain = asyncio.ensure_future(self._wait_drain())

    async def _wait_drain(self) -> None:
        try:
            while self._buffered() > ATTACH_BUFFER // 2:
                await self.link.drain()     # returns below the transport's low-water mark
                if self._buffered() > ATTACH_BUFFER // 2:
                    await asyncio.sleep(0.01)   # (not paused: never spin)
        except (ConnectionError, OSError):
            return
        finally:
            self._drain = None
        if self.active and not self.link.closed:
            if self._layout_owed:
                self.layout_changed(self.session)
            self._schedule()

    # -- input and sizes ----------------------------------------------------------------------------
    def pane(self, ident: str) -> Optional[Pane]:
        for window in self.session.windows:
            pane = window.panes.get(ident)
            if pane is not None:
                return pane
        return None

    def input(self, number: int, data: bytes) -> None:
        """Keys for pane %N of this session; another session's or a gone pane's are dropped
        (a key racing a kill is normal)."""
        pane = self.pane(f"%{number}")
        if pane is not None:
            pane.process.type(data)

    # -- ending -----------------------------------------------------------------------------------
    def end(self, reason: Optional[str]) -> None:
        """Stop watching; ``reason``: send DETACHED with it (None: the link is gone)."""
        if not self.active:
            return
        self.active = False
        self.domain.observers.discard(self)
        for handle in (self._timer, self._layout_timer):
            if handle is not None:
                handle.cancel()
        self._timer = self._layout_timer = None
        if self._drain is not None:
            self._drain.cancel()
            self._drain = None
        if reason is not None and not self.link.closed:
            self.link.send(encode_json(Frame.DETACHED, 0, {"reason": reason}))


__all__ = ["ATTACH_BUFFER", "Attachment", "layout_message", "screen_frames", "SIZE_RULE"]
