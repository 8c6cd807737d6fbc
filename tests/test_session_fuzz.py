"""Fuzz tier: the host session fed mutated agent streams over a socketpair.

A plausible agent script (HELLO, STARTED, REPORT, output, RESPONSE, EXIT) is
corrupted at the field level (wrong types, random or deeply nested JSON, huge
lengths) and at the byte level (bit flips, cuts, inserted bytes). Whatever
arrives, the session either keeps working or ends with ProtocolError; every
pending call is resolved promptly; what the host holds stays bounded; and
nothing but cctui's own errors ever surfaces. Runs are bounded: ``-m fuzz``.
"""
from __future__ import annotations

import asyncio
import json
import struct
from datetime import timedelta
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from cctui.errors import Error, NotRunning, ProtocolError, Timeout
from cctui.session import WRITE_BUFFER_CAP, AgentSession
from fake_agent import FakeAgent, pair
from guest_pty_agent import protocol as P

pytestmark = pytest.mark.fuzz

T = P.FrameType
WINDOW = 8192
BOUND = 2.0          # seconds any pending call may take to resolve once it must

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True) | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)
depths = st.sampled_from([P.MAX_JSON_DEPTH, P.MAX_JSON_DEPTH + 1, 1000, 2000, 100_000]) \
    | st.integers(1, 3000)
nested = st.tuples(depths, st.sampled_from(["[", "{\"a\":"])).map(
    lambda d: d[1] * d[0] + ("]" if d[1] == "[" else "}") * d[0])


def _script() -> List[Tuple[int, int, Any]]:
    """What a well-behaved agent sends for one exec (id 1) and one request (id 2)."""
    return [
        (T.HELLO, 0, {"version": P.VERSION, "caps": ["window"], "env": {"PATH": "/bin"}}),
        (T.STARTED, 1, {"pid": 42}),
        (T.REPORT, 1, {"cwd": "/root", "env": {"A": "b"}, "pid": 43}),
        (T.STDOUT, 1, b"hello\r\n"),
        (T.STDERR, 1, b"oops\n"),
        (T.RESPONSE, 2, P.pack_blob({"ok": True, "size": 4}, b"data")),
        (T.EXIT, 1, {"code": 0, "signal": None}),
    ]


# Frames an agent may send, valid on their own, that may come where they do not fit.
extra_frames = st.sampled_from([
    P.encode_json(T.HELLO, 0, {"version": P.VERSION}),
    P.encode_json(T.STARTED, 1, {"pid": 7}),
    P.encode_json(T.START_FAILED, 1, {"kind": P.NOT_FOUND, "message": "gone"}),
    P.encode_json(T.EXIT, 1, {"code": None, "signal": 9}),
    P.encode_json(T.REPORT, 1, {"cwd": None, "env": None, "pid": None}),
    P.encode_credit(1, 1),
    P.encode(T.PONG, 0, b"1"),
    P.encode(T.RESPONSE, 2, P.pack_blob({"ok": False, "errno": 2})),
    P.encode_json(T.ERROR, 0, {"message": "\x1b[2Jgone"}),
])


