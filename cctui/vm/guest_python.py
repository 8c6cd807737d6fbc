"""The interpreter the guest runs the agent with, and what of it the initramfs carries.

Under TCG every page of libpython and every extension module the agent loads over
9p is a round trip to the host; from the initramfs they are already in guest RAM.
The initramfs carries a stripped copy of libpython (the init bind-mounts it over
the same path in the root, so the interpreter, ``sys.prefix`` and every guest
command see no difference but the missing symbols) and the agent's extension
modules (on its private PYTHONPATH, like the stdlib zip).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

MAX_LIBRARY = 32 << 20       # a stripped libpython is ~6 MB; more would slow the unpack


def base_python() -> str:
    """Ours, outside any venv: the host root the guest sees has it at the same path,
    and the agent's bytecode is compiled for it."""
    exe = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(exe)


def shared_library() -> Optional[Path]:
    """libpython of ``base_python`` (the running interpreter's installation), or None
    for a static build."""
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        return None
    libdir, name = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if not libdir or not name:
        return None
    path = Path(libdir) / name
    return Path(os.path.realpath(path)) if path.is_file() else None


def stripped(path: Path) -> Optional[bytes]:
    """``path`` without its symbols (``strip --strip-unneeded``), or None when there
    is no strip or the result is still too big to be worth carrying."""
    strip = shutil.which("strip")
    if strip is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / path.name
        try:
            done = subprocess.run([strip, "--strip-unneeded", "-o", str(target), str(path)],
                                  capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0 or not target.is_file() or target.stat().st_size > MAX_LIBRARY:
            return None
        return target.read_bytes()


def identity(paths: List[Path]) -> List[Tuple[str, int, int]]:
    """(path, size, mtime) of each file: what the initramfs's cache key needs to be
    rebuilt when the host's Python is upgraded or rebuilt in place."""
    found = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        found.append((str(path), st.st_size, st.st_mtime_ns))
    return found


def dynload_files() -> List[Path]:
    """The interpreter's extension modules (its lib-dynload), for the cache key."""
    dest = sysconfig.get_config_var("DESTSHARED")
    if not dest or not os.path.isdir(dest):
        return []
    return sorted(Path(dest).iterdir())
