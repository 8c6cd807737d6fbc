"""Shared fixtures: real VMs under TCG (or KVM where usable), one per test module."""
from __future__ import annotations

import asyncio
import time
from typing import Callable, Iterator

import pytest

import cctui

# CPython 3.11.7's AST compiler keeps a process-wide recursion counter
# (cpython#106905): an import that pytest rewrites while another thread compiles
# can fail with "AST constructor recursion depth mismatch". Hypothesis's plugin
# imports this lazily at the session's end; import it up front instead.
import hypothesis.internal.observability  # noqa: E402,F401


def pytest_configure(config: pytest.Config) -> None:
    """Test tiers: ``-m "not vm"`` runs in seconds; ``-m fuzz`` is the bounded fuzz tier."""
    config.addinivalue_line("markers", "vm: boots a real VM (QEMU under TCG here)")
    config.addinivalue_line("markers", "fuzz: bounded hypothesis runs against a parser of guest data")


@pytest.fixture(scope="module")
def vm() -> Iterator[cctui.Instance]:
    """One VM booted from the host image, shared by the tests of a module."""
    instance = cctui.boot()
    try:
        yield instance
    finally:
        instance.close()


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


def split_at(data: bytes, cuts: list) -> list:
    """``data`` cut at each of ``cuts`` (taken modulo its length): feeds split anywhere."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces
