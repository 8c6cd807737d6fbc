"""The server process: a unix socket, one ClientLink per client, requests to the domain.

Every peer's uid is checked (SO_PEERCRED) before a byte of it is read; every
frame is bounded and every request validated (``wire.py``); a client that
breaks the protocol gets an ERROR frame and is disconnected, the others and
the VMs carry on. Sending never blocks the server: streamed output waits for
the client's socket to drain (which pauses the guest command behind it), and a
client that lets more than ``SEND_LIMIT`` bytes of replies pile up unread is
disconnected. The server ends when its last session ends, on kill-server, or
on SIGTERM; QEMU dies with it even on SIGKILL (PR_SET_PDEATHSIG, set when QEMU
is forked from this process's main thread, where the event loop runs).
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import socket
import struct
from collections import deque
from typing import IO, Deque, Dict, List, Optional, Set, Tuple

from guest_pty_agent.protocol import ProtocolError

from ..config import Config, ConfigError, load_config
from ..guest_text import printable
from . import paths
from .attach import Attachment
from .domain import Domain, DomainError, Pane, Session
from .execs import StdinQueue
from .handlers import Handlers
from .spare import SparePool
from .target import TargetError
from .wire import (CLIENT_TYPES, DATA_CHUNK, MAX_CLIENT_PAYLOAD, VERSION, Frame, decode_json, decoder,
                   Request, encode_json, validate_hello, validate_request)

log = logging.getLogger("cctui.server")
SEND_LIMIT = 8 << 20        # unread reply bytes a client may leave in the server
IN_FLIGHT_LIMIT = 16        # requests a client may have running at once; more wait unread
CLOSE_FLUSH_LIMIT = 64 * 1024   # more unsent than this at hang-up is dropped, not flushed
IDLE_EXIT = 30.0            # seconds a server with no session and no client stays up


class ClientLink:
    """One connected client: reads its frames, runs its requests, sends within bounds."""

    def __init__(self, server: "Server", reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader, self.writer = reader, writer
        self.decoder = decoder(MAX_CLIENT_PAYLOAD)
        self.hello = False
        self.closed = False
        self.tasks: Dict[int, asyncio.Task] = {}
        self.stdin: Dict[int, StdinQueue] = {}
        self._room = asyncio.Event()        # set when a request finishes (see IN_FLIGHT_LIMIT)
        self._ended_execs: Deque[int] = deque(maxlen=64)
        self.attachment: Optional[Attachment] = None
        self.was_attached = False

    def peer_uid(self) -> Optional[int]:
        sock = self.writer.get_extra_info("socket")
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        except OSError:
            return None
        return struct.unpack("3i", creds)[1]

    async def serve(self) -> None:
        uid = self.peer_uid()
        if uid != os.getuid():
            log.warning("refused a client of uid %s", uid)
            self.fail(f"refused: this cctui server belongs to uid {os.getuid()}, you are uid {uid}")
            return
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                for ftype, ident, payload in self.decoder.feed(data):
                    await self._frame(ftype, ident, payload)
        except ProtocolError as exc:
            log.warning("client broke the protocol: %s", exc)
            self.fail(f"protocol error: {exc}")
        except (ConnectionError, OSError):
            pass
        finally:
            self.close()

    async def _frame(self, ftype: int, ident: int, payload: bytes) -> None:
        if ftype not in CLIENT_TYPES:
            raise ProtocolError(f"a client may not send frame type {Frame(ftype).name}")
        if not self.hello:
            if ftype != Frame.HELLO:
                raise ProtocolError("the first frame must be HELLO")
            validate_hello(decode_json(payload))
            self.hello = True
            self.send(encode_json(Frame.HELLO, 0, {"version": VERSION, "pid": os.getpid()}))
            return
        if ftype == Frame.HELLO:
            raise ProtocolError("HELLO twice")
        if ftype == Frame.INPUT:
            if len(payload) > DATA_CHUNK:
                raise ProtocolError(f"INPUT of {len(payload)} bytes: at most {DATA_CHUNK}")
            if self.attachment is not None:
                self.server.spare.activity()        # typing: a user at work
                if self.attachment.active:          # (not after its session ended)
                    self.attachment.input(ident, payload)
            elif not self.was_attached:     # keys racing a detach or a session's end: dropped
                raise ProtocolError("INPUT on a link that is not attached")
            return
        if ftype == Frame.REQUEST:
            request = validate_request(decode_json(payload))
            self.server.spare.activity(request.op)      # a user at work: no spare boots now
            if ident in self.tasks:
                raise ProtocolError(f"request id {ident} is already in use")
            while len(self.tasks) >= IN_FLIGHT_LIMIT:      # stop reading this client for now
                self._room.clear()
                await self._room.wait()
            if request.op == "exec":
                self.stdin[ident] = StdinQueue()
            self.tasks[ident] = asyncio.ensure_future(self._run(ident, request))
            return
        self.server.spare.activity()
        queue = self.stdin.get(ident)
        if queue is None:
            if ident in self._ended_execs:  # sent before the client heard of the exit
                return
            raise ProtocolError(f"stdin for request {ident}, which is no running exec")
        await queue.put(payload if ftype == Frame.STDIN else None)

    async def _run(self, ident: int, request: Request) -> None:
        try:
            reply = await self.server.handlers.handle(self, ident, request)
        except (DomainError, TargetError) as exc:
            reply = {"ok": False, "error": str(exc)}
        except asyncio.CancelledError:
            raise
        except Exception as exc:     # a bug: say so to this client, keep serving the others
            log.exception("request %s failed", request.op)
            reply = {"ok": False, "error": f"internal error: {printable(repr(exc))}"}
        finally:
            self.server.spare.activity(request.op)      # idle time counts from a request's end
            self.tasks.pop(ident, None)
            queue = self.stdin.pop(ident, None)
            if queue is not None:
                queue.finish()
                self._ended_execs.append(ident)
            self._room.set()
        if reply:
            self.send(encode_json(Frame.REPLY, ident, reply))

    # -- sending ---------------------------------------------------------------------------------
    def send(self, frame: bytes) -> None:
        if self.closed:
            return
        self.writer.write(frame)
        if self.writer.transport.get_write_buffer_size() > SEND_LIMIT:
            log.warning("a client left over %d bytes of replies unread: disconnected", SEND_LIMIT)
            self.close(abort=True)

    async def drain(self) -> None:
        """Until the client's socket took what was sent (raises once it is gone)."""
        if self.closed:
            raise ConnectionResetError("client gone")
        await self.writer.drain()

    def fail(self, message: str) -> None:
        """Tell the client why, then hang up."""
        self.send(encode_json(Frame.ERROR, 0, {"error": message}))
        self.close()

    def close(self, abort: bool = False) -> None:
        """Hang up; ``abort`` drops what is still unsent (a client that does not read
        would otherwise keep the socket, and that memory, until it reads it all)."""
        if self.closed:
            return
        self.closed = True
        self.server.detach(self, None)
        for task in list(self.tasks.values()):
            task.cancel()
        try:
            if abort or self.writer.transport.get_write_buffer_size() > CLOSE_FLUSH_LIMIT:
                self.writer.transport.abort()
            else:
                self.writer.close()
        except OSError:
            pass
        self.server.client_gone(self)


