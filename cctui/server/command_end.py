"""How a guest command ended, for the pane and exec code that both wait on one."""
from __future__ import annotations

from typing import Any, Optional

from ..errors import Error, ExitError


async def wait_for_exit(cmd: Any) -> Optional[Error]:
    """None once the command exited (its exit status says how, a failing one included);
    the error when it was lost before exiting (its VM or its agent went)."""
    try:
        await cmd.wait()
    except ExitError:
        pass
    except Error as exc:
        if not cmd.exited:
            return exc
    return None
