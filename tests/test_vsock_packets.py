"""virtio-vsock packets, credit and the device's streams, over a fake guest's rings and
real unix sockets on the host side, including a guest that breaks the rules."""
from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Iterator, List

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cctui.vsock.connection import BUF_ALLOC
from cctui.vsock.credit import Credit, CreditViolation
from cctui.vsock.device import MAX_CONTROL, BATCH, VsockDevice
from cctui.vsock.hybrid import HybridListener
from cctui.vsock.packet import MAX_PAYLOAD, SHUTDOWN_RCV, SHUTDOWN_SEND, BadPacket, Op, parse
from helpers.vsock_guest import GUEST_CID, FakeDriver, FakeGuest, header, packets_of
from helpers.wait import until


# packets ------------------------------------------------------------------------------
def test_parse_reads_a_valid_header() -> None:
    hdr = parse(header(Op.RW, length=10, buf_alloc=123, fwd_cnt=7), GUEST_CID, 10)
    assert (hdr.op, hdr.len, hdr.src_port, hdr.dst_port, hdr.buf_alloc, hdr.fwd_cnt) == \
        (Op.RW, 10, 5000, 9000, 123, 7)


@pytest.mark.parametrize("data,room,match", [
    (header(Op.RW)[:43], 0, "shorter"),
    (header(99), 0, "unknown op"),
    (header(0), 0, "unknown op"),
    (header(Op.RW, src_cid=5), 0, "source CID"),
    (header(Op.RW, dst_cid=GUEST_CID), 0, "destination CID"),
    (header(Op.RW, type_=2), 0, "type"),
    (header(Op.REQUEST, length=4), 4, "payload"),
    (header(Op.RW, length=100), 99, "exceeds"),
    (header(Op.RW, length=MAX_PAYLOAD + 1), MAX_PAYLOAD + 1, "exceeds"),
    (header(Op.RW, length=0xFFFF_FFFF), 0, "exceeds"),
])
def test_parse_refuses_bad_packets(data: bytes, room: int, match: str) -> None:
    with pytest.raises(BadPacket, match=match):
        parse(data, GUEST_CID, room)


@pytest.mark.fuzz
@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 1 << 17))
def test_fuzz_parse_raises_only_bad_packet(data: bytes, room: int) -> None:
    try:
        hdr = parse(data, GUEST_CID, room)
    except BadPacket:
        return
    assert hdr.len <= min(room, MAX_PAYLOAD)


# credit -------------------------------------------------------------------------------
def test_credit_refuses_more_than_buf_alloc_and_frees_what_was_forwarded() -> None:
    credit = Credit(1000)
    credit.received(600)
    with pytest.raises(CreditViolation):
        credit.received(401)
    credit.forwarded(600)
    credit.received(1000)
    assert credit.buffered == 1000


def test_peer_free_wraps_and_distrusts_nonsense_counters() -> None:
    credit = Credit(1000)
    credit.tx_cnt = 0xFFFF_FFF0
    credit.peer(4096, 0xFFFF_FFE0)     # 16 bytes in flight across the wrap
    assert credit.peer_free() == 4096 - 16
    credit.peer(4096, 5)               # fwd_cnt "ahead" of what we sent
    assert credit.peer_free() == 0


def test_update_is_due_after_half_the_buffer_was_forwarded() -> None:
    credit = Credit(1000)
    credit.received(499)
    credit.forwarded(499)
    assert not credit.update_due()
    credit.received(1)
    credit.forwarded(1)
    assert credit.update_due()
    credit.advertised()
    assert not credit.update_due()


