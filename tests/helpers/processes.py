"""Whether a process still runs, as the tests mean it: a zombie (dead, not yet reaped
by its parent) has ended."""
from __future__ import annotations


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False
