"""The local-agent backend: the guest agent as a host child process (tests, development).

No isolation at all: commands run on this host as this user. It implements
``api.backend.Backend`` like a QEMU machine does, so an instance cannot tell.
"""
from __future__ import annotations

import asyncio
from typing import Optional

from ..api.instance import AsyncInstance
from ..errors import Error, NotRunning
from ..session import AgentSession
from ..transport import spawn_local_agent


class LocalBackend:
    """A local agent process as an instance's ``Backend``."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()

    async def wait_stopped(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            await self.stop()

    async def status(self) -> str:
        """No hypervisor: whether the agent process still runs."""
        code = self.proc.returncode
        return "running" if code is None else f"exited ({code})"

    @property
    def hypervisor_pid(self) -> Optional[int]:
        return None


async def connect_local(name: Optional[str] = None,
                        instance: Optional[AsyncInstance] = None) -> AsyncInstance:
    """An instance whose agent is a local process: for tests and development only
    (``instance``: a booting one to attach the agent to, as ``aio.boot`` takes one)."""
    inst = instance or AsyncInstance(name=name or "local", image="local")
    inst.accel, inst.accel_reason, inst.transport = "none", "local agent process", "unix socket"
    proc, (reader, writer) = await spawn_local_agent()

    async def lost() -> Error:
        code = await proc.wait()
        return NotRunning(f"the local agent exited with status {code}")

    session = AgentSession(reader, writer, lost_reason=lost)
    try:
        await session.handshake(20.0)
    except BaseException:
        proc.kill()
        raise
    inst.attach(session, LocalBackend(proc))
    return inst
