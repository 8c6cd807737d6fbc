"""The vhost-user protocol side of the userspace vsock, driven by a fake QEMU over a
socketpair: the handshake QEMU 7.2 makes, rings set up from a memfd, kicks and calls
over eventfds, ring stop, and requests a broken front end could send."""
from __future__ import annotations

import asyncio
import os
import socket
import struct
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from hypothesis import given, settings, strategies as st

from cctui.vsock import vhost_user as vu
from cctui.vsock.device import VsockDevice
from cctui.vsock.packet import Op
from helpers.vsock_guest import GUEST_CID, MEM_SIZE, USER_BASE, FakeDriver, FakeGuest, header


class FakeQemu:
    """The front end: sends requests (with fds) and reads replies through the loop."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.sock, backend = socket.socketpair()
        self.sock.setblocking(False)
        self.device = VsockDevice(GUEST_CID, tmp / "vsock.sock", self.loop, lambda i: None)
        self.conn = vu.VhostUserConnection(backend, self.device)
        self.guest = FakeGuest()
        self.driver = FakeDriver(self.guest)
        self.kicks = [os.eventfd(0, os.EFD_NONBLOCK) for _ in range(2)]
        self.calls = [os.eventfd(0, os.EFD_NONBLOCK) for _ in range(2)]

    def send(self, request: int, payload: bytes = b"", fds: Optional[List[int]] = None,
             flags: int = vu.VERSION) -> None:
        data = vu.MSG_HEADER.pack(request, flags, len(payload)) + payload
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))] if fds else []
        self.sock.sendmsg([data], anc)

    def reply(self, request: int) -> bytes:
        async def read() -> bytes:
            head = b""
            while len(head) < 12:
                head += await self.loop.sock_recv(self.sock, 12 - len(head))
            req, flags, size = vu.MSG_HEADER.unpack(head)
            assert req == request and flags == vu.VERSION | vu.REPLY_FLAG
            body = b""
            while len(body) < size:
                body += await self.loop.sock_recv(self.sock, size - len(body))
            return body
        return self.loop.run_until_complete(asyncio.wait_for(read(), 5))

    def ask(self, request: int, payload: bytes = b"") -> bytes:
        self.send(request, payload)
        return self.reply(request)

    def settle(self) -> None:
        """Run the loop until the backend has read everything sent so far."""
        self.loop.run_until_complete(asyncio.wait_for(self._settled(), 5))

    async def _settled(self) -> None:
        self.send(vu.GET_QUEUE_NUM)   # a request with a reply: all before it are done
        assert len(await self.loop.sock_recv(self.sock, 20)) == 20

    def start_rings(self) -> None:
        """What QEMU's vhost_dev_start sends, as 7.2 does."""
        self.send(vu.SET_FEATURES, vu.U64.pack(vu.F_VERSION_1 | vu.F_PROTOCOL_FEATURES))
        fd = os.dup(self.guest.mem_fd)     # the fake guest's own memory, shared
        table = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, MEM_SIZE, USER_BASE, 0)
        self.send(vu.SET_MEM_TABLE, table, [fd])
        os.close(fd)
        for index, ring in enumerate((self.driver.rx, self.driver.tx)):
            self.send(vu.SET_VRING_NUM, vu.VRING_STATE.pack(index, ring.size))
            self.send(vu.SET_VRING_BASE, vu.VRING_STATE.pack(index, 0))
            self.send(vu.SET_VRING_ADDR, vu.VRING_ADDR.pack(
                index, 0, USER_BASE + ring.desc, USER_BASE + ring.used, USER_BASE + ring.avail, 0))
            self.send(vu.SET_VRING_KICK, vu.U64.pack(index), [self.kicks[index]])
            self.send(vu.SET_VRING_CALL, vu.U64.pack(index), [self.calls[index]])
        for index in range(2):
            self.send(vu.SET_VRING_ENABLE, vu.VRING_STATE.pack(index, 1))
        self.settle()


@pytest.fixture
def qemu(tmp_path: Path) -> Iterator[FakeQemu]:
    fake = FakeQemu(tmp_path)
    yield fake
    fake.conn.close()
    fake.loop.close()


