"""Attachment: one client's attachment to a server session, over a local socket or any stream.

Opens with HELLO, sends op ``attach``, then a reader task takes the server's
frames: REPLYs resolve requests, LAYOUT creates, updates and removes the
RemotePanes and RemoteVms, SCREEN is queued on its pane, DETACHED ends the
attachment (the link still takes requests). Every frame is bounded and every
field checked; a server that breaks the protocol, or a connection that closes,
ends the attachment with a clear reason through ``on_lost`` (never an
exception into the app).
"""
from __future__ import annotations

import asyncio
import logging
import socket
from itertools import count
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from guest_pty_agent.protocol import ProtocolError

from ..api.instance import InstanceState
from ..guest_text import LABEL_LIMIT, printable
from ..server import client as server_client
from ..server.client import RequestFailed, ServerGone
from . import frames
from .checks import (LayoutFrame, LayoutState, ScreenUpdate, parse_detached, parse_layout, parse_screen,
                     text)
from .remote_pane import RemotePane
from .remote_vm import RemoteVm

log = logging.getLogger(__name__)
HELLO_TIMEOUT = 30.0        # seconds for a server (or an SSH relay) to answer HELLO
READ_CHUNK = 1 << 16
SEND_BUFFER_LIMIT = 16 << 20    # unsent bytes before the server counts as gone (it stopped reading)
Frame = Tuple[int, int, bytes]


def _nothing(*_: Any) -> None:
    return None


def _error_text(payload: bytes) -> str:
    try:
        return printable(frames.decode_json(payload).get("error", "error"), LABEL_LIMIT)
    except ProtocolError:
        return "error"


