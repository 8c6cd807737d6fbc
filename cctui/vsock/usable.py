"""Whether this host can run the userspace vsock: QEMU's vhost-user-vsock device and memfd."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess


@functools.lru_cache(maxsize=None)
def vsock_user_problem() -> str:
    """"" when QEMU offers vhost-user-vsock-pci and memfds exist, else why not.

    Asked once per process (``-device help`` costs QEMU ~0.1 s)."""
    if not hasattr(os, "memfd_create"):
        return "this Python has no os.memfd_create (QEMU's shared guest memory needs it)"
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        return "qemu-system-x86_64 not found"
    try:
        out = subprocess.run([qemu, "-device", "help"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not ask QEMU for its devices: {exc}"
    if '"vhost-user-vsock-pci"' not in out:
        return "this QEMU has no vhost-user-vsock-pci device"
    return ""
