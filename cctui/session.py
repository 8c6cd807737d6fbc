"""One agent session: the framed stream to a guest, multiplexing every exec.

Everything the guest sends is untrusted: each frame's fields are type-checked
and bounded (see agent_frames), each frame must fit its exec's state, each
exec's output is held to the credit the host granted, and what the host writes
back is bounded too (a guest that stops reading cannot grow our buffers). Any
violation, and any exception while handling a guest frame, ends the session
with a ProtocolError that every pending call receives at once (never an
exception in the caller's UI, never a hang).
"""
from __future__ import annotations

import asyncio
import enum
import itertools
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from guest_pty_agent import protocol as P

from . import agent_frames as frames
from .errors import Error, NotRunning, ProtocolError, Timeout

OutputCallback = Callable[[bytes], None]
ReportCallback = Callable[[Dict[str, Any]], None]
T = P.FrameType

# What the host may have queued for a guest that does not read: one bulk frame
# (a file chunk, a START) plus ample room for small control frames. Bulk
# frames wait for the buffer to drain first, so only a stalled guest gets here.
WRITE_BUFFER_CAP = P.MAX_PAYLOAD + 1024 * 1024


class ExecState(enum.Enum):
    """Where an exec is in its life, as the host sees it; each state admits
    only some frames from the guest (any other is a protocol error)."""
    STARTING = "starting"     # START sent: STARTED or START_FAILED comes next
    RUNNING = "running"       # output, stdin credit, reports, then EXIT
    # after EXIT or START_FAILED the exec is forgotten: its id is unknown


ACCEPTS = {
    ExecState.STARTING: frozenset({T.STARTED, T.START_FAILED}),
    ExecState.RUNNING: frozenset({T.STDOUT, T.STDERR, T.CREDIT, T.REPORT, T.EXIT}),
}


