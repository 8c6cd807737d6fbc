"""Where the server's socket lives: a directory only its user can enter.

``$CCTUI_SOCKET_DIR`` (tests use a private one), else ``$XDG_RUNTIME_DIR/cctui``,
else ``/tmp/cctui-UID``; created 0700, and refused when another user owns it or
others may enter it (someone could otherwise put their own socket there).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import Error

SOCKET_NAME = "default"         # tmux's name for the default server's socket


class SocketDirError(Error):
    """The socket directory is not safe to use; the message says why."""


def socket_dir() -> Path:
    override = os.environ.get("CCTUI_SOCKET_DIR")
    if override:
        path = Path(override)
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        path = Path(runtime, "cctui") if runtime and os.path.isdir(runtime) else Path(f"/tmp/cctui-{os.getuid()}")
    try:
        path.mkdir(mode=0o700, parents=False, exist_ok=True)
    except FileNotFoundError:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SocketDirError(f"cannot create the socket directory {path}: {exc}") from None
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise SocketDirError(f"{path} is not a directory")
    if info.st_uid != os.getuid():
        raise SocketDirError(f"{path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()}): "
                             "refusing to use it")
    if info.st_mode & 0o077:
        raise SocketDirError(f"{path} has mode {stat.S_IMODE(info.st_mode):o}: others may enter it; "
                             f"`chmod 700 {path}` if that is yours")
    return path


def socket_path() -> Path:
    return socket_dir() / SOCKET_NAME


def lock_path() -> Path:
    """Held (flock) by the live server: free means any socket there is stale."""
    return socket_dir() / (SOCKET_NAME + ".lock")


def log_path() -> Path:
    return socket_dir() / (SOCKET_NAME + ".log")
