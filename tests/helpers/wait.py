"""Waiting for a condition that another process or task makes true (a guest, an agent,
the app's event loop), with a deadline that names what never happened."""
from __future__ import annotations

import asyncio
import time
from typing import Callable


async def until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    """``wait_until`` for async tests: the event loop keeps running while we poll."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        await asyncio.sleep(0.05)


def wait_until(predicate: Callable[[], object], timeout: float = 30.0,
               interval: float = 0.05, what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
