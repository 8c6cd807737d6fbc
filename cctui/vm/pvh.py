"""The uncompressed kernel for PVH direct boot, extracted once from the bzImage.

A Debian bzImage carries its kernel as one XZ stream; under TCG the guest spends
seconds decompressing it on every boot (and the firmware copying it). QEMU can
instead load an ELF ``vmlinux`` that has a Xen PVH entry note straight into
guest memory. We extract it with Python's ``lzma`` once, check it really is
such an ELF, and cache it; anything else falls back to the bzImage.
"""
from __future__ import annotations

import hashlib
import lzma
import os
import struct
from pathlib import Path
from typing import Iterator, Optional, Tuple

from ..paths import cache_dir

XZ_MAGIC = b"\xfd7zXZ\x00"
ELF_MAGIC = b"\x7fELF"
XEN_ELFNOTE_PHYS32_ENTRY = 18
PT_NOTE = 4
MAX_VMLINUX = 512 * 1024 * 1024     # a kernel bigger than this is not one we boot
MAX_NOTES = 64 * 1024               # bytes of one PT_NOTE segment we read


def _program_headers(elf: bytes) -> Iterator[Tuple[int, int, int]]:
    """(type, file offset, file size) of each program header of a 64-bit LE ELF."""
    if len(elf) < 64 or elf[:4] != ELF_MAGIC or elf[4] != 2 or elf[5] != 1:
        return
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    if phentsize < 56:
        return
    for i in range(min(phnum, 64)):
        at = phoff + i * phentsize
        if at + 56 > len(elf):
            return
        ptype, _, offset, _, _, filesz = struct.unpack_from("<IIQQQQ", elf, at)
        yield ptype, offset, filesz


def load_end(path: Path) -> int:
    """The highest guest-physical byte the ELF's segments occupy (0 if unknown)."""
    with open(path, "rb") as f:
        head = f.read(8192)
    end = 0
    if len(head) < 64 or head[:4] != ELF_MAGIC:
        return 0
    phoff, = struct.unpack_from("<Q", head, 32)
    phentsize, phnum = struct.unpack_from("<HH", head, 54)
    for i in range(min(phnum, 64)):
        at = phoff + i * phentsize
        if phentsize < 56 or at + 56 > len(head):
            break
        ptype, _, _, _, paddr, _, memsz = struct.unpack_from("<IIQQQQQ", head, at)
        if ptype == 1:                                   # PT_LOAD
            end = max(end, paddr + memsz)
    return end


def pvh_entry(elf: bytes) -> Optional[int]:
    """The PVH 32-bit entry point from the Xen PHYS32_ENTRY note, or None."""
    for ptype, offset, size in _program_headers(elf):
        if ptype != PT_NOTE:
            continue
        notes = elf[offset:offset + min(size, MAX_NOTES)]
        at = 0
        while at + 12 <= len(notes):
            namesz, descsz, ntype = struct.unpack_from("<III", notes, at)
            name_at = at + 12
            desc_at = name_at + (namesz + 3) // 4 * 4
            end = desc_at + (descsz + 3) // 4 * 4
            if end > len(notes):
                break
            name = notes[name_at:name_at + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY and descsz in (4, 8):
                fmt = "<I" if descsz == 4 else "<Q"
                return struct.unpack_from(fmt, notes, desc_at)[0]
            at = end
    return None


def extract_vmlinux(bzimage: bytes) -> Optional[bytes]:
    """The ELF inside a bzImage's XZ payload, or None when there is none."""
    start = bzimage.find(XZ_MAGIC)
    while start >= 0:
        decomp = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        try:
            out = decomp.decompress(bzimage[start:], MAX_VMLINUX)
        except lzma.LZMAError:
            out = b""
        if decomp.eof and out[:4] == ELF_MAGIC:
            return out
        start = bzimage.find(XZ_MAGIC, start + 1)
    return None


def _cache_path(image: Path) -> Path:
    st = image.stat()
    key = hashlib.sha256(f"{image.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return cache_dir() / "vmlinux" / f"{image.name}-{key.hexdigest()[:16]}.elf"


def pvh_kernel(image: Path) -> Optional[Path]:
    """A cached PVH-bootable ELF for this bzImage (extracted on first use), or None.

    None means: boot the bzImage as before (not XZ, no PVH note, unreadable).
    A negative result is cached too, so a kernel without PVH costs one try.
    """
    target = _cache_path(image)
    failed = target.with_suffix(".none")
    if target.exists():
        return target
    if failed.exists():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    elf = extract_vmlinux(image.read_bytes())
    if elf is None or pvh_entry(elf) is None:
        failed.touch()
        return None
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(elf)
    os.replace(tmp, target)
    # Older extractions of a kernel by this name go after a day (not at once: two
    # kernels of the same name, say /boot's and a fetched one, would take turns).
    for old in target.parent.glob(f"{image.name}-*"):
        if (old != target and old.suffix in (".elf", ".none")
                and old.stat().st_mtime < target.stat().st_mtime - 86400):
            old.unlink(missing_ok=True)
    return target
