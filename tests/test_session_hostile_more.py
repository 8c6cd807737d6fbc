"""More of the host against a hostile agent: deep JSON, frames out of an exec's
order, floods aimed at the host's write buffer, and guest values out of range.

Each case must end the session with ProtocolError (or, for a guest that only
stalls, a Timeout) that every pending call receives promptly, well before the
heartbeat would notice a silent guest.
"""
from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from cctui.errors import ProtocolError, Timeout
from cctui.session import AgentSession
from fake_agent import FakeAgent, pair, run, started_exec
from guest_pty_agent import protocol as P

T = P.FrameType
PROMPT = 1.0       # seconds: far below the fake session's dead_after (2 s)


def _named(*cases: tuple) -> list:
    """Parameters shown by their name, not by their bytes."""
    return [pytest.param(*case, id=case[0]) for case in cases]


async def _fails_promptly(fut: asyncio.Future, error: type = ProtocolError) -> BaseException:
    """The waiter is resolved with ``error`` well before any heartbeat could do it."""
    with pytest.raises(error) as info:
        await asyncio.wait_for(asyncio.shield(fut), PROMPT)
    return info.value


async def _pending_request(session: AgentSession, agent: FakeAgent) -> asyncio.Future:
    request = asyncio.ensure_future(session.request({"op": "stat", "path": "/"}))
    await agent.next_frame(T.REQUEST)
    return request


# -- 1: nesting ------------------------------------------------------------------

DEEP = [
    ("arrays", b'{"code":' + b"[" * 1000 + b"]" * 1000 + b"}"),
    ("objects", b'{"a":' * 1000 + b"0" + b"}" * 1000),
    ("unclosed", b"[" * 2048),
]


@pytest.mark.parametrize("ftype", [T.EXIT, T.REPORT, T.ERROR], ids=lambda t: T(t).name)
@pytest.mark.parametrize("name,payload", _named(*DEEP))
def test_deeply_nested_json_ends_the_session_at_once(ftype: int, name: str, payload: bytes) -> None:
    async def scenario() -> None:
        session, agent = await pair()
        channel, ident = await started_exec(session, agent)
        request = await _pending_request(session, agent)
        agent.send(P.encode(ftype, ident if ftype != T.ERROR else 0, payload))
        await _fails_promptly(channel.exited)
        await _fails_promptly(request)
        assert isinstance(session.failed, ProtocolError)
    run(scenario())


def test_nesting_is_refused_before_the_parser_sees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = []
    real = P.json.loads
    monkeypatch.setattr(P.json, "loads", lambda text: parsed.append(text) or real(text))
    for _, payload in DEEP:
        with pytest.raises(P.ProtocolError, match="nested"):
            P.decode_json(payload)
    assert parsed == []
    limit = P.MAX_JSON_DEPTH
    assert P.decode_json(b'{"a":' + b"[" * (limit - 1) + b"]" * (limit - 1) + b"}")
    with pytest.raises(P.ProtocolError, match="nested"):
        P.decode_json(b'{"a":' + b"[" * limit + b"]" * limit + b"}")
    # Brackets inside strings (escaped quotes included) are text, not nesting.
    text = '"\\"' + "[" * 100 + "{" * 100
    assert P.decode_json(json.dumps({"a": text}).encode()) == {"a": text}


