"""Boot: from an image argument to a running AsyncInstance.

``Machine`` owns one QEMU process, its state directory and transport;
``MachineBackend`` is what the instance sees of it (``api.backend.Backend``).
Dependencies run one way: vm/ imports api/ (it boots into an AsyncInstance),
api/ never imports vm/. The local-agent backend is in ``local.py``.
"""
from __future__ import annotations

import asyncio
import atexit
import random
import shutil
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

from ..api.instance import AsyncInstance
from ..errors import Error, NotRunning, StateError
from ..paths import cache_dir, new_state_dir
from ..session import AgentSession
from ..transport import connect_virtio_serial, connect_vsock, connect_vsock_user
from ..vsock.backend import VHOST_SOCKET, VsockBackend
from .accel import choose_accel
from .boot_files import boot_files
from .initramfs import IMAGE_MOUNT
from .kernel import find_kernel
from .network import PublishedPort, check_ports_free, describe, net_mode, parse_ports, set_label
from .qemu import QemuConfig, QemuProcess, base_python
from .transport_choice import choose_transport
from .volumes import Volume, parse_volumes


class Machine:
    """The QEMU side of an instance."""

    def __init__(self, qemu: QemuProcess, vsock: Optional[VsockBackend] = None) -> None:
        self.qemu = qemu
        self.vsock = vsock              # the userspace vsock backend, if this VM uses it

    async def lost_reason(self) -> Error:
        """Why the agent's stream ended: usually QEMU died; give it a moment to say so."""
        if self.vsock is not None and self.vsock.failed:
            return NotRunning(f"the VM's vsock device stopped: {self.vsock.failed}")
        try:
            await asyncio.wait_for(asyncio.shield(self.qemu.exited), 2.0)
        except asyncio.TimeoutError:
            return NotRunning("the guest agent's connection closed while QEMU still runs")
        return NotRunning(f"the VM stopped: {self.qemu.describe_exit()}")

    async def wait_stopped(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(self.qemu.exited), timeout)
        except asyncio.TimeoutError:
            await self.qemu.quit()

    async def stop(self, session: Optional[AgentSession] = None) -> None:
        if not self.qemu.exited.done() and session is not None and session.failed is None:
            try:
                session.poweroff()
                await session.drain()
                await asyncio.wait_for(asyncio.shield(self.qemu.exited), 3.0)
            except (Error, asyncio.TimeoutError):
                pass
        await self.qemu.quit()
        if self.vsock is not None:
            self.vsock.close()
        shutil.rmtree(self.qemu.config.state_dir, ignore_errors=True)


class MachineBackend:
    """A QEMU machine as an instance's ``Backend``."""

    def __init__(self, machine: Machine, instance: AsyncInstance) -> None:
        self.machine = machine
        self.instance = instance
        machine.qemu.on_event = self._event

    def _event(self, name: str) -> None:
        """QMP events (SHUTDOWN, STOP, RESUME, ...): a guest power-off shows in the status line."""
        if name == "SHUTDOWN":
            self.instance.progress("the guest powered off")

    @property
    def hypervisor_pid(self) -> Optional[int]:
        proc = self.machine.qemu.proc
        return proc.pid if proc is not None else None

    async def status(self) -> str:
        """QEMU's run state over QMP (running, paused, shutdown, ...)."""
        return await self.machine.qemu.query_status()

    async def stop(self) -> None:
        await self.machine.stop(self.instance.session)

    async def wait_stopped(self, timeout: float) -> None:
        await self.machine.wait_stopped(timeout)


async def boot_async(image: str = "host", *, accel: str = "auto", memory_mb: int = 1024,
                     cpus: int = 2, entrypoint: Optional[Sequence[str]] = None,
                     cmd: Optional[Sequence[str]] = None, env: Optional[Dict[str, str]] = None,
                     transport: str = "auto", boot_timeout: Optional[float] = None,
                     name: Optional[str] = None,
                     on_state: Optional[Callable[[AsyncInstance], None]] = None,
                     instance: Optional[AsyncInstance] = None,
                     net: Union[bool, str, None] = False,
                     ports: Sequence[Union[str, PublishedPort]] = (),
                     volumes: Sequence[Union[str, Volume]] = ()) -> AsyncInstance:
    """Boot a VM and return it once its agent answered.

    Pass ``instance`` (made with ``AsyncInstance(...)``) to watch its progress
    from the start, as the TUI does. ``net``: False (default: no NIC), True, or
    "restrict" (published ports only); ``ports``: docker's ``-p`` strings (they
    imply ``net``); ``volumes``: docker's ``-v`` strings.
    """
    inst = instance or AsyncInstance(name=name, image=image, entrypoint=entrypoint, cmd=cmd, env=env)
    if on_state is not None:
        inst.add_listener(on_state)
    try:
        published = parse_ports(ports)
        mode = net_mode(net, published)
        shared = parse_volumes(volumes)
        check_ports_free(published)          # before anything boots: nothing to clean up
        set_label(inst, describe(mode, published))
        await _boot_into(inst, image, accel, memory_mb, cpus, transport, boot_timeout,
                         mode, published, shared)
    except BaseException as exc:
        inst.boot_failed(exc if isinstance(exc, Error) else Error(str(exc)))
        raise
    return inst


