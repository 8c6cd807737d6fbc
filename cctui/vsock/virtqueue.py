"""Split virtqueues read from guest memory: descriptor table, avail ring, used ring.

The guest writes all three, so nothing in them is trusted: heads and ``next``
indexes are range-checked, a chain may hold no more descriptors than the queue
(which also ends any loop), every buffer is checked against the memory table,
and an avail index that runs more than a queue ahead is an error. Any of these
raises DeviceError, which ends this VM's device.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import List, Optional

from .errors import DeviceError
from .memory import GuestMemory

DESC = struct.Struct("<QIHH")          # addr, len, flags, next
U16 = struct.Struct("<H")
USED_ELEM = struct.Struct("<II")       # id, len
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
AVAIL_F_NO_INTERRUPT = 1
MAX_SIZE = 32768                       # the split ring's limit


@dataclass
class Chain:
    """One popped descriptor chain: what the guest lets us read, then what it lets us write."""
    head: int
    readable: List[memoryview] = field(default_factory=list)
    writable: List[memoryview] = field(default_factory=list)

    def read_bytes(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of the readable part, gathered (headers may be split)."""
        out = bytearray()
        for view in self.readable:
            if len(out) >= limit:
                break
            out += view[:limit - len(out)]
        return bytes(out)

    @property
    def readable_len(self) -> int:
        return sum(len(v) for v in self.readable)

    @property
    def writable_len(self) -> int:
        return sum(len(v) for v in self.writable)


class Virtqueue:
    """The device side of one split ring."""

    def __init__(self, memory: GuestMemory, size: int, desc: int, avail: int, used: int,
                 last_avail: int = 0) -> None:
        if not 0 < size <= MAX_SIZE or size & (size - 1):
            raise DeviceError(f"queue size {size} is not a power of two up to {MAX_SIZE}")
        self.memory = memory
        self.size = size
        self.desc = memory.user_view(desc, DESC.size * size)
        self.avail = memory.user_view(avail, 6 + 2 * size)
        self.used = memory.user_view(used, 6 + USED_ELEM.size * size)
        self.last_avail = last_avail & 0xFFFF
        self.used_idx = U16.unpack_from(self.used, 2)[0]

    def pending(self) -> int:
        """How many chains the guest has made available that we have not popped."""
        avail_idx = U16.unpack_from(self.avail, 2)[0]
        count = (avail_idx - self.last_avail) & 0xFFFF
        if count > self.size:
            raise DeviceError(f"avail index runs {count} ahead of a queue of {self.size}")
        return count

    def pop(self) -> Optional[Chain]:
        """The next available chain, or None when the guest has made none available."""
        if not self.pending():
            return None
        slot = 4 + 2 * (self.last_avail % self.size)
        head = U16.unpack_from(self.avail, slot)[0]
        self.last_avail = (self.last_avail + 1) & 0xFFFF
        return self._walk(head)

    def unpop(self) -> None:
        """Give back the chain just popped (nothing was written to it)."""
        self.last_avail = (self.last_avail - 1) & 0xFFFF

    def _walk(self, head: int) -> Chain:
        chain = Chain(head)
        index = head
        for _ in range(self.size):
            if index >= self.size:
                raise DeviceError(f"descriptor index {index} outside a queue of {self.size}")
            addr, length, flags, nxt = DESC.unpack_from(self.desc, DESC.size * index)
            if flags & F_INDIRECT:
                raise DeviceError("indirect descriptor, which was not negotiated")
            view = self.memory.view(addr, length)
            if flags & F_WRITE:
                chain.writable.append(view)
            elif chain.writable:
                raise DeviceError("a readable descriptor after a writable one")
            else:
                chain.readable.append(view)
            if not flags & F_NEXT:
                return chain
            index = nxt
        raise DeviceError(f"descriptor chain longer than the queue ({self.size}): a loop?")

    def push(self, head: int, written: int) -> None:
        """Hand a chain back to the guest, saying how many bytes we wrote into it."""
        slot = 4 + USED_ELEM.size * (self.used_idx % self.size)
        USED_ELEM.pack_into(self.used, slot, head, written)
        self.used_idx = (self.used_idx + 1) & 0xFFFF
        U16.pack_into(self.used, 2, self.used_idx)     # x86 keeps stores in order

    def wants_interrupt(self) -> bool:
        """False while the guest has asked not to be interrupted (VRING_AVAIL_F_NO_INTERRUPT)."""
        return not U16.unpack_from(self.avail, 0)[0] & AVAIL_F_NO_INTERRUPT
