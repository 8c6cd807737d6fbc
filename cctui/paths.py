"""Where cctui keeps its caches and per-VM state (XDG conventions)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """Kernels, initramfs images and unpacked images: safe to delete, rebuilt on demand."""
    base = os.environ.get("CCTUI_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cctui")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """The user's themes and remembered settings."""
    base = os.environ.get("CCTUI_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "cctui")
    return Path(base)


def new_state_dir() -> Path:
    """A private directory for one VM's sockets and console log.

    Kept short because unix socket paths are limited to 107 bytes.
    """
    base = os.environ.get("XDG_RUNTIME_DIR")
    if not base or not os.access(base, os.W_OK):
        base = tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix="cctui-", dir=base))
