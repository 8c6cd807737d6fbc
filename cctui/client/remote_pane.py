"""RemotePane: one pane of an attached session, as TerminalView and the panels read a PaneProcess.

The server runs the command and keeps the terminal model; this class holds the
client's copy (:class:`RemoteModel`), the facts LAYOUT carries (META), and sends
what the user does (keys, sizes, kill, rerun) as frames and requests. SCREEN
payloads are queued as they arrive and applied in ``pump``, so the view paces
redraws as it does for a local pane.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Callable, Coroutine, Deque, Dict, List, Optional, Protocol, Set, Tuple

from guest_pty_agent.protocol import ProtocolError

from ..errors import Error
from ..guest_text import LABEL_LIMIT, printable
from ..server.client import ServerGone
from ..terminal.model import Match
from ..server.pane_process import FRAME_BUDGET, PaneState
from .checks import SIZE_LIMIT, PaneMeta, ScreenUpdate, parse_meta, parse_search_reply
from .remote_model import RemoteModel
from .remote_vm import RemoteVm

log = logging.getLogger(__name__)
QUEUE_LIMIT = 64            # SCREEN payloads waiting for pump; beyond, the oldest are applied at once


class Link(Protocol):
    """What a pane needs of its attachment."""

    async def request(self, op: str, **fields: Any) -> Dict[str, Any]: ...

    def start_request(self, op: str, **fields: Any) -> "asyncio.Future[Dict[str, Any]]": ...

    def send_input(self, pane_id: str, data: bytes) -> None: ...

    def broken(self, reason: str) -> None: ...


class RemoteCommand:
    """The facts panels.py reads of a pane's ``cmd``."""

    def __init__(self, ended_at: Optional[float]) -> None:
        self.ended_at = ended_at


def _nothing(*_: Any) -> None:
    return None