class Server:
    def __init__(self) -> None:
        self.domain = Domain(on_empty=self.stop)
        try:
            config, problem = load_config(), None
        except ConfigError as exc:         # a bad config.toml must not stop the server
            config, problem = Config(), str(exc)
            log.error("%s (running with the defaults)", exc)
        self.spare = SparePool(config, lambda: self.domain.sessions, problem)
        self.domain.spare = self.spare      # start_vm takes it for a VM of its kind
        self.domain.size_override = self.size_for
        self.handlers = Handlers(self)
        self.clients: Set[ClientLink] = set()
        self.stopped = asyncio.Event()

    # -- attachments ------------------------------------------------------------------------------
    def attachments(self, session: Optional[Session] = None) -> List[Attachment]:
        return [link.attachment for link in self.clients if link.attachment is not None
                and link.attachment.active and (session is None or link.attachment.session is session)]

    def attached_count(self, session: Session) -> int:
        return len(self.attachments(session))

    def attach(self, link: ClientLink, session: Session, rows: int, cols: int) -> Attachment:
        """Attach ``link`` to ``session`` (replacing its earlier attachment)."""
        self.detach(link, "replaced by a new attach")
        attachment = Attachment(link, self.domain, session, rows, cols, self.attached_count)
        link.attachment = attachment
        link.was_attached = True
        attachment.start()
        self.domain.layout_changed(session)         # the others' client count
        return attachment

    def detach(self, link: ClientLink, reason: Optional[str]) -> None:
        attachment = link.attachment
        if attachment is None:
            return
        link.attachment = None
        attachment.end(reason)
        self.resize_panes(attachment.session, set(attachment.sizes))
        self.domain.layout_changed(attachment.session)

    def size_for(self, pane: Pane) -> Optional[Tuple[int, int]]:
        """tmux's "smallest": the least rows and the least cols any attached client
        reported for this pane; None when none did."""
        sizes = [a.sizes[pane.ident] for a in self.attachments(pane.session) if pane.ident in a.sizes]
        if not sizes:
            return None
        return min(r for r, _ in sizes), min(c for _, c in sizes)

    def resize_panes(self, session: Session, idents: Set[str]) -> None:
        """Apply the smallest rule to these panes (none reported: a pane keeps its size)."""
        for pane in session.panes():
            if pane.ident in idents:
                size = self.size_for(pane)
                if size is not None:
                    pane.resize(*size)

    def stop(self) -> None:
        self.stopped.set()

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = ClientLink(self, reader, writer)
        self.clients.add(link)
        try:
            await link.serve()
        except asyncio.CancelledError:      # the server is exiting: the link is closed already
            link.close()

    def client_gone(self, link: ClientLink) -> None:
        self.clients.discard(link)
        if not self.clients and not self.domain.sessions:
            asyncio.get_event_loop().call_later(IDLE_EXIT, self._idle_check)

    def _idle_check(self) -> None:
        if not self.clients and not self.domain.sessions:
            log.info("no session and no client: exiting")
            self.stop()

    async def run(self, ready: Optional[IO[str]]) -> None:
        path = paths.socket_path()
        try:
            path.unlink()           # stale: the lock we hold says no server is behind it
        except FileNotFoundError:
            pass
        listener = await asyncio.start_unix_server(self.accept, path=str(path))
        os.chmod(path, 0o600)
        loop = asyncio.get_event_loop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, self.stop)
        loop.call_later(IDLE_EXIT, self._idle_check)
        log.info("cctui server %d listening on %s", os.getpid(), path)
        if ready is not None:
            ready.write("ok\n")
            ready.close()
        await self.stopped.wait()
        listener.close()
        for link in list(self.clients):
            self.detach(link, "the server is exiting")
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        await self.domain.shutdown()
        await self.spare.close()            # no QEMU outlives the server
        for link in list(self.clients):
            link.fail("the server is exiting")
        log.info("cctui server %d exiting", os.getpid())


def main(ready_fd: Optional[int] = None) -> int:
    """``python -m cctui server``: run the server in this process until it ends."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s: %(message)s")
    ready = os.fdopen(ready_fd, "w") if ready_fd is not None else None
    lock = open(paths.lock_path(), "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if ready is not None:
            ready.write("busy\n")       # another server runs (or is starting): use that one
            ready.close()
        return 0
    os.chdir("/")
    asyncio.run(Server().run(ready))
    return 0