# the device -----------------------------------------------------------------------------
class Rig:
    """A device on a fake guest, its host-side paths in a temp dir."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tmp: Path, size: int = 64) -> None:
        self.loop = loop
        self.guest = FakeGuest()
        self.driver = FakeDriver(self.guest, size)
        self.notified: List[int] = []
        self.uds = tmp / "vsock.sock"
        self.device = VsockDevice(GUEST_CID, self.uds, loop, self.notified.append)
        self.device.start(self.driver.rx.queue(), self.driver.tx.queue())
        self.got: list = []
        self.errors: list = []         # exceptions that escaped into the loop: bugs
        loop.set_exception_handler(lambda _loop, context: self.errors.append(context))

    def send(self, hdr: bytes, payload: bytes = b"") -> None:
        """A guest packet, and the kick that tells the device about it."""
        self.driver.send(hdr, payload)
        self.device.kick_tx()

    def post_rx(self, count: int) -> None:
        self.driver.post_rx(count)
        self.device.kick_rx()

    def run(self, coro):
        return self.loop.run_until_complete(asyncio.wait_for(coro, 20))

    def pump(self) -> list:
        """Let the device run, then collect what it put in the rx ring."""
        self.run(asyncio.sleep(0.02))
        self.got += self.driver.received()
        return self.got

    def wait_for(self, op: int, count: int = 1) -> list:
        async def check() -> None:
            def seen() -> bool:
                self.got += self.driver.received()
                return len(packets_of(self.got, op)) >= count
            await until(seen, 10, f"{count} {Op(op).name} packet(s)")
        self.run(check())
        return packets_of(self.got, op)

    def listen(self, port: int) -> socket.socket:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(f"{self.uds}_{port}")
        server.listen(4)
        return server


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    loop = asyncio.new_event_loop()
    rig = Rig(loop, tmp_path)
    yield rig
    rig.device.stop()
    loop.close()
    assert not rig.errors and not (rig.device.failed or "").startswith("internal")


def test_guest_connects_to_a_listening_host_port_and_bytes_flow_both_ways(rig: Rig) -> None:
    server = rig.listen(9000)
    rig.post_rx(16)
    rig.send(header(Op.REQUEST))
    [resp] = rig.wait_for(Op.RESPONSE)
    assert (resp.src_port, resp.dst_port, resp.dst_cid) == (9000, 5000, GUEST_CID)
    peer, _ = server.accept()
    rig.send(header(Op.RW, length=5), b"hello")
    rig.run(asyncio.sleep(0.05))
    assert peer.recv(100) == b"hello"
    peer.sendall(b"world")
    rig.wait_for(Op.RW)
    assert [p for h, p in rig.got if h.op == Op.RW] == [b"world"]
    peer.close()
    [shut] = rig.wait_for(Op.SHUTDOWN)
    assert shut.flags & SHUTDOWN_SEND
    rig.send(header(Op.SHUTDOWN, flags=SHUTDOWN_RCV | SHUTDOWN_SEND))
    rig.wait_for(Op.RST)
    assert not rig.device.conns and rig.notified


def test_request_to_a_port_nobody_listens_on_is_reset(rig: Rig) -> None:
    rig.post_rx(4)
    rig.send(header(Op.REQUEST, dst_port=4242))
    [rst] = rig.wait_for(Op.RST)
    assert rst.dst_port == 5000 and not rig.device.conns


@pytest.mark.parametrize("packet", [header(Op.RW, length=0), header(Op.CREDIT_REQUEST), header(99)])
def test_packets_for_no_stream_or_with_bad_ops_are_reset(rig: Rig, packet: bytes) -> None:
    rig.post_rx(4)
    rig.send(packet)
    rig.wait_for(Op.RST)


def test_a_guest_that_ignores_credit_is_reset_and_never_buffered_past_buf_alloc(rig: Rig) -> None:
    server = rig.listen(9000)
    rig.post_rx(16)
    rig.send(header(Op.REQUEST))
    rig.wait_for(Op.RESPONSE)
    peer, _ = server.accept()          # ...and never reads
    conn = next(iter(rig.device.conns.values()))
    most = 0
    for _ in range(2 * BUF_ALLOC // MAX_PAYLOAD + 8):
        rig.send(header(Op.RW, length=MAX_PAYLOAD), bytes(MAX_PAYLOAD))
        rig.pump()
        most = max(most, len(conn.outbuf))
        if packets_of(rig.got, Op.RST):
            break
    assert packets_of(rig.got, Op.RST), "a guest past its credit was not reset"
    assert most <= BUF_ALLOC and not rig.device.conns
    peer.setblocking(False)            # the host side was closed, not left open: EOF,
    while peer.recv(1 << 20):          # not BlockingIOError, after what got through
        pass


def test_host_connect_waits_for_the_guest_and_respects_its_credit(rig: Rig) -> None:
    listener = HybridListener(rig.uds, rig.device)
    rig.post_rx(32)

    async def host() -> tuple:
        reader, writer = await asyncio.open_unix_connection(str(rig.uds))
        writer.write(b"CONNECT 1024\n")
        await writer.drain()
        await until(lambda: rig.device.conns, 5, "the device to take the CONNECT")
        return reader, writer

    reader, writer = rig.run(host())
    [req] = rig.wait_for(Op.REQUEST)
    assert req.dst_port == 1024 and req.dst_cid == GUEST_CID
    rig.send(header(Op.RESPONSE, src_port=1024, dst_port=req.src_port, buf_alloc=5000))
    line = rig.run(reader.readline())
    assert line == f"OK {req.src_port}\n".encode()
    writer.write(bytes(range(256)) * 80)          # 20480 bytes, 5000 of guest credit
    rig.run(writer.drain())
    rig.wait_for(Op.CREDIT_REQUEST)
    data = b"".join(p for h, p in rig.got if h.op == Op.RW)
    assert len(data) == 5000
    rig.send(header(Op.CREDIT_UPDATE, src_port=1024, dst_port=req.src_port,
                           buf_alloc=5000, fwd_cnt=5000))
    rig.wait_for(Op.RW, count=3)
    data = b"".join(p for h, p in rig.got if h.op == Op.RW)
    assert len(data) == 10000 and data == (bytes(range(256)) * 80)[:10000]
    listener.close()
    writer.close()


def test_host_connect_is_refused_when_the_guest_resets(rig: Rig) -> None:
    listener = HybridListener(rig.uds, rig.device)
    rig.post_rx(4)

    async def host() -> bytes:
        reader, writer = await asyncio.open_unix_connection(str(rig.uds))
        writer.write(b"CONNECT 77\n")
        await until(lambda: [rig.got.extend(rig.driver.received()),
                             packets_of(rig.got, Op.REQUEST)][1], 5, "a REQUEST")
        req = packets_of(rig.got, Op.REQUEST)[0]
        rig.send(header(Op.RST, src_port=77, dst_port=req.src_port))
        return await reader.read()

    assert rig.run(host()) == b""
    assert not rig.device.conns
    listener.close()


def test_a_descriptor_loop_ends_this_device_and_its_streams(rig: Rig) -> None:
    server = rig.listen(9000)
    rig.post_rx(4)
    rig.send(header(Op.REQUEST))
    rig.wait_for(Op.RESPONSE)
    peer, _ = server.accept()
    tx = rig.driver.tx
    tx.put_desc(60, 0x9000, 16, 1, 61)
    tx.put_desc(61, 0x9000, 16, 1, 60)
    tx.publish(60)
    rig.device.kick_tx()
    rig.pump()
    assert rig.device.failed and "loop" in rig.device.failed
    assert not rig.device.conns and peer.recv(10) == b""


def test_requests_without_rx_buffers_stall_the_guest_not_the_host(tmp_path: Path) -> None:
    rig = Rig(asyncio.new_event_loop(), tmp_path, size=512)
    for i in range(MAX_CONTROL + 2 * BATCH):
        if i % 32 == 0:
            rig.pump()
        rig.send(header(Op.REQUEST, src_port=i, dst_port=4242))
    rig.pump()
    assert len(rig.device.control) <= MAX_CONTROL + BATCH
    assert rig.device.tx is not None and rig.device.tx.pending()   # left for later
    rig.post_rx(60)
    rig.wait_for(Op.RST, 60)
    rig.device.stop()
    rig.loop.close()


@pytest.mark.fuzz
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(list(Op) + [0, 8]), st.integers(0, 3),
                          st.integers(0, 300), st.integers(0, 1 << 32 - 1), st.integers(0, 3)),
                max_size=30))
def test_fuzz_any_packet_sequence_keeps_the_device_bounded(tmp_path_factory, packets) -> None:
    loop = asyncio.new_event_loop()
    rig = Rig(loop, tmp_path_factory.mktemp("v"))
    server = rig.listen(9000)
    try:
        rig.post_rx(32)
        for op, port, length, counter, flags in packets:
            payload = bytes(length) if op == Op.RW else b""
            rig.send(header(op, src_port=port, dst_port=9000 + port % 2, length=length,
                                   buf_alloc=counter, fwd_cnt=counter >> 3, flags=flags), payload)
            rig.pump()
        assert len(rig.device.control) <= MAX_CONTROL + BATCH
        assert all(len(c.outbuf) <= BUF_ALLOC for c in rig.device.conns.values())
        assert rig.device.buffered == sum(len(c.outbuf) for c in rig.device.conns.values())
    finally:
        rig.device.stop()
        server.close()
        loop.close()


def test_all_streams_together_are_bounded_too(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cctui.vsock.connection.MAX_BUFFERED", 64 * 1024)
    server = rig.listen(9000)
    rig.post_rx(32)
    peers = []
    for port in (1, 2, 3):
        rig.send(header(Op.REQUEST, src_port=port))
        rig.wait_for(Op.RESPONSE, port)
        peers.append(server.accept()[0])           # ...none of which reads
    most = 0
    for _ in range(4):                             # 256 KiB a stream: within its credit
        for port in (1, 2, 3):
            rig.send(header(Op.RW, src_port=port, length=MAX_PAYLOAD), bytes(MAX_PAYLOAD))
            rig.pump()
            most = max(most, rig.device.buffered)
    assert most <= 64 * 1024
    assert packets_of(rig.got, Op.RST), "no stream was reset at the device's bound"
    assert len(rig.device.conns) < 3


def test_bytes_a_slow_host_reader_has_not_taken_arrive_whole_and_in_order(rig: Rig) -> None:
    server = rig.listen(9000)
    rig.post_rx(16)
    rig.send(header(Op.REQUEST))
    rig.wait_for(Op.RESPONSE)
    peer, _ = server.accept()
    data = os.urandom(BUF_ALLOC)                   # all of our credit, the socket's buffer and more
    for i in range(0, len(data), 16384):           # several packets after the socket is full
        chunk = data[i:i + 16384]
        rig.send(header(Op.RW, length=len(chunk)), chunk)
        rig.pump()
    assert rig.device.buffered > 0                 # the socket did not take it all: kept for it

    async def read_all() -> bytes:
        peer.setblocking(False)
        got = b""
        while len(got) < len(data):
            got += await rig.loop.sock_recv(peer, 1 << 20)
        return got
    assert rig.run(read_all()) == data
    [update] = rig.wait_for(Op.CREDIT_UPDATE)[-1:]
    assert update.fwd_cnt >= BUF_ALLOC // 2 and not packets_of(rig.got, Op.RST)