class RemotePane:
    def __init__(self, ident: str, link: Link, instance: RemoteVm, rows: int = 24, cols: int = 80) -> None:
        self.ident = ident
        self.link = link
        self.instance = instance
        self.model = RemoteModel(rows, cols)
        self.model.fetch_history = self._fetch_history
        self._queue: Deque[ScreenUpdate] = deque()
        self._on_output: Callable[[], None] = _nothing
        self.on_change: Callable[["RemotePane"], None] = _nothing
        self.yielding = False               # the server paces floods; kept for the view
        self.last_input = 0.0               # monotonic time of the user's last type()
        self.gone = False                   # removed from the session (LAYOUT no longer names it)
        # META facts
        self.title = ""
        self._guest_title = ""
        self.state = PaneState.STARTING
        self.error = ""
        self.exit_status: Optional[Tuple[Optional[int], Optional[int]]] = None
        self.cwd = ""
        self.env: Dict[str, str] = {}
        self.current_command = ""
        self.fg_pid: Optional[int] = None
        self.running_label = ""
        self.runs = 0
        self.cmd: Optional[RemoteCommand] = None
        self._duration: Optional[float] = None
        self._duration_at = 0.0             # monotonic time the server's duration was read
        self._meta: Optional[PaneMeta] = None
        # sizes: only the latest is sent, one request at a time
        self._want_size: Optional[Tuple[int, int]] = None
        self._sent_size: Optional[Tuple[int, int]] = None
        self._sizing = False
        self._tasks: Set["asyncio.Task[Any]"] = set()

    def __repr__(self) -> str:
        return f"RemotePane({self.ident!r}, {self.state})"

    # -- META --------------------------------------------------------------------------
    def apply_meta(self, meta: Any) -> bool:
        """Take a pane's META (a dict is checked first: ProtocolError); calls on_change and
        returns True if anything changed."""
        if not isinstance(meta, PaneMeta):
            meta = parse_meta(meta)
        changed = meta != self._meta
        self._meta = meta
        self.title, self._guest_title = meta.title, meta.guest_title
        self.state, self.error = meta.state, meta.error
        if meta.exit_code is None and meta.exit_signal is None:
            self.exit_status = None
        else:
            self.exit_status = (meta.exit_code, meta.exit_signal)     # as Command.exit_status
        self.cwd, self.env = meta.cwd, meta.env
        self.current_command, self.fg_pid = meta.current_command, meta.fg_pid
        self.running_label, self.runs = meta.running_label, meta.runs
        self._duration, self._duration_at = meta.duration, time.monotonic()
        self.cmd = RemoteCommand(meta.ended_at) if meta.runs or meta.ended_at is not None else None
        if changed:
            self._changed()
        return changed

    @property
    def guest_title(self) -> str:
        """The title the guest set (OSC 0/2): SCREEN's when one came, else META's."""
        return printable(self.model.title, LABEL_LIMIT) if self.model.title else self._guest_title

    @property
    def duration(self) -> Optional[float]:
        """Seconds the command ran; while it runs, the server's figure plus the time since."""
        if self._duration is None:
            return None
        if self.state is PaneState.RUNNING and (self.cmd is None or self.cmd.ended_at is None):
            return self._duration + (time.monotonic() - self._duration_at)
        return self._duration

    def _changed(self) -> None:
        try:
            self.on_change(self)
        except Exception:
            log.exception("pane %s: change listener raised", self.ident)

    # -- SCREEN --------------------------------------------------------------------------
    @property
    def on_output(self) -> Callable[[], None]:
        """Called when a SCREEN payload was queued (the view schedules a pump)."""
        return self._on_output

    @on_output.setter
    def on_output(self, callback: Callable[[], None]) -> None:
        """Set by the app once it made the pane's view; screens that came before (the full
        ones after attach) are announced to it at once."""
        self._on_output = callback
        if self._queue:
            self._told()

    def _told(self) -> None:
        try:
            self._on_output()
        except Exception:
            log.exception("pane %s: output listener raised", self.ident)

    def queue_screen(self, update: ScreenUpdate) -> None:
        """A checked SCREEN payload arrived: queued for pump; the view is told."""
        if self.gone:
            return
        if update.full:
            self._queue.clear()             # a full screen replaces whatever waited before it
        self._queue.append(update)
        while len(self._queue) > QUEUE_LIMIT:
            self.model.apply_update(self._queue.popleft())
        self._told()

    @property
    def has_pending(self) -> bool:
        return bool(self._queue)

    def pump(self, budget: float = FRAME_BUDGET) -> bool:
        """Apply queued SCREEN payloads for about ``budget`` seconds; True if some are left."""
        deadline = time.monotonic() + budget
        while self._queue:
            self.model.apply_update(self._queue.popleft())
            if time.monotonic() >= deadline:
                break
        return bool(self._queue)

    @property
    def rows(self) -> int:
        return self.model.rows

    @property
    def cols(self) -> int:
        return self.model.cols

    # -- input and control ---------------------------------------------------------------
    def type(self, data: bytes) -> None:
        """Keys, pastes, mouse reports from the user."""
        self.last_input = time.monotonic()
        self.write(data)

    def write(self, data: bytes) -> None:
        """Bytes to the command's terminal (as INPUT frames, chunked by the link)."""
        if data and not self.gone:
            self.link.send_input(self.ident, data)

    def set_yielding(self, flag: bool) -> None:
        """Typing priority is the server's business for a remote pane."""

    def resize(self, rows: int, cols: int) -> None:
        """The size this client shows the pane at; the latest is sent, one request at a time."""
        want = (min(SIZE_LIMIT, max(1, rows)), min(SIZE_LIMIT, max(1, cols)))
        self._want_size = want
        if want != self._sent_size and not self._sizing and not self.gone:
            self._sizing = True
            self._spawn(self._send_sizes())

    async def _send_sizes(self) -> None:
        try:
            while self._want_size is not None and self._want_size != self._sent_size and not self.gone:
                rows, cols = want = self._want_size
                self._sent_size = want          # not retried on failure: no request loop
                await self.link.request("pane-size", pane=self.ident, rows=rows, cols=cols)
        except Error as exc:
            log.info("pane %s: size not sent: %s", self.ident, exc)
        finally:
            self._sizing = False

    def kill(self) -> None:
        """Sent at once (a rerun asked for next goes after it); a refusal is logged."""
        self.link.start_request("kill-pane", target=self.ident).add_done_callback(self._logged)

    def _logged(self, future: "asyncio.Future[Dict[str, Any]]") -> None:
        if not future.cancelled() and future.exception() is not None:
            log.info("pane %s: request failed: %s", self.ident, future.exception())

    async def rerun(self) -> None:
        """Run the pane's command again (the server's respawn-pane); a refusal is logged."""
        await self._quiet("respawn-pane", target=self.ident)

    async def _quiet(self, op: str, **fields: Any) -> None:
        try:
            await self.link.request(op, **fields)
        except Error as exc:
            log.info("pane %s: %s failed: %s", self.ident, op, exc)

    async def search_remote(self, text: str, case_sensitive: bool = False) -> List[Match]:
        """Every hit in the server's whole scrollback and screen (rows as TerminalModel.search).

        Raises RequestFailed (the server refused) or ServerGone (connection lost)."""
        if not text:
            return []
        reply = await self.link.request("search", pane=self.ident, text=text[:256], case=case_sensitive)
        try:
            return parse_search_reply(reply)
        except ProtocolError as exc:
            return self._broke(f"search reply: {exc}")

    # -- history --------------------------------------------------------------------------
    def _fetch_history(self, start: int, count: int) -> None:
        self._spawn(self._history(start, count))

    async def _history(self, start: int, count: int) -> None:
        epoch = self.model.epoch
        try:
            reply = await self.link.request("history", pane=self.ident, start=start, count=count)
        except Error as exc:
            log.info("pane %s: history %d+%d not fetched: %s", self.ident, start, count, exc)
            self.model.history_failed(start, epoch)
            return
        try:
            self.model.take_history(start, count, reply, epoch)
        except ProtocolError as exc:
            self.model.history_failed(start, epoch)
            self.link.broken(f"history reply: {exc}")

    def _broke(self, reason: str) -> Any:
        self.link.broken(reason)
        raise ServerGone(f"the cctui server broke the protocol: {reason}")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:            # no loop (a unit test's synchronous use): nothing to send
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """The pane left the session: no more input, sizes or screens."""
        self.gone = True
        self._queue.clear()
