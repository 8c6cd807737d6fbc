"""Where cctui keeps its caches and per-VM state (XDG conventions)."""
from __future__ import annotations

import os
import shutil
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

    Kept short because unix socket paths are limited to 107 bytes. It records
    the owning process, so directories left by a killed process are swept.
    """
    base = os.environ.get("XDG_RUNTIME_DIR")
    if not base or not os.access(base, os.W_OK):
        base = tempfile.gettempdir()
    _sweep_orphaned(Path(base))
    path = Path(tempfile.mkdtemp(prefix="cctui-", dir=base))
    (path / "owner.pid").write_text(str(os.getpid()))
    return path


def _sweep_orphaned(base: Path) -> None:
    for path in base.glob("cctui-*"):
        try:
            pid = int((path / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
