"""AsyncCmd: one guest command, the asyncio core of cc's Cmd.

The blocking ``Cmd`` in ``blocking.py`` drives exactly this object from a
background event loop, so scripts and the TUI share one implementation.
"""
from __future__ import annotations

import asyncio
import signal as signal_module
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

from ..context import Context
from ..errors import Canceled, Error, ExitError
from ..session import ExecChannel
from .sinks import BufferSink, CallbackSink, PipeReader, PipeWriter, WriterSink

if TYPE_CHECKING:
    from .instance import AsyncInstance

StdinSource = Union[None, bytes, str, Any]
# Keystrokes and terminal answers waiting for a guest that does not read them.
TYPED_AHEAD_LIMIT = 4 << 20


class AsyncCmd:
    """A command in a guest: configure with setters (they chain), then start/wait."""

    def __init__(self, instance: "AsyncInstance", argv: List[str],
                 ctx: Optional[Context] = None) -> None:
        if not argv or not all(isinstance(a, str) for a in argv):
            raise TypeError("a command needs a name and string arguments")
        self.instance = instance
        self.argv = list(argv)
        self.ctx = ctx
        self.env: Dict[str, str] = dict(instance.base_env())
        self.dir: Optional[str] = instance.default_dir()
        self.user: Optional[Union[str, int]] = instance.default_user()
        self.tty: Optional[Tuple[int, int]] = None           # (rows, cols) for a pty
        self.reports = False
        self.init = False
        self.window: Optional[int] = None          # output credit; None: the protocol default
        self._stdin: StdinSource = None
        self._stdin_pipe: Optional[PipeWriter] = None
        self._stdout: Any = None
        self._stderr: Any = None
        self._sinks: List[Any] = []
        self.channel: Optional[ExecChannel] = None
        self._feeder: "Optional[asyncio.Future[None]]" = None
        self._exit: Optional[Tuple[int, Optional[int]]] = None
        self._ctx_fired: Optional[Error] = None
        self._started = False
        self._waited: "Optional[asyncio.Future[Optional[Error]]]" = None
        self.on_report = None
        self.started_at: Optional[float] = None   # time.time() of start and exit
        self.ended_at: Optional[float] = None
        self._output_sink: Optional[CallbackSink] = None
        self._typed = bytearray()                   # write()'s buffer, see there
        self._typist: "Optional[asyncio.Future[None]]" = None

    def __repr__(self) -> str:
        return f"<Cmd {' '.join(self.argv)!r} exit={self.exit_code()}>"

    # -- setters (chain) ---------------------------------------------------
    def set_stdin(self, source: StdinSource) -> "AsyncCmd":
        self._stdin = source
        return self

    def set_stdout(self, writer: Any) -> "AsyncCmd":
        self._stdout = writer
        return self

    def set_stderr(self, writer: Any) -> "AsyncCmd":
        self._stderr = writer
        return self

    def set_env(self, key: str, value: str) -> "AsyncCmd":
        if "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"invalid environment variable {key!r}")
        self.env[key] = value
        return self

    def get_env(self, key: str) -> str:
        return self.env.get(key, "")

    def environ(self) -> List[str]:
        return [f"{k}={v}" for k, v in self.env.items()]

    def set_dir(self, path: str) -> "AsyncCmd":
        self.dir = path
        return self

    def set_user(self, user: Union[str, int]) -> "AsyncCmd":
        self.user = user
        return self

    def set_tty(self, rows: int, cols: int, reports: bool = True) -> "AsyncCmd":
        """Run on a pty of this size (the TUI's panes); reports = live cwd/env."""
        self.tty = (rows, cols)
        self.reports = reports
        return self

    def set_window(self, nbytes: int) -> "AsyncCmd":
        """Output bytes the guest may send ahead of acknowledgement.

        The host buffers at most this much for the command; a pane whose
        emulator swallows floods in large gulps wants more than the default.
        On a running command the change reaches the guest at once: a shrink
        pauses a flood within the new window (the TUI's background panes).
        """
        self.window = max(4096, min(int(nbytes), 64 << 20))
        if self.channel is not None:
            self.channel.set_window(self.window)
        return self

    def set_output_handler(self, handler: Callable[[bytes], None]) -> "AsyncCmd":
        """Deliver stdout and stderr to ``handler`` (called on the event loop).

        The caller must return flow-control credit with ``ack(n)`` once it has
        processed ``n`` bytes; until then the guest command is paused.
        """
        self._output_sink = CallbackSink(handler)
        self._stdout = self._stderr = self._output_sink
        return self

    def ack(self, nbytes: int) -> None:
        """Return credit for output delivered to the output handler."""
        if self._output_sink is not None:
            self._output_sink.ack(nbytes)

    # -- pipes -------------------------------------------------------------
    def stdin_pipe(self) -> PipeWriter:
        self._check_not_started("StdinPipe")
        self._stdin_pipe = PipeWriter()
        self._stdin = self._stdin_pipe
        return self._stdin_pipe

    def stdout_pipe(self) -> PipeReader:
        self._check_not_started("StdoutPipe")
        reader = self._stdout = PipeReader()
        return reader

    def stderr_pipe(self) -> PipeReader:
        self._check_not_started("StderrPipe")
        reader = self._stderr = PipeReader()
        return reader

    def _check_not_started(self, what: str) -> None:
        if self._started:
            raise Error(f"{what} after the command started")

    # -- running -----------------------------------------------------------
    def _sink(self, target: Any) -> Any:
        if target is None:
            return None
        if isinstance(target, (BufferSink, PipeReader, CallbackSink, WriterSink)):
            return target
        return WriterSink(target)

    async def start(self) -> None:
        """Start the command; ExecutableNotFound/DirectoryNotFound are raised here."""
        if self._started:
            raise Error("command already started")
        self._started = True
        if self.ctx is not None and self.ctx.done():
            raise self.ctx.err()  # type: ignore[misc]
        session = self.instance.require_session()
        stdout = self._sink(self._stdout)
        stderr = self._sink(self._stderr) if self._stderr is not self._stdout else None
        self._sinks = [s for s in (stdout, stderr) if s is not None]
        spec: Dict[str, Any] = {
            "argv": self.argv, "env": self.env, "dir": self.dir, "user": self.user,
            "tty": self.tty is not None, "rows": (self.tty or (24, 80))[0],
            "cols": (self.tty or (24, 80))[1], "reports": self.reports, "init": self.init,
        }
        if self.instance.guest_root:
            spec["root"] = self.instance.guest_root
        if self.window is not None:
            spec["window"] = self.window

        def setup(channel: ExecChannel) -> None:
            if stdout is not None:
                channel.on_stdout = stdout.attach(channel.consumed)
            if self._stderr is self._stdout and stdout is not None:
                channel.on_stderr = channel.on_stdout
            elif stderr is not None:
                channel.on_stderr = stderr.attach(channel.consumed)
            if self.on_report is not None:
                channel.on_report = self.on_report

        try:
            self.channel = await session.start_exec(spec, setup)
        except Error as exc:
            for sink in self._sinks:
                if isinstance(sink, PipeReader):
                    sink.set_eof(exc)
            raise
        self.started_at = time.time()
        self._waited = asyncio.ensure_future(self._collect())
        self._start_stdin()
        if self.ctx is not None:
            loop = asyncio.get_event_loop()
            self.ctx.add_done_callback(lambda: loop.call_soon_threadsafe(self._on_ctx_done))

    def _on_ctx_done(self) -> None:
        if self._exit is None and self.channel is not None and not self.channel.exited.done():
            self._ctx_fired = self.ctx.err() if self.ctx else Canceled("canceled")
            self.channel.signal(signal_module.SIGKILL, group=True)

    def _start_stdin(self) -> None:
        channel = self.channel
        assert channel is not None
        source = self._stdin
        if self.tty is not None and source is None:
            return  # interactive pane: stdin stays open for keystrokes
        if source is None:
            channel.close_stdin()
            return
        loop = asyncio.get_event_loop()
        if isinstance(source, PipeWriter):
            def submit(data: bytes) -> None:
                if threading.get_ident() == getattr(loop, "_thread_id", None):
                    raise Error("StdinPipe writes block: call them from another thread")
                asyncio.run_coroutine_threadsafe(channel.write_stdin(data), loop).result()

            source.bind(submit, lambda: loop.call_soon_threadsafe(channel.close_stdin))
            return
        self._feeder = asyncio.ensure_future(self._feed(source))

    async def _feed(self, source: StdinSource) -> None:
        channel = self.channel
        assert channel is not None
        try:
            if isinstance(source, str):
                source = source.encode()
            if isinstance(source, (bytes, bytearray, memoryview)):
                await channel.write_stdin(bytes(source))
            elif source is not None and hasattr(source, "__aiter__"):      # an async source (the server's exec clients)
                async for data in source:
                    await channel.write_stdin(bytes(data))
            else:
                assert source is not None  # _start_stdin closes stdin for None
                loop = asyncio.get_event_loop()
                read = source.read
                while True:
                    data = await loop.run_in_executor(None, read, 64 * 1024)
                    if not data:
                        break
                    if isinstance(data, str):
                        data = data.encode()
                    await channel.write_stdin(data)
            channel.close_stdin()
        except (Error, ValueError):
            pass  # the command exited before reading all its input, as in Go

    async def _collect(self) -> Optional[Error]:
        """Wait for the exit and finish the sinks; the failure (a dead VM) is returned,
        not raised, so a command nobody waits for never logs an unretrieved error."""
        assert self.channel is not None
        failure: Optional[Error] = None
        try:
            self._exit = await self.channel.exited
        except Error as exc:
            failure = exc
        finally:
            self.ended_at = time.time()
            for sink in self._sinks:
                await sink.finish()
            if self._feeder is not None and not self._feeder.done():
                self._feeder.cancel()
        return failure

    async def wait(self) -> None:
        """Wait for exit; raise ExitError on non-zero, Timeout/Canceled from the context."""
        if self._waited is None:
            raise Error("wait called before start")
        failure = await asyncio.shield(self._waited)
        if failure is not None:
            raise failure
        code, sig = self._exit  # type: ignore[misc]
        if self._ctx_fired is not None:
            raise self._ctx_fired
        if sig is not None or code != 0:
            raise ExitError(self.exit_code(), sig)

    async def run(self) -> None:
        await self.start()
        await self.wait()

    async def output(self) -> bytes:
        if self._stdout is not None:
            raise Error("Stdout already set")
        buf = BufferSink()
        self._stdout = buf
        errbuf = None
        if self._stderr is None:
            errbuf = BufferSink()
            self._stderr = errbuf
        try:
            await self.run()
        except ExitError as exc:
            exc.output = bytes(buf.buffer)
            exc.stderr = bytes(errbuf.buffer) if errbuf else b""
            raise
        return bytes(buf.buffer)

    async def combined_output(self) -> bytes:
        if self._stdout is not None or self._stderr is not None:
            raise Error("Stdout or Stderr already set")
        buf = BufferSink()
        self._stdout = self._stderr = buf
        try:
            await self.run()
        except Error as exc:
            exc.output = bytes(buf.buffer)  # type: ignore[attr-defined]  # ExitError declares it
            raise
        return bytes(buf.buffer)

    # -- state -------------------------------------------------------------
    def exit_code(self) -> int:
        """The exit code, 128+N for a signal, -1 while running or never started."""
        if self._exit is None:
            return -1
        code, sig = self._exit
        return 128 + sig if sig is not None else int(code)

    @property
    def exit_status(self) -> Optional[Tuple[int, Optional[int]]]:
        """(code, signal) once exited: exactly one of them is not None."""
        return self._exit

    @property
    def exited(self) -> bool:
        return self._exit is not None

    @property
    def pid(self) -> Optional[int]:
        return self.channel.pid if self.channel else None

    # -- interactive (the TUI's panes) --------------------------------------
    def write(self, data: bytes) -> None:
        """Queue keystrokes for a tty command (non-blocking, credit-checked).

        Writes join one buffer drained by one task, so a burst of small writes
        (a guest asking 50 000 terminal queries gets 50 000 answers) costs one
        task, not one each; a guest that never reads its terminal keeps at
        most ``TYPED_AHEAD_LIMIT`` bytes here, what comes beyond is dropped."""
        if self.channel is None or self.channel.exited.done():
            return
        room = TYPED_AHEAD_LIMIT - len(self._typed)
        if room <= 0:
            return
        self._typed += data[:room]
        if self._typist is None or self._typist.done():
            self._typist = asyncio.ensure_future(self._send_typed())

    async def _send_typed(self) -> None:
        while self._typed and self.channel is not None:
            data, self._typed = bytes(self._typed), bytearray()
            try:
                await self.channel.write_stdin(data)
            except (Error, ValueError):
                self._typed.clear()
                return

    def resize(self, rows: int, cols: int) -> None:
        self.tty = (rows, cols)
        if self.channel is not None:
            self.channel.resize(rows, cols)

    def send_signal(self, signum: int, group: bool = True) -> None:
        if self.channel is not None:
            self.channel.signal(signum, group)

    def kill(self) -> None:
        self.send_signal(signal_module.SIGKILL)
