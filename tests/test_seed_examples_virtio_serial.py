"""The seed examples again, over virtio-serial: the fallback transport stays tested
where ``auto`` picks vsock (kernel or userspace)."""
from __future__ import annotations

from typing import Iterator

import pytest

import cctui
from test_seed_examples import *  # noqa: F401,F403  (the same tests, this module's VM)

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def vm() -> Iterator[cctui.Instance]:
    instance = cctui.boot(transport="virtio-serial")
    try:
        assert instance.transport == "virtio-serial"
        yield instance
    finally:
        instance.close()