def _grant_threshold(window: int) -> int:
    """Credit is returned in batches of this much: few CREDIT frames, yet well
    inside the window so the guest never waits on a batch."""
    return max(1, min(16 * 1024, window // 4))


def _settle(fut: "asyncio.Future[Any]", result: Any = None, error: Optional[BaseException] = None) -> None:
    """Resolve a waiter unless its awaiting caller was cancelled (which cancels it)."""
    if fut.done():
        return
    if error is None:
        fut.set_result(result)
    else:
        fut.set_exception(error)
        fut.exception()  # mark retrieved: callers that care re-raise it


class ExecChannel:
    """The host end of one guest process: output in, stdin/resize/signals out."""

    def __init__(self, session: "AgentSession", ident: int, window: int) -> None:
        self.session = session
        self.id = ident
        loop = asyncio.get_event_loop()
        self.started: "asyncio.Future[int]" = loop.create_future()
        self.exited: "asyncio.Future[Any]" = loop.create_future()
        self.pid: Optional[int] = None
        self.on_stdout: OutputCallback = lambda data: self.consumed(len(data))
        self.on_stderr: OutputCallback = lambda data: self.consumed(len(data))
        self.on_report: Optional[ReportCallback] = None
        self.report: Dict[str, Any] = {}
        self._window = window
        self._out_available = window       # bytes the agent may still send us
        # A shrink is not trusted to have reached the agent: the check keeps the
        # old bound, and a later growth first uses up this slack.
        self._shrink_slack = 0
        self._ungranted = 0
        self._grant_threshold = _grant_threshold(window)
        self.state = ExecState.STARTING
        self._stdin_credit = P.DEFAULT_WINDOW
        self._stdin_event = asyncio.Event()
        self._stdin_closed = False

    # -- agent -> host ---------------------------------------------------
    def _output(self, ftype: int, data: bytes) -> None:
        self._out_available -= len(data)
        if self._out_available < 0:
            raise ProtocolError(f"agent overran the flow-control window of exec {self.id}")
        (self.on_stdout if ftype == P.FrameType.STDOUT else self.on_stderr)(data)

    def consumed(self, nbytes: int) -> None:
        """The consumer has taken ``nbytes`` of output: let the guest send more."""
        self._ungranted += nbytes
        if self._ungranted >= self._grant_threshold and not self.exited.done():
            grant, self._ungranted = self._ungranted, 0
            self._out_available += grant
            try:
                self.session.send(P.encode_credit(self.id, grant))
            except Error:
                pass       # the session just ended (a guest that stopped reading):
                           # its waiters were told; a consumer is not the place

    def set_window(self, nbytes: int) -> None:
        """Change how much output the agent may send ahead of acknowledgement.

        Data the agent sent under the old window may still be on its way, so a
        shrink never tightens the overrun check (the host's memory bound stays
        the largest window set); growth counts at once.
        """
        nbytes = max(1, min(int(nbytes), 2**32 - 1))
        if nbytes == self._window or self.exited.done() or self.session.failed:
            return
        caps = self.session.hello.get("caps")
        if not isinstance(caps, list) or "window" not in caps:
            return          # an agent without WINDOW keeps its start window
        delta = nbytes - self._window
        if delta < 0:
            self._shrink_slack -= delta
        else:
            used = min(delta, self._shrink_slack)
            self._shrink_slack -= used
            self._out_available += delta - used
        self._window = nbytes
        self._grant_threshold = _grant_threshold(nbytes)
        self.session.send(P.encode_window(self.id, nbytes))

    @property
    def window(self) -> int:
        return self._window

    def _stdin_credited(self, nbytes: int) -> None:
        """The agent consumed stdin: it can never hand back more than was sent."""
        if self._stdin_credit + nbytes > P.DEFAULT_WINDOW:
            raise ProtocolError(f"agent returned more stdin credit than exec {self.id} "
                                "had in flight")
        self._stdin_credit += nbytes
        self._stdin_event.set()

    # -- host -> agent ---------------------------------------------------
    async def write_stdin(self, data: bytes) -> None:
        """Send stdin, waiting for credit so a slow guest reader pushes back."""
        view = memoryview(data)
        while view:
            if self.exited.done():
                raise NotRunning("the command has exited")
            if self._stdin_closed:
                raise ValueError("stdin already closed")
            while self._stdin_credit <= 0:
                self._stdin_event.clear()
                await self.session.wait_or_fail(self._stdin_event.wait(), self.exited)
                if self.exited.done():
                    raise NotRunning("the command has exited")
            n = min(len(view), self._stdin_credit, P.MAX_DATA_CHUNK)
            self._stdin_credit -= n
            await self.session.send_bulk(P.encode(P.FrameType.STDIN, self.id, bytes(view[:n])))
            view = view[n:]

    def close_stdin(self) -> None:
        if not self._stdin_closed and not self.exited.done():
            self._stdin_closed = True
            self.session.send(P.encode(P.FrameType.STDIN_CLOSE, self.id))

    def resize(self, rows: int, cols: int) -> None:
        if not self.exited.done():
            self.session.send(P.encode_json(P.FrameType.RESIZE, self.id,
                                            {"rows": rows, "cols": cols}))

    def signal(self, signum: int, group: bool = True) -> None:
        if not self.exited.done() and not self.session.failed:
            self.session.send(P.encode_json(P.FrameType.SIGNAL, self.id,
                                            {"signal": int(signum), "group": group}))


class AgentSession:
    """Reads frames, dispatches them to exec channels, keeps the agent alive-checked."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 *, heartbeat: float = 2.0, dead_after: float = 30.0,
                 lost_reason: Optional[Callable[[], Awaitable[Error]]] = None,
                 write_buffer_cap: int = WRITE_BUFFER_CAP) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = P.FrameDecoder()
        self._ids = itertools.count(1)
        self._execs: Dict[int, ExecChannel] = {}
        self._requests: "Dict[int, asyncio.Future[Tuple[Dict[str, Any], bytes]]]" = {}
        self.hello: Dict[str, Any] = {}
        self.failed: Optional[Error] = None
        self.closed: "asyncio.Future[Error]" = asyncio.get_event_loop().create_future()
        self._heartbeat = heartbeat
        self._dead_after = dead_after
        self._last_rx = time.monotonic()
        self._lost_reason = lost_reason
        self._hello_seen: "asyncio.Future[Dict[str, Any]]" = asyncio.get_event_loop().create_future()
        self._tasks: "List[asyncio.Future[None]]" = []
        self._write_cap = write_buffer_cap
        self._bulk_lock = asyncio.Lock()
        # The heartbeat's view of unsent bytes: when they last shrank, and to what.
        self._unsent = 0
        self._unsent_since = time.monotonic()

    # -- lifecycle -------------------------------------------------------
    async def handshake(self, timeout: float, abort: "Optional[asyncio.Future[Any]]" = None) -> Dict[str, Any]:
        """Wait for the agent's HELLO (it speaks first), answer it, start the heartbeat."""
        self._tasks.append(asyncio.ensure_future(self._read_loop()))
        waiters: "List[asyncio.Future[Any]]" = [self._hello_seen, self.closed]
        if abort is not None:
            waiters.append(abort)
        done, _ = await asyncio.wait(waiters, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if self._hello_seen not in done:
            if self.failed is not None:
                raise self.failed
            if abort is not None and abort in done:
                raise NotRunning("the VM stopped before its agent answered")
            err = Timeout(f"the guest agent did not answer within {timeout:.0f} s")
            self.fail(err)
            raise err
        self._tasks.append(asyncio.ensure_future(self._heartbeat_loop()))
        return self.hello

    def unsent(self) -> int:
        """Bytes written to the guest that it has not read yet."""
        transport = self._writer.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def send(self, frame: bytes) -> None:
        """Queue a small frame; a guest that lets them pile up past the cap is cut off."""
        if self.failed is not None:
            raise self.failed
        self._writer.write(frame)
        if self.unsent() > self._write_cap:
            self.fail(ProtocolError(f"the guest agent stopped reading: {self.unsent()} bytes "
                                    f"wait to be sent (limit {self._write_cap})"))
            raise self.failed  # type: ignore[misc]

    async def send_bulk(self, frame: bytes) -> None:
        """Queue a large frame once earlier ones have left (backpressure): the
        buffer then holds at most one of them, however many callers there are."""
        async with self._bulk_lock:
            await self.drain()
            self.send(frame)

    async def drain(self) -> None:
        """Wait until the guest has taken what was written (or the session ends)."""
        if self.failed is not None:
            raise self.failed
        if self.unsent() == 0:
            return                 # the common case: no task, no wait
        try:
            await self.wait_or_fail(self._writer.drain())
        except (ConnectionError, OSError) as exc:
            self.fail(NotRunning(f"connection to the guest agent lost: {exc}"))
            raise self.failed  # type: ignore[misc]

    async def wait_or_fail(self, awaitable: "Awaitable[Any]", *also: "asyncio.Future[Any]") -> None:
        """Await something, but return early when the session dies or ``also`` completes."""
        task = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait([task, self.closed, *also], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if self.failed is not None:
            raise self.failed
        if task.done() and not task.cancelled():
            task.result()          # its own exception, e.g. a lost connection

    def fail(self, error: Error) -> None:
        """End the session: every pending start, wait and request gets ``error``."""
        if self.failed is not None:
            return
        self.failed = error
        for channel in self._execs.values():
            _settle(channel.started, error=error)
            _settle(channel.exited, error=error)
            channel._stdin_event.set()
        for fut in self._requests.values():
            _settle(fut, error=error)
        self._execs.clear()
        self._requests.clear()
        if not self.closed.done():
            self.closed.set_result(error)
        transport = self._writer.transport
        try:
            self._writer.close()
        except Exception:
            pass
        if transport is not None and self.unsent():
            # close() waits for the buffer to flush: a guest that does not read
            # would keep it (and the socket) forever. Give the ERROR a moment.
            asyncio.get_event_loop().call_later(1.0, transport.abort)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()

    # -- operations ------------------------------------------------------
    async def start_exec(self, spec: Dict[str, Any], setup: Optional[Callable[[ExecChannel], None]] = None) -> ExecChannel:
        if self.failed is not None:
            raise self.failed
        ident = next(self._ids)
        window = int(spec.setdefault("window", P.DEFAULT_WINDOW))
        channel = ExecChannel(self, ident, window)
        if setup is not None:
            setup(channel)
        self._execs[ident] = channel
        await self.send_bulk(P.encode_json(P.FrameType.START, ident, spec))
        await channel.started
        return channel

    async def request(self, header: Dict[str, Any], blob: bytes = b"") -> Tuple[Dict[str, Any], bytes]:
        if self.failed is not None:
            raise self.failed
        ident = next(self._ids)
        fut: "asyncio.Future[Tuple[Dict[str, Any], bytes]]" = asyncio.get_event_loop().create_future()
        self._requests[ident] = fut
        await self.send_bulk(P.encode(P.FrameType.REQUEST, ident, P.pack_blob(header, blob)))
        return await fut

    def poweroff(self) -> None:
        if self.failed is None:
            self.send(P.encode(P.FrameType.POWEROFF, 0))

    # -- reading ---------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(256 * 1024)
                if not data:
                    break
                self._last_rx = time.monotonic()
                for ftype, ident, payload in self._decoder.feed(data):
                    self._dispatch(ftype, ident, payload)
                    if self.failed is not None:
                        return
        except (P.ProtocolError, ProtocolError) as exc:
            self._protocol_error(str(exc))
            return
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            return
        except Exception as exc:   # noqa: BLE001 - a guest frame must never kill this loop silently
            self._protocol_error(f"handling its frame raised {type(exc).__name__}: "
                                 f"{frames.shown(str(exc), 200)}")
            return
        if self.failed is not None:
            return
        reason: Error = NotRunning("the connection to the guest agent closed")
        if self._lost_reason is not None:
            try:
                reason = await self._lost_reason()
            except Exception:
                pass
        self.fail(reason)

    def reject(self, message: str) -> Error:
        """A caller found a guest reply that breaks the protocol (say, more data
        than it asked for): end the session as the reader would; returns the error."""
        self._protocol_error(message)
        assert self.failed is not None
        return self.failed

    def _protocol_error(self, message: str) -> None:
        if self.failed is not None:
            return
        try:
            self._writer.write(P.encode_json(P.FrameType.ERROR, 0, {"message": message[:500]}))
        except Exception:
            pass
        self.fail(ProtocolError(f"guest agent broke the protocol: {message}"))

    def _channel(self, ident: int, ftype: int) -> ExecChannel:
        """The exec a frame is for, if the frame fits where that exec is."""
        channel = self._execs.get(ident)
        if channel is None:
            raise ProtocolError(f"{T(ftype).name} for unknown exec id {ident}")
        if ftype not in ACCEPTS[channel.state]:
            raise ProtocolError(f"{T(ftype).name} for exec {ident} while it is "
                                f"{channel.state.value}")
        return channel

    def _dispatch(self, ftype: int, ident: int, payload: bytes) -> None:
        if ftype == T.HELLO:
            self._hello(payload)
        elif not self._hello_seen.done() and ftype != T.ERROR:
            raise ProtocolError(f"agent sent {T(ftype).name} before its HELLO")
        elif ftype in (T.STDOUT, T.STDERR):
            self._channel(ident, ftype)._output(ftype, payload)
        elif ftype == T.CREDIT:
            self._channel(ident, ftype)._stdin_credited(P.decode_credit(payload))
        elif ftype == T.PONG:
            pass
        elif ftype == T.REPORT:
            channel = self._channel(ident, ftype)
            channel.report = frames.report(payload)
            if channel.on_report is not None:
                channel.on_report(channel.report)
        elif ftype == T.STARTED:
            channel = self._channel(ident, ftype)
            channel.pid = frames.started(payload)
            channel.state = ExecState.RUNNING
            _settle(channel.started, channel.pid)
        elif ftype == T.START_FAILED:
            channel = self._channel(ident, ftype)
            error = frames.start_failed(payload)
            del self._execs[ident]
            _settle(channel.started, error=error)
            _settle(channel.exited, error=error)
        elif ftype == T.EXIT:
            channel = self._channel(ident, ftype)
            status = frames.exit_status(payload)
            del self._execs[ident]
            _settle(channel.exited, status)
            channel._stdin_event.set()
        elif ftype == T.RESPONSE:
            fut = self._requests.get(ident)
            if fut is None:
                raise ProtocolError(f"RESPONSE for unknown request id {ident}")
            reply = frames.response(payload)
            del self._requests[ident]
            _settle(fut, reply)
        elif ftype == T.ERROR:
            raise ProtocolError(f"agent reported: {frames.peer_error(payload)}")
        else:
            raise ProtocolError(f"agent sent a host-only frame type {T(ftype).name}")

    def _hello(self, payload: bytes) -> None:
        """The agent's HELLO, once: answered once, so a flood of them earns no replies."""
        if self._hello_seen.done():
            raise ProtocolError("agent sent a second HELLO")
        self.hello = frames.hello(payload)
        self.send(P.encode_json(T.HELLO, 0, {"version": P.VERSION}))
        self._hello_seen.set_result(self.hello)

    async def _heartbeat_loop(self) -> None:
        nonce = itertools.count()
        self._unsent_since = time.monotonic()   # a long boot is no stall
        while self.failed is None:
            await asyncio.sleep(self._heartbeat)
            now = time.monotonic()
            if now - self._last_rx > self._dead_after:
                self.fail(Timeout(f"the guest agent sent nothing for {self._dead_after:.0f} s "
                                  "(hung guest?)"))
                return
            unsent = self.unsent()
            if unsent == 0 or unsent < self._unsent:
                self._unsent_since = now       # it is reading
            self._unsent = unsent
            if now - self._unsent_since > self._dead_after:
                self.fail(Timeout(f"the guest agent read nothing for {self._dead_after:.0f} s "
                                  f"({unsent} bytes wait to be sent)"))
                return
            try:
                self.send(P.encode(P.FrameType.PING, 0, str(next(nonce)).encode()))
            except Error:
                return
