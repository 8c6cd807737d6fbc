"""A fake guest for the userspace vsock device: a memfd as guest memory, with split
rings and packets written into it the way a guest driver (or a hostile one) would."""
from __future__ import annotations

import mmap
import os
import struct
from typing import List, Optional, Sequence, Tuple

from cctui.vsock.memory import GuestMemory, Region
from cctui.vsock.packet import HEADER, HOST_CID, TYPE_STREAM, Header, Op
from cctui.vsock.virtqueue import F_NEXT, F_WRITE, Virtqueue

MEM_SIZE = 4 << 20
USER_BASE = 0x7F00_0000_0000          # "QEMU's" address of guest physical 0
GUEST_CID = 77
Segment = Tuple[int, int, int]        # guest address, length, descriptor flags


class FakeGuest:
    """Guest memory plus a bump allocator for buffers in it."""

    def __init__(self, size: int = MEM_SIZE) -> None:
        fd = os.memfd_create("fake-guest")
        os.ftruncate(fd, size)
        self.mem = mmap.mmap(fd, size, mmap.MAP_SHARED)
        self.mem_fd = os.dup(fd)      # for a fake QEMU to send in SET_MEM_TABLE
        self.memory = GuestMemory.map([Region(0, size, USER_BASE, 0)], [fd])
        self.size = size
        self._next = 0x1000

    def alloc(self, length: int, align: int = 16) -> int:
        addr = (self._next + align - 1) // align * align
        self._next = addr + length
        assert self._next <= self.size, "fake guest out of memory"
        return addr

    def write(self, addr: int, data: bytes) -> None:
        self.mem[addr:addr + len(data)] = data

    def read(self, addr: int, length: int) -> bytes:
        return bytes(self.mem[addr:addr + length])

    def ring(self, size: int = 64) -> "FakeRing":
        return FakeRing(self, size)


class FakeRing:
    """The driver side of one split ring."""

    def __init__(self, guest: FakeGuest, size: int) -> None:
        self.guest = guest
        self.size = size
        self.desc = guest.alloc(16 * size, 4096)
        self.avail = guest.alloc(6 + 2 * size, 2)
        self.used = guest.alloc(6 + 8 * size, 4096)
        self.avail_idx = 0
        self.used_seen = 0
        self.free = 0                 # next descriptor slot (no reuse: tests are short)

    def queue(self, last_avail: int = 0) -> Virtqueue:
        return Virtqueue(self.guest.memory, self.size, USER_BASE + self.desc,
                         USER_BASE + self.avail, USER_BASE + self.used, last_avail)

    def put_desc(self, index: int, addr: int, length: int, flags: int, nxt: int) -> None:
        self.guest.write(self.desc + 16 * index, struct.pack("<QIHH", addr, length, flags, nxt))

    def publish(self, head: int) -> None:
        """Make a chain available (writes the avail ring entry, then the index)."""
        self.guest.write(self.avail + 4 + 2 * (self.avail_idx % self.size), struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.guest.write(self.avail + 2, struct.pack("<H", self.avail_idx))

    def set_avail_idx(self, value: int) -> None:
        self.guest.write(self.avail + 2, struct.pack("<H", value))

    def add_chain(self, segments: Sequence[Segment]) -> int:
        """Descriptors for ``segments`` (NEXT flags added), published; returns the head."""
        head = self.free % self.size
        for i, (addr, length, flags) in enumerate(segments):
            index = (self.free + i) % self.size
            last = i == len(segments) - 1
            self.put_desc(index, addr, length, flags | (0 if last else F_NEXT),
                          0 if last else (index + 1) % self.size)
        self.free += len(segments)
        self.publish(head)
        return head

    def used_entries(self) -> List[Tuple[int, int]]:
        """(head, length) entries the device added since the last call."""
        idx = struct.unpack_from("<H", self.guest.mem, self.used + 2)[0]
        out = []
        while self.used_seen != idx:
            slot = self.used + 4 + 8 * (self.used_seen % self.size)
            out.append(struct.unpack_from("<II", self.guest.mem, slot))
            self.used_seen = (self.used_seen + 1) & 0xFFFF
        return out

    def set_no_interrupt(self, on: bool) -> None:
        self.guest.write(self.avail, struct.pack("<H", 1 if on else 0))


def header(op: int, src_port: int = 5000, dst_port: int = 9000, length: int = 0,
           buf_alloc: int = 1 << 20, fwd_cnt: int = 0, flags: int = 0,
           src_cid: int = GUEST_CID, dst_cid: int = HOST_CID, type_: int = TYPE_STREAM) -> bytes:
    return HEADER.pack(src_cid, dst_cid, src_port, dst_port, length, type_, op, flags,
                       buf_alloc, fwd_cnt)


class FakeDriver:
    """A guest vsock driver over a tx ring and an rx ring: sends packets, posts rx buffers,
    reads what the device wrote into them."""

    def __init__(self, guest: FakeGuest, size: int = 64, rx_buf: int = 4096 + 44) -> None:
        self.guest = guest
        self.tx = guest.ring(size)
        self.rx = guest.ring(size)
        self.rx_buf = rx_buf
        self._rx_bufs: dict = {}

    def send(self, hdr: bytes, payload: bytes = b"") -> None:
        addr = self.guest.alloc(len(hdr) + len(payload))
        self.guest.write(addr, hdr + payload)
        self.tx.add_chain([(addr, len(hdr) + len(payload), 0)])

    def post_rx(self, count: int = 1) -> None:
        for _ in range(count):
            addr = self.guest.alloc(self.rx_buf)
            head = self.rx.add_chain([(addr, self.rx_buf, F_WRITE)])
            self._rx_bufs[head] = addr

    def received(self) -> List[Tuple[Header, bytes]]:
        out = []
        for head, length in self.rx.used_entries():
            data = self.guest.read(self._rx_bufs.pop(head), length)
            hdr = Header(*HEADER.unpack_from(data))
            out.append((hdr, data[44:]))
        return out


def packets_of(received: Sequence[Tuple[Header, bytes]], op: Optional[int] = None) -> List[Header]:
    return [h for h, _ in received if op is None or h.op == op]


__all__ = ["FakeGuest", "FakeRing", "FakeDriver", "header", "packets_of", "Op", "GUEST_CID",
           "USER_BASE", "F_WRITE", "F_NEXT"]