class Attachment:
    """The app's view of an attached session: panes, VMs, layout, and requests to the server."""

    def __init__(self, session: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 rows: int = 24, cols: int = 80) -> None:
        self.session = session
        self.panes: Dict[str, RemotePane] = {}
        self.vms: Dict[str, RemoteVm] = {}
        self.layout: Optional[LayoutState] = None
        self.on_layout: Callable[[LayoutState], None] = _nothing
        self.on_detached: Callable[[str], None] = _nothing
        self.on_lost: Callable[[str], None] = _nothing
        self.lost: Optional[str] = None         # why the connection ended, once it did
        self.detached: Optional[str] = None     # why the attachment ended, once it did
        self.server_pid: Optional[int] = None
        self._reader, self._writer = reader, writer
        self._decoder = frames.decoder()
        self._early: List[Frame] = []           # frames that came with the server's HELLO
        self._ids = count(1)
        self._replies: Dict[int, "asyncio.Future[Dict[str, Any]]"] = {}
        self._task: Optional["asyncio.Task[None]"] = None
        self._closed = False
        self._size = (rows, cols)
        self._orphans: Dict[str, RemoteVm] = {}    # VMs a pane names that LAYOUT's vms lacks
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._layout_seen = asyncio.Event()     # set by each LAYOUT and when the connection ends

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    async def open(cls, session: str, rows: int, cols: int, sock: Optional[socket.socket] = None,
                   on_layout: Optional[Callable[[LayoutState], None]] = None,
                   on_detached: Optional[Callable[[str], None]] = None,
                   on_lost: Optional[Callable[[str], None]] = None) -> "Attachment":
        """Attach to ``session`` at ``rows`` x ``cols``: over ``sock`` (connected, e.g. an SSH
        relay), else to this user's local server, started on demand. The callbacks given
        here are set before the first LAYOUT is read; it has been when this returns, so
        ``layout``, ``panes`` and ``vms`` are filled (full SCREENs may still be on their way).

        Raises ServerGone (no handshake, connection lost), RequestFailed (the server refused
        the attach: no such session) or cctui Error (the server would not start)."""
        handshake = sock is not None
        pid: Optional[int] = None
        if sock is None:
            conn = await asyncio.to_thread(server_client.connect, True)
            sock, pid = conn.sock, conn.server_pid
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock, limit=frames.MAX_SERVER_PAYLOAD)
        return await cls.open_streams(session, rows, cols, reader, writer, handshake=handshake,
                                      server_pid=pid, on_layout=on_layout, on_detached=on_detached,
                                      on_lost=on_lost)

    @classmethod
    async def open_streams(cls, session: str, rows: int, cols: int, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter, handshake: bool = True,
                           server_pid: Optional[int] = None,
                           on_layout: Optional[Callable[[LayoutState], None]] = None,
                           on_detached: Optional[Callable[[str], None]] = None,
                           on_lost: Optional[Callable[[str], None]] = None) -> "Attachment":
        """As :meth:`open`, over streams (a pipe to ``ssh`` works too)."""
        self = cls(session, reader, writer, rows, cols)
        self.server_pid = server_pid
        self.on_layout = on_layout or _nothing
        self.on_detached = on_detached or _nothing
        self.on_lost = on_lost or _nothing
        try:
            if handshake:
                await asyncio.wait_for(self._handshake(), HELLO_TIMEOUT)
            self._task = asyncio.get_running_loop().create_task(self._read_loop())
            reply = await self.request("attach", target=session, rows=max(2, rows), cols=max(2, cols))
            name = reply.get("session", session)
            self.session = printable(name, 256) if isinstance(name, str) else session
            await asyncio.wait_for(self._first_layout(), HELLO_TIMEOUT)
        except BaseException:
            await self.close()
            raise
        return self

    async def _first_layout(self) -> None:
        """The LAYOUT that follows the attach REPLY: panes and VMs exist once open returns."""
        while self.layout is None:
            if self.lost is not None or self._closed or self._task is None or self._task.done():
                raise ServerGone(self.lost or "the cctui server sent no LAYOUT after attach")
            self._layout_seen.clear()
            await self._layout_seen.wait()

    async def _handshake(self) -> None:
        self._writer.write(frames.encode_json(frames.HELLO, 0, {"version": frames.VERSION}))
        got: List[Frame] = []
        while not got:
            data = await self._reader.read(READ_CHUNK)
            if not data:
                raise ServerGone("the cctui server closed the connection before its HELLO")
            try:
                got = self._decoder.feed(data)
            except ProtocolError as exc:
                raise ServerGone(f"the cctui server sent a malformed frame: {exc}") from None
        ftype, _, payload = got[0]
        if ftype == frames.ERROR:
            raise ServerGone(f"the cctui server: {_error_text(payload)}")
        try:
            hello = frames.decode_json(payload) if ftype == frames.HELLO else {}
        except ProtocolError as exc:
            raise ServerGone(f"the cctui server sent a malformed HELLO: {exc}") from None
        version = hello.get("version")
        if version != frames.VERSION or isinstance(version, bool):
            raise ServerGone(f"the cctui server speaks protocol {str(version)[:20]}, this client "
                             f"{frames.VERSION}: run `cctui kill-server` and retry with one cctui version")
        pid = hello.get("pid")
        self.server_pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else None
        self._early = got[1:]

    # -- requests and input ----------------------------------------------------------------
    async def request(self, op: str, **fields: Any) -> Dict[str, Any]:
        """One request; its ok REPLY. RequestFailed with the server's text on ok=false,
        ServerGone if the connection is gone or goes before the reply."""
        return await self.start_request(op, **fields)

    def start_request(self, op: str, **fields: Any) -> "asyncio.Future[Dict[str, Any]]":
        """Send a request now (so requests go out in the order they were made); the future
        gets its ok REPLY or the exception :meth:`request` raises."""
        future: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        if self.lost is not None or self._closed:
            future.set_exception(ServerGone(self.lost or "the attachment was closed"))
            return future
        ident = next(self._ids)
        if ident > 0xFFFFFFFF:          # a u32 on the wire; ids in flight are few and young
            self._ids = count(2)
            ident = 1
        self._replies[ident] = future
        self._send(frames.encode_json(frames.REQUEST, ident, {"op": op, **fields}))
        return future

    def send_input(self, pane_id: str, data: bytes) -> None:
        """Typed bytes to pane ``%N`` (INPUT frames of at most DATA_CHUNK); dropped once the
        connection is gone (on_lost has told the app)."""
        if self.lost is not None or self._closed or not pane_id.startswith("%"):
            return
        try:
            number = int(pane_id[1:])
        except ValueError:
            return
        for i in range(0, len(data), frames.DATA_CHUNK):
            self._send(frames.encode(frames.INPUT, number, data[i:i + frames.DATA_CHUNK]))

    def _send(self, frame: bytes) -> None:
        try:
            self._writer.write(frame)
        except (OSError, RuntimeError) as exc:
            self._lose(f"the connection to the cctui server failed: {exc}")
            return
        transport = self._writer.transport
        if transport.get_write_buffer_size() > SEND_BUFFER_LIMIT:
            self._lose(f"the cctui server stopped reading ({SEND_BUFFER_LIMIT >> 20} MiB unsent)")

    async def detach(self) -> None:
        """Ask the server to end this attachment (DETACHED follows; the link stays open)."""
        await self.request("detach")

    async def close(self) -> None:
        """Hang up (no on_lost: the app asked). Requests waiting get ServerGone."""
        if self._closed:
            return
        self._closed = True
        self._layout_seen.set()
        self._fail_replies("the attachment was closed")
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except BaseException:
                pass
        for pending in list(self._tasks):
            pending.cancel()
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 5)
        except (OSError, asyncio.TimeoutError, RuntimeError):
            pass

    def broken(self, reason: str) -> None:
        """A reply to a pane's request broke the protocol: the attachment ends."""
        self._lose(f"the cctui server broke the protocol: {reason}")

    # -- reading -----------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            for frame in self._early:
                self._dispatch(*frame)
            self._early = []
            while self.lost is None:
                data = await self._reader.read(READ_CHUNK)
                if not data:
                    who = f" (pid {self.server_pid})" if self.server_pid else ""
                    self._lose(f"the cctui server{who} closed the connection")
                    return
                for frame in self._decoder.feed(data):
                    self._dispatch(*frame)
                    if self.lost is not None:
                        return
        except ProtocolError as exc:
            self._lose(f"the cctui server broke the protocol: {exc}")
        except (OSError, EOFError) as exc:
            self._lose(f"the connection to the cctui server failed: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:        # a bug here: the app stays up and says so
            log.exception("attachment reader")
            self._lose(f"the client failed reading the server: {exc!r}")

    def _dispatch(self, ftype: int, ident: int, payload: bytes) -> None:
        if ftype == frames.SCREEN:
            pane = self.panes.get(f"%{ident}")
            if pane is None:
                raise ProtocolError(f"SCREEN for pane %{ident}, which the layout does not name")
            pane.queue_screen(_screen(payload, ident))
        elif ftype == frames.REPLY:
            self._reply(ident, frames.decode_json(payload))
        elif ftype == frames.LAYOUT:
            self._layout(parse_layout(frames.decode_json(payload)))
        elif ftype == frames.DETACHED:
            reason = parse_detached(frames.decode_json(payload))
            self.detached = reason
            self._call(self.on_detached, reason)
        elif ftype == frames.ERROR:
            self._lose(f"the cctui server ended the connection: {_error_text(payload)}")
        else:
            raise ProtocolError(f"unexpected frame type {ftype} from the server")

    def _reply(self, ident: int, reply: Dict[str, Any]) -> None:
        future = self._replies.pop(ident, None)
        if future is None:
            raise ProtocolError(f"REPLY {ident} answers no request of this client")
        ok = reply.get("ok")
        if not isinstance(ok, bool):
            raise ProtocolError("a REPLY's 'ok' must be true or false")
        if not ok:
            reply["error"] = text(reply.get("error", "the request failed"), "a REPLY's error")
        if future.done():
            return
        if ok:
            future.set_result(reply)
        else:
            future.set_exception(RequestFailed(printable(reply["error"], LABEL_LIMIT)))

    def _layout(self, frame: LayoutFrame) -> None:
        named = {info.name for info in frame.vms}
        for info in frame.vms:
            vm = self.vms.get(info.name)
            if vm is None:
                vm = self.vms[info.name] = self._orphans.get(info.name) or RemoteVm(info.name)
                self._orphans.pop(info.name, None)
            vm.update(info)
        for name in [n for n in self.vms if n not in named]:
            del self.vms[name]
        rows, cols = self._size
        for ident, meta in frame.panes.items():
            vm = self.vms.get(meta.vm) or self._orphan(meta.vm)
            pane = self.panes.get(ident)
            if pane is None:
                pane = self.panes[ident] = RemotePane(ident, self, vm, rows, cols)
            pane.instance = vm
            pane.apply_meta(meta)
        for ident in [i for i in self.panes if i not in frame.panes]:
            self.panes.pop(ident).close()
        self._orphans = {n: v for n, v in self._orphans.items()
                         if any(p.instance is v for p in self.panes.values())}
        self.layout = frame.layout
        self.session = frame.layout.session
        self._layout_seen.set()
        self._call(self.on_layout, frame.layout)

    def _orphan(self, name: str) -> RemoteVm:
        """A pane names a VM the server no longer lists (it went): shown as stopped."""
        vm = self._orphans.get(name)
        if vm is None:
            vm = self._orphans[name] = RemoteVm(name, state=InstanceState.STOPPED)
        return vm

    # -- ending --------------------------------------------------------------------------------
    def _lose(self, reason: str) -> None:
        if self.lost is not None or self._closed:
            return
        self.lost = reason
        self._layout_seen.set()
        self._fail_replies(reason)
        task = self._task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
        try:
            self._writer.close()
        except RuntimeError:
            pass
        self._call(self.on_lost, reason)

    def _fail_replies(self, reason: str) -> None:
        replies, self._replies = self._replies, {}
        for future in replies.values():
            if not future.done():
                future.set_exception(ServerGone(reason))

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("attachment listener %r raised", callback)


def _screen(payload: bytes, ident: int) -> ScreenUpdate:
    try:
        return parse_screen(frames.decode_json(payload))
    except ProtocolError as exc:
        raise ProtocolError(f"SCREEN for pane %{ident}: {exc}") from None
