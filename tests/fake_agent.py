"""A scripted hostile agent for the host session's tests: the agent end of a
socketpair, speaking raw frames (valid or not) at an AgentSession."""
from __future__ import annotations

import asyncio
import socket
from typing import Any, Awaitable, Dict, List, Optional, Tuple

from cctui.session import AgentSession, ExecChannel
from guest_pty_agent import protocol as P

T = P.FrameType


class FakeAgent:
    """The agent end of a socketpair, scripted by the test."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = P.FrameDecoder()
        self._queue: "asyncio.Queue[bytes]" = asyncio.Queue()
        self._pump: Optional[asyncio.Future] = None
        self._backlog: List[tuple] = []

    def send(self, data: bytes) -> None:
        """Queue bytes for the host, in order, without blocking the loop."""
        self._queue.put_nowait(data)
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._send_queued())

    async def _send_queued(self) -> None:
        loop = asyncio.get_event_loop()
        while True:
            data = await self._queue.get()
            try:
                await loop.sock_sendall(self.sock, data)
            except OSError:
                pass                 # the host hung up: what is left goes nowhere
            self._queue.task_done()

    async def sent(self) -> None:
        """Wait until everything queued has reached the socket."""
        await self._queue.join()

    def hello(self, version: int = P.VERSION, caps: tuple = ()) -> None:
        self.send(P.encode_json(T.HELLO, 0, {"version": version, "env": {"PATH": "/bin"},
                                             "caps": list(caps)}))

    async def next_frame(self, ftype: int) -> tuple:
        """The next frame of ``ftype`` from the host (frames of other types are skipped)."""
        loop = asyncio.get_event_loop()
        while True:
            while self._backlog:
                frame = self._backlog.pop(0)
                if frame[0] == ftype:
                    return frame
            data = await loop.sock_recv(self.sock, 65536)
            assert data, "host closed the connection"
            self._backlog = self.decoder.feed(data)


async def pair(**session_options: Any) -> Tuple[AgentSession, FakeAgent]:
    host, agent = socket.socketpair()
    agent.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=host)
    options = dict(heartbeat=0.2, dead_after=2.0)
    options.update(session_options)
    return AgentSession(reader, writer, **options), FakeAgent(agent)


def run(coro: Awaitable) -> object:
    return asyncio.run(asyncio.wait_for(coro, 20))


async def started_exec(session: AgentSession, agent: FakeAgent,
                       caps: tuple = (), window: Optional[int] = None) -> Tuple[ExecChannel, int]:
    agent.hello(caps=caps)
    await session.handshake(5)
    spec: Dict[str, Any] = {"argv": ["x"], "env": {}}
    if window is not None:
        spec["window"] = window
    start = asyncio.ensure_future(session.start_exec(spec))
    ftype, ident, payload = await agent.next_frame(T.START)
    agent.send(P.encode_json(T.STARTED, ident, {"pid": 42}))
    channel = await start
    return channel, ident
