"""One connection to the host: the handshake, frame dispatch and the execs it started.

A session ends on EOF, on a malformed frame (after sending ERROR), on an ERROR
from the host, or on POWEROFF / the init exec's exit. Its execs never outlive it:
the host that started them is gone, so their process groups get SIGKILL.
"""
from __future__ import annotations

import errno
import functools
import os
import selectors
import sys
import time

from . import boot_marks, execs, files, protocol, validate
from .loop import Loop
from .outbound import OutQueue
from .protocol import FrameType, ProtocolError
from .running import RunningExec

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Callable, Dict, Optional

CAPS = ["tty", "pipes", "signal", "resize", "credit", "reports", "files", "init", "poweroff", "window"]
READ_SIZE = 256 * 1024

EOF = "eof"              # the host went away
ERROR = "error"          # the host broke the protocol; we sent ERROR
PEER_ERROR = "peer_error"  # the host sent ERROR
POWEROFF = "poweroff"    # POWEROFF frame, or the init exec exited


class Session:
    def __init__(self, fd: int, loop: Loop) -> None:
        self.fd = fd
        self.loop = loop
        self.out = OutQueue()
        self.outcome: Optional[str] = None
        self._decoder = protocol.FrameDecoder()
        self._execs: Dict[int, RunningExec] = {}
        self._by_pid: Dict[int, RunningExec] = {}
        self._handlers: Dict[int, Callable[[int, bytes], None]] = {
            FrameType.HELLO: self._hello, FrameType.PING: self._ping,
            FrameType.START: self._start, FrameType.STDIN: self._stdin,
            FrameType.STDIN_CLOSE: self._stdin_close, FrameType.RESIZE: self._resize,
            FrameType.SIGNAL: self._signal, FrameType.CREDIT: self._credit,
            FrameType.WINDOW: self._window,
            FrameType.REQUEST: self._request, FrameType.POWEROFF: self._poweroff,
            FrameType.ERROR: self._peer_error,
        }
        hello = {"version": protocol.VERSION, "caps": CAPS, "pid": os.getpid(),
                 "env": dict(os.environ), "uname": os.uname().release,
                 "python": sys.version.split()[0]}
        boot_marks.mark("ready")
        if boot_marks.MARKS:
            hello["boot"] = dict(boot_marks.MARKS)
        try:
            frame = protocol.encode_json(FrameType.HELLO, 0, hello)
        except ProtocolError:                # an environment too big for one frame
            frame = protocol.encode_json(FrameType.HELLO, 0, dict(hello, env=None))
        self.out.push(frame)

    # ---- running ------------------------------------------------------
    def serve(self) -> str:
        """Run the loop until the session ends; returns the outcome."""
        self.loop.on_reaped = self._on_reaped
        while self.outcome is None:
            try:
                self._update_interest()
                self.loop.poll(self._timeout())
                now = time.monotonic()
                for ex in list(self._execs.values()):
                    ex.tick(now)
                    if ex.finished:
                        self._forget(ex)
            except ProtocolError as exc:
                self._fail(str(exc))
            except Exception as exc:     # a bug must end the session, not the agent
                import traceback
                traceback.print_exc(file=sys.stderr)
                self._fail(f"agent internal error: {exc!r}")
        return self.outcome

    def shutdown(self) -> bool:
        """Kill and forget every exec; True if the init exec was among them."""
        self.loop.on_reaped = lambda pid, status: None
        self.loop.watch(self.fd, 0)
        had_init = False
        for ex in list(self._execs.values()):
            had_init = had_init or ex.init
            ex.kill()
            self._forget(ex)
        return had_init

    def _timeout(self) -> Optional[float]:
        if any(ex.busy() for ex in self._execs.values()):
            return 0
        deadlines = [d for d in (ex.deadline() for ex in self._execs.values()) if d is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _update_interest(self) -> None:
        events = 0 if self.out.full else selectors.EVENT_READ
        if not self.out.empty:
            events |= selectors.EVENT_WRITE
        self.loop.watch(self.fd, events, self._on_channel)
        for ex in self._execs.values():
            wanted = ex.interest()
            for fd in ex.watched - wanted.keys():
                self.loop.watch(fd, 0)
            for fd, ev in wanted.items():
                self.loop.watch(fd, ev, functools.partial(ex.on_ready, fd))
            ex.watched = set(wanted)

    def _forget(self, ex: RunningExec) -> None:
        ex.close()
        self._execs.pop(ex.ident, None)
        self._by_pid.pop(ex.pid, None)
        if ex.init and self.outcome is None:
            self.outcome = POWEROFF      # after its EXIT frame is flushed

    def _on_reaped(self, pid: int, status: int) -> None:
        ex = self._by_pid.get(pid)
        if ex is not None:
            ex.on_reaped(status)

    def _fail(self, message: str) -> None:
        print(f"guest_pty_agent: protocol error, closing the session: {message}", file=sys.stderr)
        self.out.push(protocol.encode_json(FrameType.ERROR, 0, {"message": message}))
        self.outcome = ERROR

    def _push(self, frame: bytes) -> None:
        self.out.push(frame)

    # ---- the channel ---------------------------------------------------
    def _on_channel(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            try:
                self.out.write_to(self.fd)
            except OSError:
                self.outcome = EOF
                return
        if mask & selectors.EVENT_READ:
            try:
                data = os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.outcome = EOF
                return
            for ftype, ident, payload in self._decoder.feed(data):
                if self.outcome is not None:
                    return
                handler = self._handlers.get(ftype)
                if handler is None:
                    raise ProtocolError(f"unexpected frame type {FrameType(ftype).name} from the host")
                handler(ident, payload)

    # ---- frame handlers -------------------------------------------------
    def _hello(self, ident: int, payload: bytes) -> None:
        version = validate.hello_version(protocol.decode_json(payload))
        if version != protocol.VERSION:
            raise ProtocolError(f"unsupported protocol version {version} (agent speaks {protocol.VERSION})")

    def _ping(self, ident: int, payload: bytes) -> None:
        self.out.push(protocol.encode(FrameType.PONG, ident, payload), urgent=True)

    def _start(self, ident: int, payload: bytes) -> None:
        spec = validate.start_spec(protocol.decode_json(payload))
        if ident == 0:
            raise ProtocolError("START with exec id 0")
        if ident in self._execs:
            self._start_failed(ident, protocol.OTHER, f"exec id {ident} is already in use")
            return
        try:
            proc = execs.spawn(spec)
        except execs.StartError as exc:
            self._start_failed(ident, exc.kind, exc.message)
            return
        ex = RunningExec(ident, proc, spec, self._push, lambda: self.out.congested, self.loop.close_fd)
        self._execs[ident] = ex
        self._by_pid[proc.pid] = ex
        self.out.push(protocol.encode_json(FrameType.STARTED, ident, {"pid": proc.pid}))
        ex.started()

    def _start_failed(self, ident: int, kind: str, message: str) -> None:
        self.out.push(protocol.encode_json(FrameType.START_FAILED, ident, {"kind": kind, "message": message}))

    def _stdin(self, ident: int, payload: bytes) -> None:
        ex = self._execs.get(ident)
        if ex is not None:
            ex.feed_stdin(payload)

    def _stdin_close(self, ident: int, payload: bytes) -> None:
        ex = self._execs.get(ident)
        if ex is not None:
            ex.close_stdin()

    def _resize(self, ident: int, payload: bytes) -> None:
        rows, cols = validate.resize(protocol.decode_json(payload))
        ex = self._execs.get(ident)
        if ex is not None:
            ex.resize(rows, cols)

    def _signal(self, ident: int, payload: bytes) -> None:
        sig, group = validate.signal_request(protocol.decode_json(payload))
        ex = self._execs.get(ident)
        if ex is not None:
            ex.signal(sig, group)

    def _credit(self, ident: int, payload: bytes) -> None:
        n = protocol.decode_credit(payload)
        ex = self._execs.get(ident)
        if ex is not None:
            ex.add_credit(n)

    def _window(self, ident: int, payload: bytes) -> None:
        n = protocol.decode_window(payload)
        ex = self._execs.get(ident)
        if ex is not None:
            ex.set_window(n)

    def _request(self, ident: int, payload: bytes) -> None:
        header, blob = protocol.unpack_blob(payload)
        reply, data = files.handle(validate.file_request(header), blob)
        try:
            frame = protocol.encode(FrameType.RESPONSE, ident, protocol.pack_blob(reply, data))
        except ProtocolError:
            frame = protocol.encode(FrameType.RESPONSE, ident, protocol.pack_blob(
                {"ok": False, "errno": errno.E2BIG, "error": "reply too large for one frame"}))
        self.out.push(frame)

    def _poweroff(self, ident: int, payload: bytes) -> None:
        self.outcome = POWEROFF

    def _peer_error(self, ident: int, payload: bytes) -> None:
        try:
            message = protocol.decode_json(payload).get("message")
        except ProtocolError:
            message = payload[:200]
        print(f"guest_pty_agent: the host reported an error: {message}", file=sys.stderr)
        self.outcome = PEER_ERROR
