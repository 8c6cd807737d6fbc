"""One agent session: the framed stream to a guest, multiplexing every exec.

Everything the guest sends is untrusted: each frame's fields are type-checked,
each exec's output is held to the credit the host granted, and any violation
ends the session with a ProtocolError (never an exception in the caller's UI).
"""
from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from guest_pty_agent import protocol as P

from .errors import (DirectoryNotFound, Error, ExecutableNotFound, NotRunning,
                     ProtocolError, StartFailed, Timeout)

OutputCallback = Callable[[bytes], None]
ReportCallback = Callable[[Dict[str, Any]], None]


def _want(obj: Dict[str, Any], key: str, kinds: tuple, optional: bool = False) -> Any:
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise ProtocolError(f"agent sent {key}={value!r}, expected {kinds}")
    return value


def _grant_threshold(window: int) -> int:
    """Credit is returned in batches of this much: few CREDIT frames, yet well
    inside the window so the guest never waits on a batch."""
    return max(1, min(16 * 1024, window // 4))


class ExecChannel:
    """The host end of one guest process: output in, stdin/resize/signals out."""

    def __init__(self, session: "AgentSession", ident: int, window: int) -> None:
        self.session = session
        self.id = ident
        loop = asyncio.get_event_loop()
        self.started: asyncio.Future = loop.create_future()
        self.exited: asyncio.Future = loop.create_future()
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
            self.session.send(P.encode_credit(self.id, grant))

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
            self.session.send(P.encode(P.FrameType.STDIN, self.id, bytes(view[:n])))
            view = view[n:]
            await self.session.drain()

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
                 lost_reason: Optional[Callable[[], Awaitable[Error]]] = None) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = P.FrameDecoder()
        self._ids = itertools.count(1)
        self._execs: Dict[int, ExecChannel] = {}
        self._requests: Dict[int, asyncio.Future] = {}
        self.hello: Dict[str, Any] = {}
        self.failed: Optional[Error] = None
        self.closed: asyncio.Future = asyncio.get_event_loop().create_future()
        self._heartbeat = heartbeat
        self._dead_after = dead_after
        self._last_rx = time.monotonic()
        self._lost_reason = lost_reason
        self._hello_seen: asyncio.Future = asyncio.get_event_loop().create_future()
        self._tasks: list = []
        self.frames_received = 0

    # -- lifecycle -------------------------------------------------------
    async def handshake(self, timeout: float, abort: Optional[asyncio.Future] = None) -> Dict[str, Any]:
        """Wait for the agent's HELLO (it speaks first), answer it, start the heartbeat."""
        self._tasks.append(asyncio.ensure_future(self._read_loop()))
        waiters = [self._hello_seen, self.closed] + ([abort] if abort is not None else [])
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

    def send(self, frame: bytes) -> None:
        if self.failed is not None:
            raise self.failed
        self._writer.write(frame)

    async def drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            self.fail(NotRunning(f"connection to the guest agent lost: {exc}"))
            raise self.failed  # type: ignore[misc]

    async def wait_or_fail(self, awaitable: Awaitable, *also: asyncio.Future) -> None:
        """Await something, but return early when the session dies or ``also`` completes."""
        task = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait([task, self.closed, *also], return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if self.failed is not None:
            raise self.failed

    def fail(self, error: Error) -> None:
        """End the session: every pending start, wait and request gets ``error``."""
        if self.failed is not None:
            return
        self.failed = error
        for channel in self._execs.values():
            for fut in (channel.started, channel.exited):
                if not fut.done():
                    fut.set_exception(error)
                    fut.exception()  # mark retrieved; callers that care re-raise
            channel._stdin_event.set()
        for fut in self._requests.values():
            if not fut.done():
                fut.set_exception(error)
                fut.exception()
        self._execs.clear()
        self._requests.clear()
        if not self.closed.done():
            self.closed.set_result(error)
        try:
            self._writer.close()
        except Exception:
            pass
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
        self.send(P.encode_json(P.FrameType.START, ident, spec))
        await self.drain()
        await channel.started
        return channel

    async def request(self, header: Dict[str, Any], blob: bytes = b"") -> Tuple[Dict[str, Any], bytes]:
        if self.failed is not None:
            raise self.failed
        ident = next(self._ids)
        fut = asyncio.get_event_loop().create_future()
        self._requests[ident] = fut
        self.send(P.encode(P.FrameType.REQUEST, ident, P.pack_blob(header, blob)))
        await self.drain()
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
                    self.frames_received += 1
                    self._dispatch(ftype, ident, payload)
        except P.ProtocolError as exc:
            self._protocol_error(str(exc))
            return
        except ProtocolError as exc:
            self._protocol_error(str(exc))
            return
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            return
        reason = NotRunning("the connection to the guest agent closed")
        if self._lost_reason is not None:
            try:
                reason = await self._lost_reason()
            except Exception:
                pass
        self.fail(reason)

    def _protocol_error(self, message: str) -> None:
        try:
            self._writer.write(P.encode_json(P.FrameType.ERROR, 0, {"message": message[:500]}))
        except Exception:
            pass
        self.fail(ProtocolError(f"guest agent broke the protocol: {message}"))

    def _channel(self, ident: int) -> ExecChannel:
        channel = self._execs.get(ident)
        if channel is None:
            raise ProtocolError(f"frame for unknown exec id {ident}")
        return channel

    def _dispatch(self, ftype: int, ident: int, payload: bytes) -> None:
        T = P.FrameType
        if ftype in (T.STDOUT, T.STDERR):
            self._channel(ident)._output(ftype, payload)
        elif ftype == T.CREDIT:
            self._channel(ident)._stdin_credited(P.decode_credit(payload))
        elif ftype == T.PONG:
            pass
        elif ftype == T.REPORT:
            channel = self._channel(ident)
            report = P.decode_json(payload)
            cwd = _want(report, "cwd", (str,), optional=True)
            env = _want(report, "env", (dict,), optional=True)
            if env is not None and not all(isinstance(k, str) and isinstance(v, str)
                                           for k, v in env.items()):
                raise ProtocolError("REPORT env must map strings to strings")
            channel.report = {"cwd": cwd, "env": env,
                              "pid": _want(report, "pid", (int,), optional=True)}
            if channel.on_report is not None:
                channel.on_report(channel.report)
        elif ftype == T.STARTED:
            channel = self._channel(ident)
            channel.pid = _want(P.decode_json(payload), "pid", (int,))
            if not channel.started.done():
                channel.started.set_result(channel.pid)
        elif ftype == T.START_FAILED:
            channel = self._channel(ident)
            info = P.decode_json(payload)
            kind = _want(info, "kind", (str,))
            message = str(_want(info, "message", (str,)))[:1000]
            del self._execs[ident]
            error: Error
            if kind == P.NOT_FOUND:
                error = ExecutableNotFound(str(info.get("name") or ""), message)
            elif kind == P.BAD_DIR:
                error = DirectoryNotFound(message)
            else:
                error = StartFailed(message)
            if not channel.started.done():
                channel.started.set_exception(error)
        elif ftype == T.EXIT:
            channel = self._channel(ident)
            info = P.decode_json(payload)
            code = _want(info, "code", (int,), optional=True)
            sig = _want(info, "signal", (int,), optional=True)
            if code is None and sig is None:
                raise ProtocolError("EXIT carries neither code nor signal")
            del self._execs[ident]
            if not channel.started.done():
                channel.started.set_result(channel.pid)
            channel.exited.set_result((code, sig))
            channel._stdin_event.set()
        elif ftype == T.RESPONSE:
            fut = self._requests.get(ident)
            if fut is None:
                raise ProtocolError(f"RESPONSE for unknown request id {ident}")
            header, blob = P.unpack_blob(payload)
            _want(header, "ok", (bool,))
            del self._requests[ident]
            fut.set_result((header, blob))
        elif ftype == T.HELLO:
            hello = P.decode_json(payload)
            version = _want(hello, "version", (int,))
            if version != P.VERSION:
                raise ProtocolError(f"agent speaks protocol version {version}, host {P.VERSION}")
            env = hello.get("env") or {}
            if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in env.items()):
                raise ProtocolError("HELLO env must map strings to strings")
            self.hello = hello
            self._writer.write(P.encode_json(T.HELLO, 0, {"version": P.VERSION}))
            if not self._hello_seen.done():
                self._hello_seen.set_result(hello)
        elif ftype == T.ERROR:
            info = P.decode_json(payload)
            raise ProtocolError(f"agent reported: {info.get('message')!r}")
        else:
            raise ProtocolError(f"agent sent a host-only frame type {T(ftype).name}")

    async def _heartbeat_loop(self) -> None:
        nonce = itertools.count()
        while self.failed is None:
            await asyncio.sleep(self._heartbeat)
            if time.monotonic() - self._last_rx > self._dead_after:
                self.fail(Timeout(f"the guest agent sent nothing for {self._dead_after:.0f} s "
                                  "(hung guest?)"))
                return
            try:
                self.send(P.encode(P.FrameType.PING, 0, str(next(nonce)).encode()))
            except Error:
                return
