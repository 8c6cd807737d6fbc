"""The background event loop that the blocking facade runs the async core on."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Coroutine, Optional, TypeVar

T = TypeVar("T")

_loop: Optional[asyncio.AbstractEventLoop] = None
_lock = threading.Lock()


def loop() -> asyncio.AbstractEventLoop:
    """The shared loop, started on first use in a daemon thread that lives with the process.

    QEMU is forked from this thread with PDEATHSIG, so the thread must never exit
    before the process does.
    """
    global _loop
    with _lock:
        if _loop is None:
            new = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(new)
                new.call_soon(ready.set)
                new.run_forever()

            threading.Thread(target=run, name="cctui-loop", daemon=True).start()
            ready.wait()
            _loop = new
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: Optional[float] = None) -> T:
    """Run a coroutine on the shared loop and block for its result."""
    target = loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is target:
        coro.close()
        raise RuntimeError("blocking cctui call made from inside its own event loop; "
                           "use cctui.aio in async code")
    return asyncio.run_coroutine_threadsafe(coro, target).result(timeout)