async def _boot_into(inst: AsyncInstance, image: str, accel: str, memory_mb: int, cpus: int,
                     transport: str, boot_timeout: Optional[float], net: str = "off",
                     ports: Optional[List[PublishedPort]] = None,
                     volumes: Optional[List[Volume]] = None) -> None:
    loop = asyncio.get_event_loop()
    started = time.monotonic()
    choice = choose_accel(accel)
    inst.accel, inst.accel_reason = choice.name, choice.reason
    image_path = None
    if image != "host":
        inst.progress("unpacking image")
        image_path = await loop.run_in_executor(None, _prepare_image, inst, image)
    inst.progress("preparing kernel and initramfs")
    kernel = await loop.run_in_executor(None, find_kernel)
    files = await loop.run_in_executor(None, boot_files, kernel, memory_mb)
    chosen = choose_transport(transport)
    inst.transport, inst.transport_reason = chosen.name, chosen.reason
    use_vsock = chosen.name != "virtio-serial"
    timeout = boot_timeout or (30.0 if choice.name == "kvm" else 120.0)
    for attempt in range(3):
        state_dir = new_state_dir()
        config = QemuConfig(kernel=files.image, initrd=files.initrd, state_dir=state_dir,
                            accel=choice.name, memory_mb=memory_mb, cpus=cpus,
                            image_path=image_path, python=base_python(), profile=files.profile,
                            kernel_hz=files.kernel_hz, net=net, ports=list(ports or []),
                            volumes=list(volumes or []),
                            vsock_cid=random.randint(3, 0xFFFF_FFF0) if use_vsock else None,
                            vsock_user=(state_dir / VHOST_SOCKET
                                        if chosen.name == "vsock-user" else None))
        try:
            machine, session = await _launch(inst, config, timeout)
            break
        except NotRunning as exc:
            # Another VM on this host may hold the random vsock CID: pick another.
            if not use_vsock or "cid" not in str(exc).lower() or attempt == 2:
                raise
    inst.boot_seconds = time.monotonic() - started
    backend = MachineBackend(machine, inst)
    try:
        inst.attach(session, backend)
    except StateError:          # closed while it booted: nobody wants this VM any more
        await backend.stop()
        raise


async def _launch(inst: AsyncInstance, config: QemuConfig, timeout: float) -> tuple:
    """Start QEMU and wait for its agent; on any failure leave nothing behind."""
    qemu = QemuProcess(config)
    vsock = None
    inst.progress(f"starting QEMU ({config.accel})")
    try:
        if config.vsock_user is not None and config.vsock_cid is not None:
            vsock = VsockBackend(config.state_dir, config.vsock_cid)   # QEMU connects at once
        await qemu.start()
    except Error:
        if vsock is not None:
            vsock.close()
        shutil.rmtree(config.state_dir, ignore_errors=True)
        raise
    machine = Machine(qemu, vsock)
    session: Optional[AgentSession] = None
    try:
        inst.progress("booting the guest kernel")
        if vsock is not None:
            reader, writer = await connect_vsock_user(vsock.host_socket, qemu.exited, timeout,
                                                      lambda: vsock.failed if vsock else None)
        elif config.vsock_cid is not None:
            reader, writer = await connect_vsock(config.vsock_cid, qemu.exited, timeout)
        else:
            reader, writer = await connect_virtio_serial(config.agent_socket, qemu.exited)
        session = AgentSession(reader, writer, lost_reason=machine.lost_reason)
        inst.progress("waiting for the guest agent")
        try:
            await session.handshake(timeout, abort=qemu.exited)
        except NotRunning:
            raise NotRunning(f"the VM stopped while booting: {qemu.describe_exit()}") from None
    except BaseException as exc:
        if session is not None:
            session.fail(NotRunning("boot failed"))
        await qemu.quit(timeout=2.0)
        if vsock is not None:
            vsock.close()
        saved = _keep_console_log(qemu)
        shutil.rmtree(config.state_dir, ignore_errors=True)
        if isinstance(exc, Error) and saved:
            exc.args = (f"{exc} (console log: {saved})",)
        if isinstance(exc, NotRunning) and qemu.exited.done() and "QEMU exited" not in str(exc):
            raise NotRunning(f"the VM stopped while booting: {qemu.describe_exit()}"
                             + (f" (console log: {saved})" if saved else "")) from None
        raise
    # A script that exits without close(): QEMU dies with us (PDEATHSIG), and
    # its sockets and console log go too.
    atexit.register(shutil.rmtree, config.state_dir, True)
    return machine, session


def _keep_console_log(qemu: QemuProcess) -> Optional[Path]:
    """Save a failed boot's serial console (its capped tail) where the user can read it."""
    try:
        target = cache_dir() / "logs" / "last-failed-boot.log"
        target.parent.mkdir(parents=True, exist_ok=True)
        qemu.console.save(target)
        return target
    except OSError:
        return None


def _prepare_image(inst: AsyncInstance, image: str) -> str:
    """Unpack an OCI image or check a rootfs directory; returns the path to share."""
    from ..images import ImageError as UnpackError, resolve_image
    from ..errors import ImageError
    try:
        resolved = resolve_image(image, cache_dir() / "images")
    except UnpackError as exc:
        raise ImageError(str(exc)) from None
    cfg = resolved.config
    inst.set_image_config(cfg.env, cfg.working_dir, cfg.user, cfg.entrypoint, cfg.cmd)
    inst.guest_root = IMAGE_MOUNT
    return str(resolved.rootfs)
