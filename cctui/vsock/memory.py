"""Guest memory as QEMU shares it: regions of fds, mapped shared.

Every guest address the device touches comes from the guest, so every address and
length is checked against the table here, before any byte is read or written.
"""
from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from .errors import DeviceError

MAX_REGIONS = 8                        # VHOST_MEMORY_BASELINE_NREGIONS
U64 = (1 << 64) - 1


@dataclass(frozen=True)
class Region:
    """One memory region of SET_MEM_TABLE (struct vhost_user_memory_region)."""
    guest_addr: int
    size: int
    user_addr: int                     # QEMU's own virtual address (ring addresses use it)
    mmap_offset: int

    FORMAT = struct.Struct("<QQQQ")

    @classmethod
    def unpack(cls, data: bytes) -> "Region":
        return cls(*cls.FORMAT.unpack(data))


class GuestMemory:
    """The mapped regions; ``view`` turns a guest (address, length) into bytes we may touch."""

    def __init__(self) -> None:
        self._maps: List[Tuple[Region, mmap.mmap, memoryview]] = []

    @classmethod
    def map(cls, regions: Sequence[Region], fds: Sequence[int]) -> "GuestMemory":
        """Map each region's fd shared; the fds are closed here (the maps keep the memory)."""
        memory = cls()
        try:
            if len(regions) != len(fds) or not 0 < len(regions) <= MAX_REGIONS:
                raise DeviceError(f"memory table: {len(regions)} regions with {len(fds)} fds")
            for region, fd in zip(regions, fds):
                memory._add(region, fd)
        except (OSError, ValueError, OverflowError) as exc:
            memory.close()
            raise DeviceError(f"memory table: cannot map a region: {exc}") from None
        except DeviceError:
            memory.close()
            raise
        finally:
            for fd in fds:
                os.close(fd)
        return memory

    def _add(self, region: Region, fd: int) -> None:
        if region.size == 0 or region.guest_addr + region.size - 1 > U64 \
                or region.user_addr + region.size - 1 > U64:
            raise DeviceError(f"memory table: region {region} is empty or wraps")
        for other, _, _ in self._maps:
            if region.guest_addr < other.guest_addr + other.size and \
                    other.guest_addr < region.guest_addr + region.size:
                raise DeviceError("memory table: regions overlap")
        if os.fstat(fd).st_size < region.mmap_offset + region.size:
            # Touching a mapping past the file's end is SIGBUS, which would end us.
            raise DeviceError(f"memory table: region {region} runs past its fd's end")
        # mmap needs a page-aligned offset: map from the page below and skip the rest.
        start = region.mmap_offset - region.mmap_offset % mmap.ALLOCATIONGRANULARITY
        skip = region.mmap_offset - start
        mapped = mmap.mmap(fd, region.size + skip, mmap.MAP_SHARED,
                           mmap.PROT_READ | mmap.PROT_WRITE, offset=start)
        view = memoryview(mapped)[skip:skip + region.size]
        self._maps.append((region, mapped, view))

    def view(self, addr: int, length: int) -> memoryview:
        """The guest-physical range [addr, addr+length) as a writable view, or DeviceError."""
        if length < 0 or addr < 0 or addr + length - 1 > U64:
            raise DeviceError(f"guest range {addr:#x}+{length} wraps")
        for region, _, view in self._maps:
            offset = addr - region.guest_addr
            if 0 <= offset and offset + length <= region.size:
                return view[offset:offset + length]
        raise DeviceError(f"guest range {addr:#x}+{length} is outside guest memory")

    def user_view(self, user_addr: int, length: int) -> memoryview:
        """A range given in QEMU's address space (SET_VRING_ADDR), checked the same way."""
        for region, _, view in self._maps:
            offset = user_addr - region.user_addr
            if 0 <= offset and offset + length <= region.size:
                return view[offset:offset + length]
        raise DeviceError(f"ring address {user_addr:#x}+{length} is outside the memory table")

    def close(self) -> None:
        """Unmap; views handed out before must be gone (rings are rebuilt after a new table)."""
        maps, self._maps = self._maps, []
        for _, mapped, view in maps:
            view.release()
            try:
                mapped.close()
            except BufferError:         # a view still exported: the GC unmaps it later
                pass
