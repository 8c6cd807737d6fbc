"""``cctui exec``: a command in a session's VM with its stdin, stdout and stderr streamed.

Flow control end to end: guest output is acknowledged (its credit returned)
only once the client's socket has taken it, so a client that reads slowly
pauses the guest command instead of growing the server's memory; stdin waits
in a small queue, and a full queue stops the server reading that client.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Dict, List, Optional

from ..api.instance import AsyncInstance
from ..api.sinks import CallbackSink
from ..errors import Error, ExecutableNotFound
from .command_end import wait_for_exit
from .wire import Frame, encode, encode_json

if TYPE_CHECKING:
    from .daemon import ClientLink

STDIN_QUEUE = 4             # stdin chunks (at most 256 KiB each) waiting for the guest


class StdinQueue:
    """An async iterator of the client's stdin chunks; ``None`` put = end of input."""

    def __init__(self) -> None:
        self._queue: "asyncio.Queue[Optional[bytes]]" = asyncio.Queue(STDIN_QUEUE)
        self.closed = False

    async def put(self, data: Optional[bytes]) -> None:
        if self.closed:
            return
        self.closed = data is None
        await self._queue.put(data)

    def finish(self) -> None:
        """The exec ended: later input is dropped, and a put waiting for room returns."""
        self.closed = True
        while not self._queue.empty():
            self._queue.get_nowait()

    def __aiter__(self) -> "StdinQueue":
        return self

    async def __anext__(self) -> bytes:
        data = await self._queue.get()
        if data is None:
            raise StopAsyncIteration
        return data


async def run_exec(link: "ClientLink", ident: int, vm: AsyncInstance, argv: List[str],
                   stdin: StdinQueue) -> Dict[str, object]:
    """Start, stream, and send EXIT; returns the REPLY that failed to start it, if any."""
    cmd = vm.command(argv[0], *argv[1:])
    acks: List[asyncio.Task] = []
    # Output can arrive in the same read as STARTED, before start() returns: it waits
    # here (at most the guest's window) until the REPLY that says the command runs.
    early: List[bytes] = []
    replied = False

    def forward(ftype: Frame, sink: CallbackSink):
        def handler(data: bytes) -> None:
            if not replied:
                early.append(encode(ftype, ident, data))
            else:
                link.send(encode(ftype, ident, data))

            async def ack() -> None:
                try:
                    await link.drain()
                except (ConnectionError, OSError):
                    return          # the client went: its command is being killed
                sink.ack(len(data))
            acks[:] = [t for t in acks if not t.done()]
            acks.append(asyncio.ensure_future(ack()))
        return handler

    out = CallbackSink(lambda data: None)
    err = CallbackSink(lambda data: None)
    out.handler, err.handler = forward(Frame.OUTPUT, out), forward(Frame.ERROUT, err)
    cmd.set_stdin(stdin).set_stdout(out).set_stderr(err)
    try:
        await cmd.start()
    except ExecutableNotFound as exc:
        return {"ok": False, "error": str(exc), "code": 127}
    except Error as exc:
        return {"ok": False, "error": str(exc), "code": 126}
    link.send(encode_json(Frame.REPLY, ident, {"ok": True, "pid": cmd.pid}))
    replied = True
    for frame in early:
        link.send(frame)
    early.clear()
    try:
        error = await wait_for_exit(cmd)
    finally:
        if not cmd.exited:          # the client went away (this task was cancelled)
            cmd.kill()
    if error is not None:
        link.send(encode_json(Frame.EXIT, ident, {"code": None, "signal": None, "error": str(error)}))
        return {}
    code, signal = cmd.exit_status or (None, None)
    link.send(encode_json(Frame.EXIT, ident, {"code": code, "signal": signal}))
    return {}
