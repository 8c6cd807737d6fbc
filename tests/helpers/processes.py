"""Whether a process still runs, as the tests mean it: a zombie (dead, not yet reaped
by its parent) has ended."""
from __future__ import annotations


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_exit(pid: int, timeout: float) -> bool:
    """True once ``pid`` has exited (a pidfd turns readable: an event, not a poll)."""
    import os
    import select
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)
