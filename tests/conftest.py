"""Shared fixtures: real VMs under TCG (or KVM where usable), one per test module."""
from __future__ import annotations

import time
from typing import Callable, Iterator

import pytest

import cctui


@pytest.fixture(scope="module")
def vm() -> Iterator[cctui.Instance]:
    """One VM booted from the host image, shared by the tests of a module."""
    instance = cctui.boot()
    try:
        yield instance
    finally:
        instance.close()


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
