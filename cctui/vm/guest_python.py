"""The interpreter the guest runs the agent with."""
from __future__ import annotations

import os
import sys


def base_python() -> str:
    """Ours, outside any venv: the host root the guest sees has it at the same path,
    and the agent's bytecode is compiled for it."""
    exe = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(exe)
