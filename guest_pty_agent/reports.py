"""What the side panels show: the working directory, environment and name of the
process in the foreground of an exec's pty, read from /proc."""
from __future__ import annotations

import os

from .protocol import MAX_REPORT_ENV

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Any, Dict, Optional

MAX_ENVIRON = MAX_REPORT_ENV     # larger environments are reported as null
MAX_COMM = 16                    # TASK_COMM_LEN: the kernel keeps 15 bytes and a NUL


MAX_DEPTH = 16                   # children followed down from the group's leader


def foreground_pid(master_fd: int, fallback: int) -> int:
    """The process that runs in the foreground now: the foreground group's leader (its
    pgid), or the exec's own pid, then down to its newest child in that group.

    A shell without job control yet (reading its rc file) keeps what it runs in its
    own group: following its children names ``pyenv``, not the waiting ``bash``."""
    try:
        pgid = os.tcgetpgrp(master_fd)
    except OSError:
        return fallback
    if pgid <= 0 or not os.path.exists(f"/proc/{pgid}"):
        return fallback
    return newest_in_group(pgid, pgid)


def newest_in_group(pid: int, pgid: int) -> int:
    for _ in range(MAX_DEPTH):
        try:
            with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
                kids = [int(k) for k in f.read(4096).split()]
        except (OSError, ValueError):          # no CONFIG_PROC_CHILDREN, or gone
            return pid
        kids = [k for k in kids if _pgrp(k) == pgid]
        if not kids:
            return pid
        pid = max(kids)                        # the newest, but for a pid wrap
    return pid


def _pgrp(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read(4096)
        return int(stat[stat.rindex(b")") + 2:].split()[2])
    except (OSError, ValueError, IndexError):
        return -1


def read_environ(pid: int) -> Optional[Dict[str, str]]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read(MAX_ENVIRON + 1)
    except OSError:
        return None
    if len(raw) > MAX_ENVIRON:
        return None
    env: Dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep and name:
            env[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return env


def read_comm(pid: int) -> Optional[str]:
    """The process's name as the kernel keeps it (tmux's pane_current_command).

    Any bytes but NUL and newline (prctl or /proc/PID/comm set it freely): invalid
    UTF-8 is replaced, control characters travel and the host shows them escaped."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            raw = f.read(MAX_COMM + 1)
    except OSError:
        return None
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    return raw[:MAX_COMM].decode("utf-8", "replace")


def snapshot(pid: int) -> Optional[Dict[str, Any]]:
    """A REPORT payload, or None when the process is already gone."""
    try:
        cwd: Optional[str] = os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        return None
    except OSError:
        cwd = None
    return {"pid": pid, "cwd": cwd, "env": read_environ(pid), "comm": read_comm(pid)}


def inside_root(path: str, root: str) -> str:
    """A path as a chrooted process sees it (its cwd is read from outside)."""
    root = root.rstrip("/")
    if path == root:
        return "/"
    if path.startswith(root + "/"):
        return path[len(root):]
    return path
