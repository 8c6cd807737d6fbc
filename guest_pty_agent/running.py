"""One started exec: its fds, output credit, stdin buffer, drain and exit.

Output is read only while the exec has credit and the channel is not congested;
otherwise its fds are left unread so the command blocks on a full pty or pipe
instead of growing memory. At most one chunk is read per fd per loop turn, so a
flooding command cannot starve the others. EXIT is sent only after the output
still buffered in the kernel has been forwarded.
"""
from __future__ import annotations

import fcntl
import os
import selectors
import signal
import struct
import termios
import time

from . import protocol, reports
from .execs import Spawned
from .protocol import DEFAULT_WINDOW, MAX_DATA_CHUNK, FrameType, ProtocolError
from .validate import StartSpec

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Callable, Dict, Optional, Set
    Push = Callable[[bytes], None]

PIPE_LINGER = 1.0      # a pipe left open by a daemon after exit is given up after this
DRAIN_LIMIT = 2.0      # output still flowing this long after exit comes from a background job
REPORT_EVERY = 0.5
MAX_CREDIT = 2**32 - 1


PTY_GATHER_READS = 32       # extra non-blocking reads per readiness event


class RunningExec:
    """State of one exec between STARTED and EXIT; the session drives it."""

    def __init__(self, ident: int, proc: Spawned, spec: StartSpec, push: Push,
                 congested: Callable[[], bool], close_fd: Callable[[int], None]) -> None:
        self.ident = ident
        self.proc = proc
        self.pid = proc.pid
        self.tty = proc.master is not None
        self.init = spec.init
        self.root = spec.root
        self.reports = spec.reports and self.tty
        self._push = push
        self._congested = congested
        self._close_fd = close_fd
        self.window = spec.window
        self.credit = spec.window                # may go below zero when the window shrinks
        self.status: Optional[int] = None        # wait status once reaped
        self.finished = False
        self.watched: Set[int] = set()           # fds the session registered for us
        # fds we still read output from -> frame type
        self.readers: Dict[int, FrameType] = {}
        if proc.master is not None:              # self.tty
            self.readers[proc.master] = FrameType.STDOUT
        else:
            assert proc.stdout is not None and proc.stderr is not None  # a pipe exec has all three
            self.readers[proc.stdout] = FrameType.STDOUT
            self.readers[proc.stderr] = FrameType.STDERR
        self.stdin_fd: Optional[int] = proc.master if self.tty else proc.stdin
        self._stdin = bytearray()
        self._stdin_close = False
        self._last_stdin = b"\n"
        self._idle_since = 0.0
        self._drain_spent = 0.0
        self._last_tick = 0.0
        self._last_report: Optional[Dict[str, object]] = None
        self._next_report = 0.0

    # ---- host -> exec -------------------------------------------------
    def feed_stdin(self, data: bytes) -> None:
        if self.stdin_fd is None or self._stdin_close or self.status is not None:
            self._credit_stdin(len(data))     # nobody will read it: hand the window back
            return
        if len(self._stdin) + len(data) > DEFAULT_WINDOW:
            raise ProtocolError(f"exec {self.ident}: stdin exceeds the {DEFAULT_WINDOW}-byte window")
        self._stdin += data

    def close_stdin(self) -> None:
        self._stdin_close = True

    def add_credit(self, n: int) -> None:
        self.credit = min(MAX_CREDIT, self.credit + n)

    def set_window(self, n: int) -> None:
        """The host changed how much it lets ahead: a shrink stops reading until
        enough credit comes back (the TUI quiets a background flood this way)."""
        self.credit = min(MAX_CREDIT, self.credit + n - self.window)
        self.window = n

    def resize(self, rows: int, cols: int) -> None:
        if self.tty and self.proc.master is not None:
            try:
                fcntl.ioctl(self.proc.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            except OSError:
                pass

    def signal(self, sig: int, group: bool) -> None:
        try:
            if group:
                os.killpg(self.pid, sig)    # the group outlives its reaped leader
            elif self.status is None:
                os.kill(self.pid, sig)
        except OSError:
            pass

    def kill(self) -> None:
        self.signal(signal.SIGKILL, True)
        self.signal(signal.SIGKILL, False)

    # ---- loop interface -----------------------------------------------
    def interest(self) -> Dict[int, int]:
        """The events each of our fds should be watched for right now."""
        events: Dict[int, int] = {}
        if self._can_read() and not (self.tty and self.status is not None):
            for fd in self.readers:
                events[fd] = selectors.EVENT_READ
        if self.stdin_fd is not None and (self._stdin or self._stdin_close):
            events[self.stdin_fd] = events.get(self.stdin_fd, 0) | selectors.EVENT_WRITE
        return events

    def on_ready(self, fd: int, mask: int) -> None:
        if mask & selectors.EVENT_WRITE and fd == self.stdin_fd:
            self._write_stdin()
        if mask & selectors.EVENT_READ and fd in self.readers and self._can_read():
            self._read(fd)

    def busy(self) -> bool:
        """True when tick() has work that must not wait for an fd event."""
        return self.tty and self.status is not None and bool(self.readers) and self._can_read()

    def deadline(self) -> Optional[float]:
        deadlines = []
        if self.reports and self.status is None:
            deadlines.append(self._next_report)
        if not self.tty and self.status is not None and self.readers:
            deadlines.append(self._idle_since + PIPE_LINGER)
        return min(deadlines) if deadlines else None

    def tick(self, now: float) -> None:
        if self.reports and self.status is None and now >= self._next_report:
            self._next_report = now + REPORT_EVERY
            self._report()
        if self.status is not None and self.readers:
            if not self._can_read():
                self._idle_since = now           # waiting for credit is not idleness
            else:
                self._drain_spent += now - self._last_tick
                if self._drain_spent >= DRAIN_LIMIT:
                    self.readers.clear()         # a background job keeps writing
                elif self.tty:
                    assert self.proc.master is not None  # close() clears the readers with it
                    self._read(self.proc.master, drain=True)
                elif now - self._idle_since >= PIPE_LINGER:
                    self.readers.clear()         # a daemon holds the pipe open
        self._last_tick = now
        self._maybe_finish()

    def on_reaped(self, status: int) -> None:
        self.status = status
        self._idle_since = self._last_tick = time.monotonic()
        self._credit_stdin(len(self._stdin))
        self._stdin.clear()
        self._drop_stdin()
        self._maybe_finish()

    def close(self) -> None:
        """Release every fd; the exec is forgotten after this."""
        proc = self.proc
        for fd in (proc.stdin, proc.stdout, proc.stderr):
            if fd is not None:
                self._close(fd)
        proc.stdin = proc.stdout = proc.stderr = None
        if proc.master is not None:
            self._close(proc.master)
            proc.master = None
        self.readers.clear()
        self.stdin_fd = None

    def started(self) -> None:
        """Right after STARTED: the first REPORT goes out at once."""
        if self.reports:
            self._next_report = time.monotonic() + REPORT_EVERY
            self._report()

    # ---- internals ----------------------------------------------------
    def _can_read(self) -> bool:
        return self.credit > 0 and not self._congested()

    def _read(self, fd: int, drain: bool = False) -> None:
        try:
            data = os.read(fd, min(MAX_DATA_CHUNK, self.credit))
        except BlockingIOError:
            if drain:                 # exited and nothing left: background jobs may hold the slave
                self.readers.clear()
            return
        except OSError:               # EIO: the pty's slave side is closed
            data = b""
        if not data:
            self.readers.pop(fd, None)
            return
        if self.tty:
            data = self._read_more(fd, data)
        self.credit -= len(data)
        self._idle_since = time.monotonic()
        self._push(protocol.encode(self.readers[fd], self.ident, data))

    def _read_more(self, fd: int, data: bytes) -> bytes:
        """A pty hands out at most a few KiB a read: gather what is already there
        into one frame (a flood then costs one frame per 64 KiB, not per 4 KiB)."""
        parts = [data]
        size = len(data)
        limit = min(MAX_DATA_CHUNK, self.credit)
        for _ in range(PTY_GATHER_READS):
            if size >= limit:
                break
            try:
                more = os.read(fd, limit - size)
            except OSError:           # EAGAIN (nothing more now) or EIO (slave closed)
                break
            if not more:
                break
            parts.append(more)
            size += len(more)
        return b"".join(parts) if len(parts) > 1 else data

    def _write_stdin(self) -> None:
        fd = self.stdin_fd
        assert fd is not None
        try:
            if self._stdin:
                n = os.write(fd, self._stdin[:MAX_DATA_CHUNK])
                self._last_stdin = bytes(self._stdin[n - 1:n]) or self._last_stdin
                del self._stdin[:n]
                self._credit_stdin(n)
            elif self._stdin_close:
                self._send_eof(fd)
        except BlockingIOError:
            pass
        except OSError:               # EPIPE/EIO: the reader is gone
            self._credit_stdin(len(self._stdin))
            self._stdin.clear()
            self._stdin_close = True
            self._drop_stdin()

    def _send_eof(self, fd: int) -> None:
        if self.tty:
            try:
                veof = termios.tcgetattr(fd)[6][termios.VEOF]
            except (termios.error, IndexError):
                veof = b"\x04"
            # VEOF only ends input at the start of a line; after a partial line it
            # just pushes the line out, so a second one is needed
            os.write(fd, veof if self._last_stdin == b"\n" else veof * 2)
        self._drop_stdin()

    def _drop_stdin(self) -> None:
        """Stop writing stdin; a pipe is closed, a pty master stays for output."""
        if not self.tty and self.proc.stdin is not None:
            self._close(self.proc.stdin)
            self.proc.stdin = None
        self.stdin_fd = None

    def _close(self, fd: int) -> None:
        self.watched.discard(fd)     # the number may be reused by another exec at once
        self._close_fd(fd)

    def _credit_stdin(self, n: int) -> None:
        if n:
            self._push(protocol.encode_credit(self.ident, n))

    def _report(self) -> None:
        master = self.proc.master
        assert master is not None
        snap = reports.snapshot(reports.foreground_pid(master, self.pid))
        if snap is not None and self.root and isinstance(snap.get("cwd"), str):
            snap["cwd"] = reports.inside_root(snap["cwd"], self.root)
        if snap is not None and snap != self._last_report:
            self._last_report = snap
            try:
                frame = protocol.encode_json(FrameType.REPORT, self.ident, snap)
            except ProtocolError:            # escaped JSON outgrew a frame
                frame = protocol.encode_json(FrameType.REPORT, self.ident, dict(snap, env=None))
            self._push(frame)

    def _maybe_finish(self) -> None:
        if self.finished or self.status is None or self.readers:
            return
        self.finished = True
        status = self.status
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        self._push(protocol.encode_json(FrameType.EXIT, self.ident, {"code": code, "signal": sig}))
