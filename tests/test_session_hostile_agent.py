"""The host against a hostile or broken agent: a socketpair peer that sends bad frames.

Every case must end the session with cctui.ProtocolError, fail pending calls
promptly, and leave the host process (and other sessions) unharmed.
"""
from __future__ import annotations

import asyncio
import json
import struct

import pytest
from hypothesis import given, settings, strategies as st

from cctui.errors import ExecutableNotFound, ProtocolError
from cctui.session import AgentSession
from fake_agent import FakeAgent, pair, run, started_exec
from guest_pty_agent import protocol as P

T = P.FrameType

@pytest.mark.parametrize("name,bad", [
    ("oversized length", struct.pack(">IBI", P.MAX_PAYLOAD + 1, T.STDOUT, 1)),
    ("unknown type", struct.pack(">IBI", 0, 250, 1)),
    ("bad json exit", P.encode(T.EXIT, 1, b"{not json")),
    ("exit not an object", P.encode(T.EXIT, 1, b"[1,2]")),
    ("exit code wrong type", P.encode_json(T.EXIT, 1, {"code": "zero"})),
    ("exit without status", P.encode_json(T.EXIT, 1, {})),
    ("output for unknown exec", P.encode(T.STDOUT, 999, b"hi")),
    ("host-only frame type", P.encode(T.STDIN, 1, b"hi")),
    ("host-only window frame", P.encode_window(1, 4096)),
    ("bad credit size", P.encode(T.CREDIT, 1, b"\x00")),
    ("report env not strings", P.encode_json(T.REPORT, 1, {"cwd": "/", "env": {"A": 1}})),
    ("response to nothing", P.encode(T.RESPONSE, 77, P.pack_blob({"ok": True}))),
])
def test_malformed_frame_ends_session_with_protocol_error(name: str, bad: bytes) -> None:
    async def scenario() -> None:
        session, agent = await pair()
        channel, ident = await started_exec(session, agent)
        assert ident == 1
        agent.send(bad)
        with pytest.raises(ProtocolError):
            await channel.exited
        assert isinstance(session.failed, ProtocolError)
        # The host told the agent why before closing.
        ftype, _, payload = await agent.next_frame(T.ERROR)
        assert json.loads(payload)["message"]
        with pytest.raises(ProtocolError):
            await session.start_exec({"argv": ["y"], "env": {}})
    run(scenario())


def test_flooding_past_the_window_is_a_protocol_error() -> None:
    async def scenario() -> None:
        session, agent = await pair()
        channel, ident = await started_exec(session, agent)
        channel.on_stdout = lambda data: None      # a consumer that never acks
        chunk = P.encode(T.STDOUT, ident, b"x" * P.MAX_DATA_CHUNK)
        for _ in range(P.DEFAULT_WINDOW // P.MAX_DATA_CHUNK + 1):
            agent.send(chunk)
        with pytest.raises(ProtocolError, match="flow-control window"):
            await channel.exited
    run(scenario())


async def _answer_one_request(session: AgentSession, agent: FakeAgent) -> None:
    """A round trip: every frame the agent sent before it has been accepted."""
    request = asyncio.ensure_future(session.request({"op": "stat", "path": "/"}))
    _, ident, _ = await agent.next_frame(T.REQUEST)
    agent.send(P.encode(T.RESPONSE, ident, P.pack_blob({"ok": True})))
    await request


def test_a_shrunk_window_keeps_the_old_bound_until_it_grows_back() -> None:
    """Output sent before the agent saw a shrink is legal; the bound never ratchets up."""
    async def scenario() -> None:
        session, agent = await pair()
        channel, ident = await started_exec(session, agent, caps=("window",))
        received = []
        channel.on_stdout = lambda data: received.append(len(data))   # never acks
        channel.set_window(64 * 1024)
        assert P.decode_window((await agent.next_frame(T.WINDOW))[2]) == 64 * 1024
        chunk = P.encode(T.STDOUT, ident, b"x" * P.MAX_DATA_CHUNK)
        for _ in range(P.DEFAULT_WINDOW // P.MAX_DATA_CHUNK):      # the whole old window
            agent.send(chunk)
        await _answer_one_request(session, agent)
        assert sum(received) == P.DEFAULT_WINDOW and not channel.exited.done()
        channel.set_window(P.DEFAULT_WINDOW)                        # back: no extra room
        assert P.decode_window((await agent.next_frame(T.WINDOW))[2]) == P.DEFAULT_WINDOW
        agent.send(P.encode(T.STDOUT, ident, b"y"))
        with pytest.raises(ProtocolError, match="flow-control window"):
            await channel.exited
    run(scenario())


def test_a_grown_window_counts_at_once_and_only_with_an_agent_that_knows_it() -> None:
    async def scenario() -> None:
        for caps, room in ((("window",), 2 * P.DEFAULT_WINDOW), ((), P.DEFAULT_WINDOW)):
            session, agent = await pair()
            channel, ident = await started_exec(session, agent, caps=caps)
            channel.on_stdout = lambda data: None
            channel.set_window(2 * P.DEFAULT_WINDOW)
            for _ in range(room // P.MAX_DATA_CHUNK):
                agent.send(P.encode(T.STDOUT, ident, b"x" * P.MAX_DATA_CHUNK))
            await _answer_one_request(session, agent)
            assert not channel.exited.done()
            agent.send(P.encode(T.STDOUT, ident, b"y"))
            with pytest.raises(ProtocolError, match="flow-control window"):
                await channel.exited
    run(scenario())


def test_wrong_version_is_refused() -> None:
    async def scenario() -> None:
        session, agent = await pair()
        agent.hello(version=99)
        with pytest.raises(ProtocolError, match="version 99"):
            await session.handshake(5)
    run(scenario())


def test_silent_agent_is_declared_dead() -> None:
    async def scenario() -> None:
        session, agent = await pair()
        channel, _ = await started_exec(session, agent)
        # The agent now says nothing at all (a hung guest): the heartbeat notices.
        with pytest.raises(Exception, match="sent nothing"):
            await channel.exited
    run(scenario())


def test_start_failed_maps_to_error_types() -> None:
    async def scenario() -> None:
        session, agent = await pair()
        agent.hello()
        await session.handshake(5)
        start = asyncio.ensure_future(session.start_exec({"argv": ["nope"], "env": {}}))
        _, ident, _ = await agent.next_frame(T.START)
        agent.send(P.encode_json(T.START_FAILED, ident, {
            "kind": P.NOT_FOUND, "message": "executable file not found in $PATH: nope"}))
        with pytest.raises(ExecutableNotFound, match="nope"):
            await start
        assert session.failed is None            # a failed start is not a broken session
    run(scenario())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_decoder_only_ever_raises_protocol_error(chunks) -> None:
    decoder = P.FrameDecoder()
    try:
        for chunk in chunks:
            for ftype, _ident, payload in decoder.feed(chunk):
                assert len(payload) <= P.MAX_PAYLOAD
                if ftype not in P.DATA_TYPES and payload:
                    try:
                        P.decode_json(payload)
                    except P.ProtocolError:
                        pass
    except P.ProtocolError:
        pass


@given(st.integers(min_value=1, max_value=2**32 - 1), st.binary(max_size=2000))
def test_frames_round_trip_across_any_split(ident: int, payload: bytes) -> None:
    frame = P.encode(T.STDOUT, ident, payload)
    for cut in (0, 1, 5, 9, len(frame) // 2, len(frame)):
        decoder = P.FrameDecoder()
        frames = decoder.feed(frame[:cut]) + decoder.feed(frame[cut:])
        assert frames == [(T.STDOUT, ident, payload)]
