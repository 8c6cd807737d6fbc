"""What QEMU boots: the kernel image and initramfs for a boot profile."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from .initramfs import initramfs_for
from .kernel import Kernel, kernel_hz
from .profile import BootProfile
from .pvh import load_end, pvh_kernel
from .qemu import host_tsc_khz

# PVH loads the kernel where it will run, so guest memory must hold it and leave
# the kernel room to start. A smaller VM boots as before these levers (bzImage,
# SeaBIOS): when it is too small for any kernel, SeaBIOS at least writes to the
# console log that is kept, where PVH and qboot die without a byte.
PVH_HEADROOM = 64 << 20


@dataclass(frozen=True)
class BootFiles:
    image: Path              # the PVH vmlinux, or the bzImage
    initrd: Path
    profile: BootProfile     # as used: pvh is off when the kernel has no PVH entry
    kernel_hz: Optional[int] = None   # CONFIG_HZ, for lpj= (see QemuConfig)


def boot_files(kernel: Kernel, memory_mb: int = 1024,
               profile: Optional[BootProfile] = None) -> BootFiles:
    """Extract (once) and build (once) what this profile boots; both are cached."""
    profile = profile or BootProfile.from_env()
    if profile.microvm and host_tsc_khz() is None:
        profile = replace(profile, microvm=False)     # it could hang calibrating (qemu.py)
    image = kernel.image
    if profile.pvh:
        pvh = pvh_kernel(kernel.image)
        if pvh is None:
            profile = replace(profile, pvh=False)
        elif load_end(pvh) + PVH_HEADROOM > memory_mb << 20:
            profile = replace(profile, pvh=False, qboot=False)
        else:
            image = pvh
    return BootFiles(image, initramfs_for(kernel, profile), profile, kernel_hz(kernel))
