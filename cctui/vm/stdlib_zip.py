"""The stdlib modules the guest agent imports, compiled into one zip.

The guest's interpreter otherwise finds each of them over 9p (stat, open and
read of source and bytecode for about a hundred modules, every one a round trip
to the host under TCG). From one zip in the initramfs's tmpfs they cost nothing
like that. The zip goes on the agent's private PYTHONPATH, so commands run in
the guest never see it. Only pure-Python modules go in; the extension modules
the agent loads are listed beside it (``stdlib_bundle``) so the initramfs can carry
them too (see guest_python.py).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import List, Optional, Tuple

# Run by the guest's interpreter (so the bytecode is its own): import everything
# the agent may import, then zip the stdlib modules that came from .py files.
_BUILDER = r"""
import importlib.util, os, sys, zipfile
target = sys.argv[1]
stdlib = os.path.dirname(os.__file__)
import guest_pty_agent, pkgutil
for m in pkgutil.iter_modules(guest_pty_agent.__path__):
    __import__("guest_pty_agent." + m.name)
import ctypes, ptyprocess, socket, glob, _thread
import encodings.utf_8, encodings.aliases, encodings.latin_1, encodings.ascii
from importlib._bootstrap_external import _code_to_hash_pyc
with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zf:
    for name, mod in sorted(sys.modules.items()):
        path = getattr(mod, "__file__", None) or ""
        if not path.endswith(".py") or not path.startswith(stdlib + os.sep) or "-packages" in path:
            continue
        if getattr(mod, "__name__", None) != name or name.startswith("_frozen"):
            continue            # os.path is posixpath; frozen modules need no file
        with open(path, "rb") as f:
            source = f.read()
        code = compile(source, path, "exec", dont_inherit=True)
        pyc = _code_to_hash_pyc(code, importlib.util.source_hash(source), False)
        inner = name.replace(".", "/") + ("/__init__.pyc" if hasattr(mod, "__path__") else ".pyc")
        zf.writestr(inner, pyc)
dynload = os.path.join(stdlib, "lib-dynload") + os.sep
for name, mod in sorted(sys.modules.items()):
    path = getattr(mod, "__file__", None) or ""
    if path.startswith(dynload) and path.endswith(".so"):
        print(path)
"""
MAX_EXTENSIONS = 64     # what the builder may name; it prints one path a line


def stdlib_zip(python: str, pythonpath: List[str]) -> Optional[bytes]:
    """The zip for the guest interpreter ``python``, or None if it cannot be built."""
    bundle = stdlib_bundle(python, pythonpath)
    return None if bundle is None else bundle[0]


def stdlib_bundle(python: str, pythonpath: List[str]) -> Optional[Tuple[bytes, List[str]]]:
    """(the zip, the lib-dynload extension modules the agent imports) for the guest
    interpreter ``python``, or None if it cannot be built."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath), PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "stdlib.zip")
        try:
            done = subprocess.run([python, "-S", "-c", _BUILDER, target], capture_output=True,
                                  env=env, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0 or not zipfile.is_zipfile(target):
            return None
        lines = done.stdout.decode("utf-8", "replace").splitlines()
        extensions = [line for line in lines[:MAX_EXTENSIONS]
                      if line.endswith(".so") and os.path.isfile(line)]
        return Path(target).read_bytes(), extensions