@pytest.mark.parametrize("payload", [
    b'"' + b'\\"' * 200_000,              # an unclosed string full of escaped quotes
    b'"[' * 300_000,
    b"[]," * 300_000,
], ids=["unclosed escapes", "quotes and brackets", "many empty arrays"])
def test_the_nesting_check_takes_linear_time(payload: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(P.ProtocolError):
        P.decode_json(payload)
    assert time.monotonic() - started < 2.0


def test_an_exception_while_handling_a_frame_is_a_protocol_error() -> None:
    async def scenario() -> None:
        session, agent = await pair()
        channel, ident = await started_exec(session, agent)

        def broken(report: dict) -> None:
            raise RecursionError("maximum recursion depth exceeded")
        channel.on_report = broken
        request = await _pending_request(session, agent)
        agent.send(P.encode_json(T.REPORT, ident, {"cwd": "/", "env": None, "pid": 42}))
        error = await _fails_promptly(channel.exited)
        assert "RecursionError" in str(error)
        await _fails_promptly(request)
    run(scenario())


# -- 2: each frame in its exec's state ---------------------------------------------

STARTED = P.encode_json(T.STARTED, 1, {"pid": 42})
START_FAILED = P.encode_json(T.START_FAILED, 1, {"kind": P.OTHER, "message": "no"})
EXIT = P.encode_json(T.EXIT, 1, {"code": 0, "signal": None})


@pytest.mark.parametrize("name,frame", _named(
    ("start failed after started", START_FAILED),
    ("started twice", STARTED),
))
def test_a_frame_out_of_a_running_execs_order_is_a_protocol_error(name: str, frame: bytes) -> None:
    async def scenario() -> None:
        session, agent = await pair()
        channel, ident = await started_exec(session, agent)
        assert ident == 1
        agent.send(frame)
        await _fails_promptly(channel.exited)
        assert "running" in str(session.failed)
    run(scenario())


@pytest.mark.parametrize("name,frame", _named(
    ("exit before started", EXIT),
    ("output before started", P.encode(T.STDOUT, 1, b"early")),
    ("credit before started", P.encode_credit(1, 1)),
    ("report before started", P.encode_json(T.REPORT, 1, {"cwd": "/"})),
))
def test_a_frame_before_started_is_a_protocol_error(name: str, frame: bytes) -> None:
    async def scenario() -> None:
        session, agent = await pair()
        agent.hello()
        await session.handshake(5)
        start = asyncio.ensure_future(session.start_exec({"argv": ["x"], "env": {}}))
        await agent.next_frame(T.START)
        agent.send(frame)
        await _fails_promptly(start)
        assert "starting" in str(session.failed)
    run(scenario())


def test_a_frame_before_hello_is_a_protocol_error() -> None:
    async def scenario() -> None:
        session, agent = await pair()
        agent.send(P.encode(T.PONG, 0, b"0"))
        with pytest.raises(ProtocolError, match="before its HELLO"):
            await session.handshake(PROMPT)
    run(scenario())


def test_a_failed_start_also_resolves_the_exit() -> None:
    async def scenario() -> None:
        session, agent = await pair()
        agent.hello()
        await session.handshake(5)
        channels = []
        start = asyncio.ensure_future(session.start_exec({"argv": ["x"], "env": {}},
                                                         channels.append))
        await agent.next_frame(T.START)
        agent.send(START_FAILED)
        with pytest.raises(Exception, match="no"):
            await start
        with pytest.raises(Exception, match="no"):
            await asyncio.wait_for(channels[0].exited, PROMPT)
        assert session.failed is None
    run(scenario())


# -- 3: what the host writes back is bounded ------------------------------------------

def _small_buffers(session: AgentSession, agent: FakeAgent) -> None:
    """Little room in the kernel, so what the agent leaves unread shows up at once."""
    agent.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host = session._writer.transport.get_extra_info("socket")
    host.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


def test_a_hello_flood_from_an_agent_that_never_reads_earns_no_replies() -> None:
    async def scenario() -> None:
        session, agent = await pair()
        _small_buffers(session, agent)
        channel, _ = await started_exec(session, agent)
        for _ in range(2000):
            agent.hello()
        error = await _fails_promptly(channel.exited)
        assert "second HELLO" in str(error)
        assert session.unsent() < 4096
    run(scenario())


async def _running_exec_small_buffers(cap: int):
    """A session with a write cap over small socket buffers, one exec running."""
    session, agent = await pair(write_buffer_cap=cap)
    _small_buffers(session, agent)
    channel, ident = await started_exec(session, agent, window=4096)
    return session, agent, ident, channel


def test_replies_to_an_agent_that_never_reads_are_capped() -> None:
    """Output is acknowledged with CREDIT frames; a guest that floods output and
    never reads them would grow the write buffer without end."""
    async def scenario() -> None:
        cap = 16 * 1024
        session, agent, ident, channel = await _running_exec_small_buffers(cap)
        high = 0
        chunk = P.encode(T.STDOUT, ident, b"x" * 1024)
        for _ in range(400):
            for _ in range(50):
                agent.send(chunk)
            await agent.sent()
            high = max(high, session.unsent())
            if channel.exited.done():
                break
        error = await _fails_promptly(channel.exited)
        assert "stopped reading" in str(error)
        assert high <= cap + 64
    run(scenario())


def test_bulk_writes_to_a_stalled_agent_wait_and_then_fail() -> None:
    """Requests queue behind each other (one in the buffer at most); a guest that
    keeps talking but reads nothing is dropped after dead_after, every call told."""
    async def scenario() -> None:
        session, agent = await pair()
        _small_buffers(session, agent)
        agent.hello()
        await session.handshake(5)
        blob = b"x" * (P.MAX_PAYLOAD - 4096)
        calls = [asyncio.ensure_future(session.request({"op": "write_file"}, blob))
                 for _ in range(4)]
        high = 0
        for _ in range(30):           # 3 s of PONGs: the agent is not silent
            agent.send(P.encode(T.PONG, 0, b"0"))
            await asyncio.sleep(0.1)
            high = max(high, session.unsent())
            if session.failed is not None:
                break
        assert high <= P.MAX_PAYLOAD + 64 * 1024
        assert isinstance(session.failed, Timeout) and "read nothing" in str(session.failed)
        for call in calls:
            await _fails_promptly(call, Timeout)
    run(scenario())


# -- 5: every field from the guest is typed and bounded ---------------------------------

@pytest.mark.parametrize("name,frame", _named(
    ("pid zero", P.encode_json(T.STARTED, 2, {"pid": 0})),
    ("pid huge", P.encode_json(T.STARTED, 2, {"pid": 2**63})),
    ("pid bool", P.encode_json(T.STARTED, 2, {"pid": True})),
    ("pid float", P.encode_json(T.STARTED, 2, {"pid": 4.5})),
    ("exit code 256", P.encode_json(T.EXIT, 1, {"code": 256})),
    ("exit code negative", P.encode_json(T.EXIT, 1, {"code": -1})),
    ("exit code huge", P.encode(T.EXIT, 1, b'{"code":' + b"9" * 4000 + b"}")),
    ("signal zero", P.encode_json(T.EXIT, 1, {"signal": 0})),
    ("signal 1000", P.encode_json(T.EXIT, 1, {"signal": 1000})),
    ("code and signal", P.encode_json(T.EXIT, 1, {"code": 0, "signal": 9})),
    ("report cwd too long", P.encode_json(T.REPORT, 1, {"cwd": "/" * 5000})),
    ("report pid negative", P.encode_json(T.REPORT, 1, {"pid": -5})),
    ("report env not a dict", P.encode_json(T.REPORT, 1, {"env": ["A=1"]})),
    ("report comm too long", P.encode_json(T.REPORT, 1, {"comm": "x" * 17})),
    ("report comm not text", P.encode_json(T.REPORT, 1, {"comm": ["sleep"]})),
    ("report env too big", P.encode_json(T.REPORT, 1, {"env": {
        f"K{i}": "v" * 1000 for i in range(300)}})),
    ("start failed message not text", P.encode_json(T.START_FAILED, 2, {
        "kind": P.OTHER, "message": {"a": 1}})),
    ("start failed name not text", P.encode_json(T.START_FAILED, 2, {
        "kind": P.NOT_FOUND, "message": "m", "name": ["x"]})),
    ("stdin credit never sent", P.encode_credit(1, 1)),
    ("stdin credit huge", P.encode_credit(1, 2**32 - 1)),
))
def test_out_of_range_guest_fields_are_protocol_errors(name: str, frame: bytes) -> None:
    async def scenario() -> None:
        session, agent = await pair()
        channel, ident = await started_exec(session, agent)
        pending = asyncio.ensure_future(session.start_exec({"argv": ["y"], "env": {}}))
        assert (await agent.next_frame(T.START))[1] == 2
        agent.send(frame)
        await _fails_promptly(channel.exited)
        await _fails_promptly(pending)
        assert len(str(session.failed)) < 400
    run(scenario())


@pytest.mark.parametrize("name,hello", _named(
    ("caps not a list", {"version": P.VERSION, "caps": "tty"}),
    ("too many caps", {"version": P.VERSION, "caps": ["c"] * 1000}),
    ("cap not text", {"version": P.VERSION, "caps": [1]}),
    ("env values not text", {"version": P.VERSION, "env": {"A": 1}}),
    ("version huge", {"version": 10**300}),
))
def test_a_bad_hello_is_refused(name: str, hello: dict) -> None:
    async def scenario() -> None:
        session, agent = await pair()
        agent.send(P.encode_json(T.HELLO, 0, hello))
        with pytest.raises(ProtocolError) as info:
            await session.handshake(PROMPT)
        assert len(str(info.value)) < 400
    run(scenario())


HOSTILE_TEXT = "\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J\x9b31m\x07" + "spam " * 100_000


def test_guest_text_in_errors_is_capped_and_printable() -> None:
    async def scenario() -> None:
        session, agent = await pair()
        agent.hello()
        await session.handshake(5)
        start = asyncio.ensure_future(session.start_exec({"argv": ["x"], "env": {}}))
        _, ident, _ = await agent.next_frame(T.START)
        agent.send(P.encode_json(T.START_FAILED, ident, {"kind": P.NOT_FOUND,
                                                         "message": HOSTILE_TEXT,
                                                         "name": HOSTILE_TEXT}))
        with pytest.raises(Exception) as info:
            await start
        for text in (str(info.value), info.value.name):
            assert len(text) <= 600
            assert not any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 for c in text)
        agent.send(P.encode_json(T.ERROR, 0, {"message": HOSTILE_TEXT}))
        with pytest.raises(ProtocolError) as info:
            await asyncio.wait_for(asyncio.shield(session.closed), PROMPT)
            raise session.failed  # type: ignore[misc]
        text = str(info.value)
        assert len(text) <= 700
        assert not any(ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0 for c in text)
    run(scenario())


