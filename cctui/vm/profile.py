"""Which boot-speed levers a VM boots with.

Every lever is on by default (each won its bench row: see the README's boot
table). ``CCTUI_BOOT`` turns them off or on, for the bench's per-lever rows and
for a user whose machine dislikes one: ``CCTUI_BOOT=-pvh`` boots the bzImage,
``CCTUI_BOOT=baseline,+pvh`` only adds PVH to the old way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..errors import HypervisorUnavailable

QBOOT = Path("/usr/share/qemu/qboot.rom")

# Kernel parameters that skip work a VM does not need (self-tests, zeroing,
# probing for serial ports and a PS/2 mouse that are not there).
FAST_APPEND = ["cryptomgr.notests", "init_on_alloc=0", "8250.nr_uarts=1",
               "i8042.noaux", "i8042.nomux", "i8042.nopnp", "i8042.dumbkbd"]

# Kernel start-up a cctui guest does not need, seen with initcall_debug under TCG:
# write-protecting the kernel's rodata and then walking every page table to check
# for W+X mappings (0.13 s), the kprobe tracing files (0.07 s) and a self-test of
# the SP800-108 KDF (0.05 s). The guest kernel is not a boundary cctui relies on
# (QEMU is), so its rodata hardening is not worth a tenth of every boot.
KERNEL_TRIM = ["rodata=off", "initcall_blacklist=init_kprobe_trace,crypto_kdf108_init"]

# The order the bench adds levers to the baseline, one row each.
LEVER_ORDER = ["pvh", "qboot", "fast_append", "raw_initramfs", "lean_modules", "stdlib_zip",
               "tsc", "kernel_trim", "module_lanes", "agent_extensions", "python_files",
               "microvm"]


@dataclass(frozen=True)
class BootProfile:
    pvh: bool = True            # the extracted vmlinux, loaded directly (no decompression)
    qboot: bool = True          # qboot instead of SeaBIOS when QEMU ships it
    fast_append: bool = True    # FAST_APPEND on the kernel command line
    raw_initramfs: bool = True  # an uncompressed cpio: no gunzip in the guest
    lean_modules: bool = True   # vsock modules only when vsock is used
    stdlib_zip: bool = True     # the agent's stdlib modules as one zip in the initramfs
    tsc: bool = True            # TCG: the host's TSC rate and tsc=reliable (no PIT/HPET)
    kernel_trim: bool = True    # KERNEL_TRIM on the kernel command line
    module_lanes: bool = True   # vsock modules load while the root mounts; no virtio_console
    agent_extensions: bool = False  # the agent's extension modules in the initramfs
    python_files: bool = False  # a stripped libpython in the initramfs, bind-mounted
    microvm: bool = False       # -M microvm (virtio-mmio); see README for why it is off

    @classmethod
    def baseline(cls) -> "BootProfile":
        """The boot before these levers: every one off."""
        return cls(**{f.name: False for f in fields(cls)})

    @classmethod
    def parse(cls, text: str) -> "BootProfile":
        """``baseline``, ``+lever``, ``-lever``, comma-separated, applied in order."""
        profile = cls()
        names = {f.name for f in fields(cls)}
        for token in (t.strip() for t in text.split(",")):
            if not token:
                continue
            if token == "baseline":
                profile = cls.baseline()
                continue
            on, name = token[0] != "-", token.lstrip("+-").replace("-", "_")
            if name not in names:
                raise HypervisorUnavailable(
                    f"CCTUI_BOOT: unknown lever {name!r} (known: {', '.join(sorted(names))})")
            profile = replace(profile, **{name: on})
        return profile

    @classmethod
    def from_env(cls) -> "BootProfile":
        return cls.parse(os.environ.get("CCTUI_BOOT", ""))

    def firmware(self) -> "Path | None":
        """The -bios image, or None for QEMU's default (SeaBIOS)."""
        return QBOOT if self.qboot and not self.microvm and QBOOT.exists() else None

    def describe(self) -> str:
        on = [f.name for f in fields(self) if getattr(self, f.name)]
        return ", ".join(on) or "baseline"