def test_the_handshake_qemu_makes(qemu: FakeQemu) -> None:
    features = vu.U64.unpack(qemu.ask(vu.GET_FEATURES))[0]
    assert features & vu.F_VERSION_1 and features & vu.F_PROTOCOL_FEATURES
    protocol = vu.U64.unpack(qemu.ask(vu.GET_PROTOCOL_FEATURES))[0]
    assert protocol & vu.P_CONFIG and protocol & vu.P_MQ and protocol & vu.P_REPLY_ACK
    qemu.send(vu.SET_PROTOCOL_FEATURES, vu.U64.pack(protocol))
    assert vu.U64.unpack(qemu.ask(vu.GET_QUEUE_NUM))[0] == 2
    config = qemu.ask(vu.GET_CONFIG, vu.CONFIG_HEADER.pack(0, 8, 0) + bytes(8))
    assert config == vu.CONFIG_HEADER.pack(0, 8, 0) + struct.pack("<Q", GUEST_CID)
    qemu.send(vu.SET_OWNER, flags=vu.VERSION | vu.NEED_REPLY)
    assert qemu.reply(vu.SET_OWNER) == vu.U64.pack(0)      # REPLY_ACK


def test_rings_run_on_kicks_and_the_guest_is_called(qemu: FakeQemu) -> None:
    qemu.send(vu.SET_PROTOCOL_FEATURES, vu.U64.pack(vu.PROTOCOL_FEATURES))
    qemu.start_rings()
    assert qemu.device.running
    qemu.driver.post_rx(4)
    qemu.driver.send(header(Op.REQUEST, dst_port=4242))    # nobody listens: RST
    os.eventfd_write(qemu.kicks[1], 1)

    called = qemu.loop.create_future()
    qemu.loop.add_reader(qemu.calls[0], lambda: called.done() or called.set_result(None))
    qemu.loop.run_until_complete(asyncio.wait_for(called, 5))
    qemu.loop.remove_reader(qemu.calls[0])
    [(hdr, _)] = qemu.driver.received()
    assert hdr.op == Op.RST and hdr.dst_port == 5000
    base = vu.VRING_STATE.unpack(qemu.ask(vu.GET_VRING_BASE, vu.VRING_STATE.pack(1, 0)))
    assert base == (1, 1) and not qemu.device.running       # stopped where it was


def test_a_bad_memory_table_is_refused_without_harm(qemu: FakeQemu) -> None:
    qemu.send(vu.SET_PROTOCOL_FEATURES, vu.U64.pack(vu.PROTOCOL_FEATURES))
    fd = os.memfd_create("small")
    os.ftruncate(fd, 4096)
    table = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 1 << 20, USER_BASE, 0)
    qemu.send(vu.SET_MEM_TABLE, table, [fd], flags=vu.VERSION | vu.NEED_REPLY)
    os.close(fd)
    assert qemu.reply(vu.SET_MEM_TABLE) != vu.U64.pack(0)
    assert qemu.device.failed and "past" in qemu.device.failed


def test_ring_addresses_outside_memory_end_the_device(qemu: FakeQemu) -> None:
    qemu.send(vu.SET_PROTOCOL_FEATURES, vu.U64.pack(vu.PROTOCOL_FEATURES))
    qemu.driver.rx.desc = MEM_SIZE - 64                    # the table runs off the end
    qemu.start_rings()
    assert qemu.device.failed and "outside" in qemu.device.failed


def test_an_oversized_request_drops_the_connection(qemu: FakeQemu) -> None:
    qemu.sock.send(vu.MSG_HEADER.pack(vu.SET_MEM_TABLE, vu.VERSION, 1 << 20))

    async def closed() -> None:
        await qemu.conn.closed.wait()
    qemu.loop.run_until_complete(asyncio.wait_for(closed(), 5))


@pytest.mark.fuzz
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.binary(max_size=80)), max_size=12))
def test_fuzz_any_requests_leave_the_host_process_standing(tmp_path_factory, requests) -> None:
    qemu = FakeQemu(tmp_path_factory.mktemp("q"))
    errors: list = []
    qemu.loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        for request, payload in requests:
            qemu.send(request, payload)
        if not qemu.conn.closed.is_set():
            try:
                qemu.settle()          # answered: the connection still works
            except (OSError, asyncio.TimeoutError, AssertionError):
                pass                   # or it was dropped by a request it could not follow
        assert not errors
    finally:
        qemu.conn.close()
        qemu.loop.close()
