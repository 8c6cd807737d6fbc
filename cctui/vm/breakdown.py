"""Where a boot's time went: host clocks around QEMU, the guest's own uptime marks.

The guest's marks (``init`` ... ``ready``) are the kernel's uptime, which starts
at zero when the kernel starts keeping time; the host knows when it spawned
QEMU and when the boot returned. Between them: firmware and loading the kernel.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

# (mark, phase that ends at it, what is in that phase)
PHASES = [
    ("init", "kernel to init", "the kernel's own start-up, unpacking the initramfs"),
    ("modules", "modules", "insmod of the virtio, 9p and overlay modules"),
    ("mounts", "mounts", "9p root, tmpfs overlay, copying the agent"),
    ("python", "Python start", "exec of the interpreter, its start-up imports"),
    ("ready", "agent ready", "the agent's imports, opening its port"),
]


@dataclass(frozen=True)
class Breakdown:
    rows: List[Tuple[str, float, str]]     # (phase, seconds, what is in it)
    total: float

    def table(self) -> str:
        width = max(len(name) for name, _, _ in self.rows)
        lines = [f"{name:<{width}}  {seconds:6.2f} s  {why}" for name, seconds, why in self.rows]
        lines.append(f"{'total':<{width}}  {self.total:6.2f} s  boot() call to a ready agent")
        return "\n".join(lines)


def process_start(pid: int) -> Optional[float]:
    """When a process started, on the CLOCK_BOOTTIME scale (10 ms resolution), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read(4096)
        fields = stat[stat.rindex(b")") + 2:].split()
        return int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def breakdown(called: float, returned: float, qemu_started: Optional[float],
              marks: Dict[str, float]) -> Breakdown:
    """Host times on the CLOCK_BOOTTIME scale; ``marks`` as the HELLO gave them."""
    rows: List[Tuple[str, float, str]] = []
    start = qemu_started if qemu_started is not None else called
    rows.append(("host set-up", max(0.0, start - called),
                 "find the kernel, build or reuse the initramfs, spawn QEMU"))
    previous = 0.0
    guest: List[Tuple[str, float, str]] = []
    for mark, name, why in PHASES:
        if mark in marks and marks[mark] >= previous:
            guest.append((name, marks[mark] - previous, why))
            previous = marks[mark]
    rows.append(("firmware, kernel load", max(0.0, returned - start - previous),
                 "QEMU start-up, firmware, loading (and decompressing) the kernel; "
                 "the HELLO's trip"))
    rows += guest
    return Breakdown(rows, returned - called)
