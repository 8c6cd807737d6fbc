"""Being init: adopting orphans and powering the VM off."""
from __future__ import annotations

import os
import sys

PR_SET_CHILD_SUBREAPER = 36
RB_POWER_OFF = 0x4321FEDC


def _libc():
    import ctypes          # only needed as init; keeps plain runs light
    return ctypes.CDLL(None, use_errno=True)


def become_subreaper() -> None:
    """Outside PID 1, --init still collects orphaned grandchildren."""
    if os.getpid() != 1:
        try:
            _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def power_off() -> None:
    """As PID 1: sync and power off (never returns). Otherwise just return."""
    if os.getpid() != 1:
        return
    import ctypes
    os.sync()
    _libc().reboot(RB_POWER_OFF)
    print(f"guest_pty_agent: reboot(POWER_OFF) failed: {os.strerror(ctypes.get_errno())}",
          file=sys.stderr)
    os._exit(1)
