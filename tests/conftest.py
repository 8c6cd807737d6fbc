"""Shared fixtures: real VMs under TCG (or KVM where usable), one per test module."""
from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

import cctui

# Shared helpers live in tests/helpers/; these names stay importable from conftest for
# modules that still import them from here (new code: ``from helpers.wait import until``).
from helpers.feeds import split_at  # noqa: F401
from helpers.wait import until, wait_until  # noqa: F401

# CPython 3.11.7's AST compiler keeps a process-wide recursion counter
# (cpython#106905): an import that pytest rewrites while another thread compiles
# can fail with "AST constructor recursion depth mismatch". Hypothesis's plugin
# imports this lazily at the session's end; import it up front instead.
import hypothesis.internal.observability  # noqa: E402,F401

# A server started by any test boots no warm spare VM behind its back (cctui/config.py);
# tests/test_server_spare.py turns it on for its own servers.
os.environ.setdefault("CCTUI_SPARE", "0")
# ... and no test reaches the user's own server: a test that starts one without a socket
# directory of its own (``cctui tui`` under a pty does) gets this private one, whose
# server is ended with the session (pytest_sessionfinish).
_SOCKET_DIR = os.environ.setdefault("CCTUI_SOCKET_DIR", tempfile.mkdtemp(prefix="cctui-tests-"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """End a server a test left in the shared socket directory (and its VMs with it)."""
    from cctui.server import client
    os.environ["CCTUI_SOCKET_DIR"] = _SOCKET_DIR
    try:
        with client.connect() as conn:
            conn.request("kill-server")
    except Exception:
        pass        # none runs (the usual case)


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


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for a module's async scenarios: an instance's streams belong to
    the loop that connected it, so a module-wide instance needs a module-wide loop."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cctui config dir: the app under test reads no keys.toml or theme of the user's."""
    path = tmp_path / "config"
    monkeypatch.setenv("CCTUI_CONFIG_DIR", str(path))
    return path
