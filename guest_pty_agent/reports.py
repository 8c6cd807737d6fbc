"""What the side panels show: the working directory and environment of the
process in the foreground of an exec's pty, read from /proc."""
from __future__ import annotations

import os

from .protocol import MAX_REPORT_ENV

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Any, Dict, Optional

MAX_ENVIRON = MAX_REPORT_ENV     # larger environments are reported as null


def foreground_pid(master_fd: int, fallback: int) -> int:
    """The foreground process group's leader (its pgid), or the exec's own pid."""
    try:
        pgid = os.tcgetpgrp(master_fd)
    except OSError:
        return fallback
    return pgid if pgid > 0 and os.path.exists(f"/proc/{pgid}") else fallback


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


def snapshot(pid: int) -> Optional[Dict[str, Any]]:
    """A REPORT payload, or None when the process is already gone."""
    try:
        cwd: Optional[str] = os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        return None
    except OSError:
        cwd = None
    return {"pid": pid, "cwd": cwd, "env": read_environ(pid)}


def inside_root(path: str, root: str) -> str:
    """A path as a chrooted process sees it (its cwd is read from outside)."""
    root = root.rstrip("/")
    if path == root:
        return "/"
    if path.startswith(root + "/"):
        return path[len(root):]
    return path
