"""What an AsyncInstance needs from whatever runs its agent (a QEMU VM, a local process).

Declared here, on the consumer's side, so api/ never imports vm/: the backends
in ``cctui.vm`` implement this Protocol structurally and the boot code hands
one to ``AsyncInstance.attach``.
"""
from __future__ import annotations

from typing import Optional, Protocol


class Backend(Protocol):
    """The process side of an instance: stop it, wait for it, ask how it is."""

    async def stop(self) -> None:
        """Power off (or kill) and release what the backend holds; idempotent."""

    async def wait_stopped(self, timeout: float) -> None:
        """Wait for the guest to go by itself (the init command exited), then force it."""

    async def status(self) -> str:
        """The hypervisor's own view ("running", "paused", "shutdown", ...)."""

    @property
    def hypervisor_pid(self) -> Optional[int]:
        """The hypervisor's process id (QEMU), or None where there is none."""