def test_a_read_answered_with_more_than_asked_ends_the_session() -> None:
    """read_file asks for a chunk at a time; a guest that returns more (or claims
    an endless file in oversized chunks) is cut off instead of filling memory."""
    from cctui.api.instance import FILE_CHUNK, AsyncInstance

    async def scenario() -> None:
        session, agent = await pair()
        agent.hello()
        await session.handshake(5)
        inst = AsyncInstance(name="hostile", image="local")
        inst.attach(session, None)
        read = asyncio.ensure_future(inst.read_file("/etc/motd"))
        _, ident, _ = await agent.next_frame(T.REQUEST)
        agent.send(P.encode(T.RESPONSE, ident, P.pack_blob(
            {"ok": True, "size": 2**60}, b"x" * (FILE_CHUNK + 1))))
        error = await _fails_promptly(read)
        assert f"{FILE_CHUNK}-byte read" in str(error)
        assert session.failed is error
    run(scenario())


def test_a_consumer_acknowledging_output_never_sees_the_cap_raise() -> None:
    """The cap ends the session inside consumed(); the consumer (a pane, a sink)
    is not where that error belongs: the exec's waiters get it."""
    async def scenario() -> None:
        session, agent, ident, channel = await _running_exec_small_buffers(64)
        held = []
        channel.on_stdout = held.append             # acknowledged later, outside the reader
        for _ in range(100):
            agent.send(P.encode(T.STDOUT, ident, b"x" * 1024))
            await agent.sent()
            while held:
                channel.consumed(len(held.pop()))   # must not raise
            if channel.exited.done():
                break
        await _fails_promptly(channel.exited)
    run(scenario())


def test_a_long_boot_before_the_handshake_is_not_taken_for_a_stall() -> None:
    """The stall clock starts with the heartbeat, not when the session was made."""
    async def scenario() -> None:
        session, agent = await pair(dead_after=0.5)
        await asyncio.sleep(0.8)              # QEMU booting: the agent is not there yet
        _small_buffers(session, agent)
        agent.hello()
        await session.handshake(5)
        blob = b"x" * (P.MAX_PAYLOAD - 4096)  # more than the socket takes: bytes wait
        request = asyncio.ensure_future(session.request({"op": "write_file"}, blob))
        await asyncio.sleep(0.3)              # a heartbeat or so; the agent reads next
        assert session.failed is None, session.failed
        _, ident, _ = await agent.next_frame(T.REQUEST)
        agent.send(P.encode(T.RESPONSE, ident, P.pack_blob({"ok": True})))
        await asyncio.wait_for(request, PROMPT)
    run(scenario())
