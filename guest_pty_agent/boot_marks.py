"""The kernel's uptime at each boot step, for the host's boot breakdown.

The init passes its marks (init start, modules loaded, mounts done) on our
command line; we add when Python started running our code and when the agent
was ready to greet the host. Uptime is the clock the kernel starts at zero, so
the host can tell firmware and kernel time from everything after.
"""
from __future__ import annotations

# No typing import: it costs a third of a second under TCG, before our first mark.
MARKS: dict[str, float] = {}
MAX_MARKS = 8


def uptime() -> float | None:
    """Seconds since the kernel started (CLOCK_BOOTTIME), or None off Linux."""
    try:
        with open("/proc/uptime", "rb") as f:
            return float(f.read(64).split()[0])
    except (OSError, ValueError, IndexError):
        return None


def mark(name: str) -> None:
    """Record the uptime now as ``name`` (first time only)."""
    now = uptime()
    if now is not None and name not in MARKS and len(MARKS) < MAX_MARKS:
        MARKS[name] = now


def add_from_arg(text: str) -> None:
    """``init=1.23,modules=2.34,...`` from the init's command line."""
    for item in text.split(",")[:MAX_MARKS]:
        name, _, value = item.partition("=")
        try:
            seconds = float(value)
        except ValueError:
            continue
        if name and name not in MARKS and len(MARKS) < MAX_MARKS:
            MARKS[name] = seconds