@st.composite
def corrupted_frames(draw: st.DrawFn) -> List[bytes]:
    """The script with some frames dropped, repeated or given bad fields.

    Each example picks how often to corrupt, so some streams are nearly valid
    (the session must keep working) and some are thoroughly broken."""
    percent = draw(st.sampled_from([0, 5, 15, 40]))

    def corrupt() -> bool:
        return draw(st.integers(0, 99)) < percent

    frames = []
    for ftype, ident, payload in _script():
        copies = draw(st.sampled_from([0, 2])) if corrupt() else 1
        for _ in range(copies):
            if isinstance(payload, dict):
                body: Dict[str, Any] = dict(payload)
                how = draw(st.sampled_from(["field", "drop", "random", "deep"])) if corrupt() else ""
                if how == "field" and body:
                    body[draw(st.sampled_from(sorted(body)))] = draw(json_values)
                elif how == "drop" and body:
                    del body[draw(st.sampled_from(sorted(body)))]
                if how == "random":
                    raw = json.dumps(draw(json_values)).encode()
                elif how == "deep":
                    raw = ('{"code":' + draw(nested) + "}").encode()
                else:
                    raw = json.dumps(body).encode()
            elif corrupt():
                raw = draw(st.binary(max_size=64))
            else:
                raw = payload
            if corrupt():
                ident = draw(st.sampled_from([0, 1, 2, 3, 2**32 - 1]))
            frames.append(P.HEADER.pack(len(raw), int(ftype), ident) + raw)
        if ftype != T.HELLO and corrupt():
            frames.append(draw(extra_frames))
    if corrupt():
        frames.append(draw(st.binary(min_size=9, max_size=9)))       # a random header
    if corrupt():
        length = draw(st.sampled_from([P.MAX_PAYLOAD, P.MAX_PAYLOAD + 1, 2**32 - 1]))
        frames.append(P.HEADER.pack(length, int(T.STDOUT), 1) + b"x" * 16)
    return frames


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bit flips, inserted bytes, or a cut."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        if not buf:
            break
        op = draw(st.sampled_from(["flip", "insert", "cut"]))
        pos = draw(st.integers(0, len(buf) - 1))
        if op == "flip":
            buf[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            del buf[pos:]
    return bytes(buf)


@st.composite
def agent_streams(draw: st.DrawFn) -> Tuple[bytes, bytes]:
    """(what the agent sends before the handshake, what it sends after)."""
    frames = draw(corrupted_frames())
    first, rest = (frames[0], frames[1:]) if frames else (b"", [])
    if draw(st.integers(0, 9)) == 0:
        first = draw(mutated(first))
    tail = b"".join(rest)
    if draw(st.integers(0, 2)) == 0:
        tail = draw(mutated(tail))
    return first, tail


async def _host_against(first: bytes, rest: bytes) -> None:
    loop = asyncio.get_event_loop()
    unexpected: List[Dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unexpected.append(context))
    session, agent = await pair(heartbeat=30.0, dead_after=60.0)
    agent.send(first)
    try:
        await session.handshake(0.3)
    except (ProtocolError, Timeout):
        assert isinstance(session.failed, (ProtocolError, Timeout))
        event(f"handshake: {type(session.failed).__name__}")
        return _check_bounded(session, unexpected)

    output = []
    channels = []

    def setup(channel: Any) -> None:
        channels.append(channel)
        channel.on_stdout = channel.on_stderr = lambda data: (output.append(len(data)),
                                                              channel.consumed(len(data)))
    start = asyncio.ensure_future(session.start_exec(
        {"argv": ["x"], "env": {}, "window": WINDOW}, setup))
    request = asyncio.ensure_future(session.request({"op": "stat", "path": "/"}))
    got_request = asyncio.ensure_future(agent.next_frame(T.REQUEST))
    await asyncio.wait([got_request, session.closed], timeout=BOUND,
                       return_when=asyncio.FIRST_COMPLETED)
    assert got_request.done() or session.failed is not None
    agent.send(rest)
    await asyncio.wait([asyncio.ensure_future(agent.sent()), session.closed], timeout=BOUND,
                       return_when=asyncio.FIRST_COMPLETED)
    await asyncio.wait([session.closed], timeout=0.05)    # let the host read it all

    pending = [start, request] + [c.exited for c in channels]
    event("ended with ProtocolError" if session.failed else "kept working")
    if session.failed is None:
        assert sum(output) <= WINDOW * 2
        if session._decoder.pending == 0:
            await _still_works(session, agent)
        session.fail(NotRunning("the fuzz case is over"))
    done, still = await asyncio.wait(pending, timeout=BOUND)
    assert not still, "a pending call was not resolved when the session ended"
    for fut in done:
        if not fut.cancelled() and fut.exception() is not None:
            assert isinstance(fut.exception(), Error), repr(fut.exception())
    assert isinstance(session.failed, (ProtocolError, NotRunning)), repr(session.failed)
    got_request.cancel()
    _check_bounded(session, unexpected)


async def _still_works(session: AgentSession, agent: FakeAgent) -> None:
    """An aligned stream that did not break the session must still carry calls."""
    probe = asyncio.ensure_future(session.request({"op": "stat", "path": "/probe"}))
    _, ident, _ = await asyncio.wait_for(agent.next_frame(T.REQUEST), BOUND)
    agent.send(P.encode(T.RESPONSE, ident, P.pack_blob({"ok": True})))
    try:
        header, _ = await asyncio.wait_for(probe, BOUND)
    except ProtocolError:
        return            # an earlier frame's id collided with the probe's: still a clean end
    assert header["ok"] is True


def _check_bounded(session: AgentSession, unexpected: List[Dict[str, Any]]) -> None:
    assert session._decoder.pending <= P.HEADER_SIZE + P.MAX_PAYLOAD
    assert session.unsent() <= WRITE_BUFFER_CAP
    read_loop = session._tasks[0] if session._tasks else None
    if read_loop is not None and read_loop.done() and not read_loop.cancelled():
        assert read_loop.exception() is None, repr(read_loop.exception())
    assert not unexpected, unexpected


@settings(max_examples=120, deadline=timedelta(seconds=10),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(agent_streams())
def test_mutated_agent_streams_end_cleanly_or_keep_working(stream: Tuple[bytes, bytes]) -> None:
    first, rest = stream
    asyncio.run(asyncio.wait_for(_host_against(first, rest), 20))


@settings(max_examples=200, deadline=timedelta(seconds=2))
@given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()), nested.map(str.encode),
                 st.binary(max_size=256)))
def test_decode_json_only_ever_raises_protocol_error(payload: bytes) -> None:
    try:
        assert isinstance(P.decode_json(payload), dict)
    except P.ProtocolError:
        pass


def test_length_fields_are_checked_before_anything_is_buffered() -> None:
    decoder = P.FrameDecoder()
    with pytest.raises(P.ProtocolError):
        decoder.feed(struct.pack(">IBI", 2**32 - 1, T.STDOUT, 1))
    assert decoder.pending <= P.HEADER_SIZE
