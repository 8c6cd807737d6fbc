"""Guest memory and split virtqueues of the userspace vsock device, driven by a fake
guest (a memfd), including what a hostile guest can write into its rings."""
from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cctui.vsock.errors import DeviceError
from cctui.vsock.memory import GuestMemory, Region
from cctui.vsock.virtqueue import F_INDIRECT, F_NEXT, F_WRITE, Virtqueue
from helpers.vsock_guest import MEM_SIZE, USER_BASE, FakeGuest


@pytest.fixture
def guest() -> FakeGuest:
    return FakeGuest()


def test_view_translates_guest_addresses_into_the_shared_memory(guest: FakeGuest) -> None:
    guest.write(0x2000, b"hello")
    view = guest.memory.view(0x2000, 5)
    assert bytes(view) == b"hello"
    view[:1] = b"J"                    # shared: the "guest" sees the device's write
    assert guest.read(0x2000, 5) == b"Jello"


@pytest.mark.parametrize("addr,length", [
    (MEM_SIZE - 4, 8),                 # runs off the end
    (MEM_SIZE, 1),                     # starts past the end
    ((1 << 64) - 8, 16),               # wraps the address space
    (0x1000, -1),
])
def test_view_refuses_ranges_outside_the_table(guest: FakeGuest, addr: int, length: int) -> None:
    with pytest.raises(DeviceError):
        guest.memory.view(addr, length)


def test_user_view_refuses_ring_addresses_outside_the_table(guest: FakeGuest) -> None:
    assert len(guest.memory.user_view(USER_BASE + 16, 16)) == 16
    with pytest.raises(DeviceError):
        guest.memory.user_view(USER_BASE - 16, 32)
    with pytest.raises(DeviceError):
        guest.memory.user_view(USER_BASE + MEM_SIZE - 8, 16)


def test_memory_table_refuses_overlaps_and_fd_mismatch() -> None:
    fds = [os.memfd_create("a"), os.memfd_create("b")]
    for fd in fds:
        os.ftruncate(fd, 8192)
    with pytest.raises(DeviceError, match="overlap"):
        GuestMemory.map([Region(0, 8192, 0, 0), Region(4096, 8192, 1 << 20, 0)], fds)
    fd = os.memfd_create("c")
    with pytest.raises(DeviceError, match="fds"):
        GuestMemory.map([Region(0, 4096, 0, 0), Region(8192, 4096, 8192, 0)], [fd])
    with pytest.raises(OSError):       # the table closed each fd it was given
        os.fstat(fd)


def test_pop_gives_readable_then_writable_parts_and_push_fills_used(guest: FakeGuest) -> None:
    ring = guest.ring(8)
    guest.write(0x9000, b"abcd")
    head = ring.add_chain([(0x9000, 4, 0), (0xA000, 16, F_WRITE)])
    queue = ring.queue()
    chain = queue.pop()
    assert chain is not None and chain.head == head
    assert chain.read_bytes(100) == b"abcd" and chain.writable_len == 16
    assert queue.pop() is None
    queue.push(chain.head, 12)
    assert ring.used_entries() == [(head, 12)]


def test_unpop_gives_the_same_chain_again(guest: FakeGuest) -> None:
    ring = guest.ring(8)
    head = ring.add_chain([(0x9000, 64, F_WRITE)])
    queue = ring.queue()
    assert queue.pop() is not None
    queue.unpop()
    again = queue.pop()
    assert again is not None and again.head == head


def test_interrupt_suppression_is_read_from_the_avail_flags(guest: FakeGuest) -> None:
    ring = guest.ring(8)
    queue = ring.queue()
    assert queue.wants_interrupt()
    ring.set_no_interrupt(True)
    assert not queue.wants_interrupt()


def test_a_descriptor_loop_ends_the_device(guest: FakeGuest) -> None:
    ring = guest.ring(8)
    ring.put_desc(0, 0x9000, 16, F_NEXT, 1)
    ring.put_desc(1, 0x9000, 16, F_NEXT, 0)
    ring.publish(0)
    with pytest.raises(DeviceError, match="loop"):
        ring.queue().pop()


def test_a_chain_longer_than_the_queue_ends_the_device(guest: FakeGuest) -> None:
    ring = guest.ring(4)
    for i in range(4):
        ring.put_desc(i, 0x9000, 16, F_NEXT, (i + 1) % 4)
    ring.publish(0)
    with pytest.raises(DeviceError):
        ring.queue().pop()


@pytest.mark.parametrize("setup,match", [
    (lambda r: (r.put_desc(0, 0x9000, 16, F_NEXT, 99), r.publish(0)), "index 99"),
    (lambda r: r.publish(42), "index 42"),
    (lambda r: (r.put_desc(0, MEM_SIZE - 8, 16, 0, 0), r.publish(0)), "outside"),
    (lambda r: (r.put_desc(0, (1 << 64) - 8, 0xFFFF_FFFF, 0, 0), r.publish(0)), "wraps"),
    (lambda r: (r.put_desc(0, 0x9000, 16, F_INDIRECT, 0), r.publish(0)), "indirect"),
    (lambda r: (r.put_desc(0, 0x9000, 16, F_WRITE | F_NEXT, 1), r.put_desc(1, 0x9000, 16, 0, 0),
                r.publish(0)), "readable descriptor after"),
    (lambda r: r.set_avail_idx(9), "ahead"),
])
def test_hostile_rings_end_the_device(guest: FakeGuest, setup, match: str) -> None:
    ring = guest.ring(8)
    setup(ring)
    with pytest.raises(DeviceError, match=match):
        ring.queue().pop()


def test_queue_sizes_and_ring_addresses_are_checked(guest: FakeGuest) -> None:
    with pytest.raises(DeviceError, match="power of two"):
        Virtqueue(guest.memory, 6, USER_BASE, USER_BASE + 4096, USER_BASE + 8192)
    with pytest.raises(DeviceError):
        Virtqueue(guest.memory, 256, USER_BASE + MEM_SIZE - 64, USER_BASE, USER_BASE + 8192)


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.binary(min_size=16 * 16, max_size=16 * 16), avail=st.binary(min_size=38, max_size=38))
def test_fuzz_any_ring_contents_give_bounded_chains_or_device_error(table: bytes, avail: bytes) -> None:
    guest = FakeGuest(1 << 20)
    ring = guest.ring(16)
    guest.write(ring.desc, table)
    guest.write(ring.avail, avail)
    queue = ring.queue()
    try:
        for _ in range(20):
            chain = queue.pop()
            if chain is None:
                break
            assert len(chain.readable) + len(chain.writable) <= 16
            queue.push(chain.head, 0)
    except DeviceError:
        pass
    assert struct.unpack_from("<H", guest.mem, ring.used + 2)[0] <= 20
