"""Where a command's output goes, and when its credit returns to the guest.

Credit is returned only once the bytes have left the sink's hands, so a slow
consumer slows the guest command instead of growing host memory.
"""
from __future__ import annotations

import asyncio
import collections
import io
import threading
from typing import Any, Callable, Deque, List, Optional

from ..errors import Error


class BufferSink:
    """Collects output in memory (Output/CombinedOutput)."""

    def __init__(self, buffer: Optional[bytearray] = None) -> None:
        self.buffer = buffer if buffer is not None else bytearray()

    def attach(self, grant: Callable[[int], None]) -> Callable[[bytes], None]:
        def take(data: bytes) -> None:
            self.buffer += data
            grant(len(data))
        return take

    async def finish(self) -> None:
        pass


class CallbackSink:
    """Hands output to a callback; the consumer returns credit itself with ``ack``.

    The TUI's panes use this: they buffer bytes until the next frame and ack
    once the terminal model has processed them, so a flood is paced by the pane.
    """

    def __init__(self, handler: Callable[[bytes], None]) -> None:
        self.handler = handler
        self.ack: Callable[[int], None] = lambda n: None

    def attach(self, grant: Callable[[int], None]) -> Callable[[bytes], None]:
        self.ack = grant
        return self.handler

    async def finish(self) -> None:
        pass


class WriterSink:
    """Writes to a user's binary file-like (SetStdout/SetStderr).

    In-memory writers are written inline; anything else (a file, a pipe to a
    slow process) is written from a worker thread so the event loop never blocks.
    """

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self._inline = isinstance(writer, (io.BytesIO, bytearray)) or not hasattr(writer, "fileno")
        self._queue: "asyncio.Queue[Optional[bytes]]" = asyncio.Queue()
        self._task: "Optional[asyncio.Task[None]]" = None
        self.error: Optional[BaseException] = None

    def _write(self, data: bytes) -> None:
        if isinstance(self.writer, bytearray):
            self.writer += data
        else:
            self.writer.write(data)

    def attach(self, grant: Callable[[int], None]) -> Callable[[bytes], None]:
        if self._inline:
            def take(data: bytes) -> None:
                try:
                    self._write(data)
                except Exception as exc:  # a broken writer must not kill the session
                    self.error = exc
                grant(len(data))
            return take
        loop = asyncio.get_event_loop()

        async def pump() -> None:
            while True:
                data = await self._queue.get()
                if data is None:
                    return
                try:
                    await loop.run_in_executor(None, self._write, data)
                except Exception as exc:
                    self.error = exc
                grant(len(data))

        self._task = asyncio.ensure_future(pump())
        return self._queue.put_nowait

    async def finish(self) -> None:
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
            if hasattr(self.writer, "flush"):
                try:
                    await asyncio.get_event_loop().run_in_executor(None, self.writer.flush)
                except Exception:
                    pass


class PipeReader(io.RawIOBase):
    """The read end of StdoutPipe/StderrPipe: a blocking file-like for any thread.

    Holds at most one flow-control window of data; credit is returned as the
    reader consumes it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._chunks: Deque[bytes] = collections.deque()
        self._cond = threading.Condition()
        self._eof = False
        self._error: Optional[Error] = None
        self._grant: Callable[[int], None] = lambda n: None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._discard = False

    def readable(self) -> bool:
        return True

    def attach(self, grant: Callable[[int], None]) -> Callable[[bytes], None]:
        self._loop = asyncio.get_event_loop()
        self._grant = grant

        def take(data: bytes) -> None:
            with self._cond:
                if not self._discard:
                    self._chunks.append(data)
                    self._cond.notify_all()
                    return
            grant(len(data))
        return take

    async def finish(self) -> None:
        self.set_eof()

    def set_eof(self, error: Optional[Error] = None) -> None:
        with self._cond:
            self._eof = True
            self._error = self._error or error
            self._cond.notify_all()

    def _return_credit(self, n: int) -> None:
        if self._loop is not None and n:
            self._loop.call_soon_threadsafe(self._grant, n)

    def readinto(self, buffer: Any) -> int:
        with self._cond:
            while not self._chunks and not self._eof:
                self._cond.wait()
            if not self._chunks:
                return 0
            want = len(buffer)
            got = 0
            while self._chunks and got < want:
                chunk = self._chunks[0]
                take = min(len(chunk), want - got)
                buffer[got:got + take] = chunk[:take]
                got += take
                if take == len(chunk):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = chunk[take:]
        self._return_credit(got)
        return got

    def readall(self) -> bytes:
        parts: List[bytes] = []
        while True:
            chunk = self.read(1 << 16)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def close(self) -> None:
        with self._cond:
            dropped = sum(len(c) for c in self._chunks)
            self._chunks.clear()
            self._eof = True
            # Discard from now on, but keep the guest flowing.
            self._discard = True
        self._return_credit(dropped)
        super().close()


class PipeWriter(io.RawIOBase):
    """The write end of StdinPipe: blocking writes with backpressure from the guest."""

    def __init__(self) -> None:
        super().__init__()
        self._submit: Optional[Callable[[bytes], None]] = None
        self._close: Optional[Callable[[], object]] = None
        self._ready = threading.Event()
        self._closed_early = False

    def writable(self) -> bool:
        return True

    def bind(self, submit: Callable[[bytes], None], close: Callable[[], object]) -> None:
        self._submit, self._close = submit, close
        self._ready.set()
        if self._closed_early:
            close()

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed stdin pipe")
        self._ready.wait()
        assert self._submit is not None
        data = bytes(data)
        self._submit(data)
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        if self._close is not None:
            self._close()
        else:
            self._closed_early = True
        super().close()
