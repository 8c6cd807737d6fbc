"""The QEMU child process: its command line, its lifetime, and QMP control.

QEMU is started with PR_SET_PDEATHSIG so it dies with the Python process even
after a SIGKILL (no orphaned VMs), and is controlled over QMP with qemu.qmp.
The guest's serial console comes to us on QEMU's stdout, QEMU's own messages
(some of which a guest can provoke) on its stderr; both are kept capped in
memory (see console.py), never in files a guest could grow without bound.
"""
from __future__ import annotations

import asyncio
import contextvars
import ctypes
import functools
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, cast

from qemu.qmp import QMPClient

from ..errors import HypervisorUnavailable, Timeout
from .console import ConsoleLog
from ..vsock.qemu_args import qemu_args as vsock_user_args
from guest_pty_agent.protocol import VSOCK_PORT

from .guest_python import base_python
from .initramfs import AGENT_PORT_NAME, IMAGE_TAG, ROOT_TAG
from .network import PublishedPort, qemu_net_args
from .profile import FAST_APPEND, KERNEL_TRIM, BootProfile
from .volumes import Volume

__all__ = ["QemuConfig", "QemuProcess", "base_python", "find_qemu"]

PR_SET_PDEATHSIG = 1
STDERR_CAP = 16 * 1024            # bytes of QEMU's stderr kept to explain an exit
# The nice increment for QEMUs started in this context: the server's spare VM boots
# at low priority (cctui/server/spare.py) without a parameter through every boot call.
SPAWN_NICE: "contextvars.ContextVar[int]" = contextvars.ContextVar("cctui_qemu_nice", default=0)
# Told each QEMU pid started in this context, at once (the spare hands its VM over mid-boot).
SPAWNED: "contextvars.ContextVar[Optional[Callable[[int], None]]]" = contextvars.ContextVar(
    "cctui_qemu_spawned", default=None)


def _die_with_parent(nice: int = 0) -> None:
    """Runs in the child before exec: SIGKILL us when the parent thread dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # parent already gone between fork and prctl
        os._exit(1)
    if nice:
        os.nice(nice)       # QEMU's threads, made after exec, inherit it


def find_qemu() -> str:
    path = shutil.which("qemu-system-x86_64")
    if not path:
        raise HypervisorUnavailable(
            "qemu-system-x86_64 not found: install it (apt-get install qemu-system-x86)")
    return path


@dataclass
class QemuConfig:
    kernel: Path
    initrd: Path
    state_dir: Path
    accel: str = "tcg"
    memory_mb: int = 1024
    cpus: int = 2
    root_path: str = "/"
    image_path: Optional[str] = None    # an unpacked image root, shared beside the host root
    python: str = "/usr/bin/python3"
    vsock_cid: Optional[int] = None
    vsock_user: Optional[Path] = None   # the userspace backend's vhost-user socket (vsock_cid too)
    extra_append: List[str] = field(default_factory=list)
    profile: BootProfile = field(default_factory=BootProfile)
    kernel_hz: Optional[int] = None     # the kernel's CONFIG_HZ, when known
    net: str = "off"                    # "off", "on" or "restrict" (network.py)
    ports: List[PublishedPort] = field(default_factory=list)
    volumes: List[Volume] = field(default_factory=list)

    @property
    def qmp_socket(self) -> Path:
        return self.state_dir / "qmp.sock"

    @property
    def agent_socket(self) -> Path:
        return self.state_dir / "agent.sock"

    def argv(self, qemu: str) -> List[str]:
        append = ["console=ttyS0", "quiet", "loglevel=3", "panic=-1", "rdinit=/init",
                  f"cctui.python={self.python}"]
        append += (FAST_APPEND if self.profile.fast_append else []) + self.extra_append
        append += KERNEL_TRIM if self.profile.kernel_trim else []
        append += self._clock_append()
        if self.image_path is not None:
            append.append("cctui.image=1")
        if self.vsock_cid is not None:
            append.append(f"cctui.vsock={VSOCK_PORT}")
        if self.net != "off":
            append.append("cctui.net=1")
        append += [v.cmdline(i) for i, v in enumerate(self.volumes)]
        cpu = "host" if self.accel == "kvm" else "max"
        machine = "microvm" if self.profile.microvm else "q35"
        bus = "device" if self.profile.microvm else "pci"      # virtio-mmio or PCI
        args = [
            qemu, "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-machine", machine, "-accel", self.accel, "-cpu", cpu, *self._firmware(),
            "-m", str(self.memory_mb), "-smp", str(self.cpus),
            "-kernel", str(self.kernel), "-initrd", str(self.initrd),
            "-append", " ".join(append),
            "-serial", "stdio",           # QEMU's stdout: a pipe to ConsoleLog
            "-monitor", "none",
            "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
            *self._share("root", self.root_path, ROOT_TAG, bus),
            *(self._share("image", self.image_path, IMAGE_TAG, bus)
              if self.image_path is not None else []),
            "-device", f"virtio-serial-{bus},id=vser0",
            "-chardev", f"socket,id=agent,path={self.agent_socket},server=on,wait=off",
            "-device", f"virtserialport,chardev=agent,name={AGENT_PORT_NAME}",
            *qemu_net_args(self.net, self.ports, bus),
        ]
        for i, volume in enumerate(self.volumes):
            args += volume.qemu_args(i, bus)
        if self.vsock_user is not None:
            args += vsock_user_args(self.vsock_user, self.memory_mb, bus)
        elif self.vsock_cid is not None:
            args += ["-device", f"vhost-vsock-{bus},guest-cid={self.vsock_cid}"]
        return args

    def _clock_append(self) -> List[str]:
        """Under TCG the guest's TSC runs at the host's rate, in step on every vCPU.
        Saying so (``tsc_early_khz``, ``tsc=reliable``) keeps the kernel from
        calibrating against the PIT (which fails on a busy host; on microvm, with no
        HPET or PM timer to fall back on, the boot then hangs) and from falling back
        to the HPET, whose every read is an emulated MMIO access. ``lpj`` (the
        TSC's loops per jiffy) spares each secondary vCPU its delay-loop
        calibration, which under TCG takes a second and then fails anyway."""
        if self.accel == "kvm" or not (self.profile.tsc or self.profile.microvm):
            return []
        khz = host_tsc_khz()
        if khz is None:
            return []
        if not self.profile.tsc:
            return [f"tsc_early_khz={khz}"]
        lpj = [f"lpj={khz * 1000 // self.kernel_hz}"] if self.kernel_hz else []
        return [f"tsc_early_khz={khz}", "tsc=reliable"] + lpj

    def _firmware(self) -> List[str]:
        bios = self.profile.firmware()
        return ["-bios", str(bios)] if bios is not None else []

    @staticmethod
    def _share(name: str, path: str, tag: str, bus: str) -> List[str]:
        """A read-only 9p share (``-virtfs`` would always pick the PCI device)."""
        return ["-fsdev", (f"local,id={name},path={path},security_model=none,readonly=on,"
                           "multidevs=remap"),
                "-device", f"virtio-9p-{bus},fsdev={name},mount_tag={tag}"]


def host_tsc_khz() -> Optional[int]:
    """The host's TSC rate in kHz when it runs at a known constant rate, else None."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read(65536)
    except OSError:
        return None
    flags = re.search(r"^flags\s*:(.*)$", info, re.M)
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M)
    if not flags or not mhz or not {"constant_tsc", "tsc_known_freq"} <= set(flags.group(1).split()):
        return None
    return int(float(mhz.group(1)) * 1000)


class QemuProcess:
    """One running QEMU: start it, watch it exit, talk QMP to it, stop it."""

    def __init__(self, config: QemuConfig) -> None:
        self.config = config
        self.proc: Optional[asyncio.subprocess.Process] = None
        self.qmp: Optional[QMPClient] = None
        self.exited = asyncio.get_event_loop().create_future()
        self._watch: Optional[asyncio.Task] = None
        self.on_event: Optional[Callable[[str], None]] = None
        self._events: Optional[asyncio.Task] = None
        self.console = ConsoleLog()
        self.stderr = ConsoleLog(STDERR_CAP)
        self._pumps: List[asyncio.Task] = []
        self.started_at: Optional[float] = None   # time.monotonic() when QEMU was spawned

    async def start(self) -> None:
        qemu = find_qemu()
        self.started_at = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            *self.config.argv(qemu), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=functools.partial(_die_with_parent, SPAWN_NICE.get()), start_new_session=True)
        spawned = SPAWNED.get()
        if spawned is not None:
            spawned(self.proc.pid)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [asyncio.ensure_future(self.console.pump(self.proc.stdout)),
                       asyncio.ensure_future(self.stderr.pump(self.proc.stderr))]
        self._watch = asyncio.ensure_future(self._wait_exit())
        await self._connect_qmp()

    async def _wait_exit(self) -> None:
        assert self.proc is not None
        code = await self.proc.wait()
        if self._pumps:
            # The last lines QEMU and the guest wrote explain the exit: read them first.
            await asyncio.wait(self._pumps, timeout=2.0)
        if not self.exited.done():
            self.exited.set_result(code)
        await self._close_qmp()

    def describe_exit(self) -> str:
        """A sentence for users: how QEMU ended and the last lines it printed."""
        if not self.exited.done():
            return "QEMU is running"
        code = self.exited.result()
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        tail = self.stderr_tail() or self.console_tail()
        return f"QEMU exited ({how})" + (f": {tail}" if tail else "")

    def stderr_tail(self, lines: int = 3) -> str:
        """QEMU's last words (they may quote the guest, so they are made printable)."""
        return self.stderr.tail(lines)

    def console_tail(self, lines: int = 3) -> str:
        """The console lines that explain a failed boot (not a panic's register dump)."""
        return self.console.tail(lines)

    async def _connect_qmp(self) -> None:
        sock = str(self.config.qmp_socket)
        for _ in range(200):
            if self.exited.done():
                raise HypervisorUnavailable(self.describe_exit())
            if os.path.exists(sock):
                client = QMPClient("cctui")
                try:
                    await client.connect(sock)
                    self.qmp = client
                    self._events = asyncio.ensure_future(self._pump_events(client))
                    return
                except Exception:
                    await asyncio.sleep(0.05)
                    continue
            await asyncio.wait([self.exited], timeout=0.05)
        raise Timeout("QEMU did not open its QMP socket within 10 s")

    async def _pump_events(self, client: QMPClient) -> None:
        try:
            async for event in client.events:
                if self.on_event:
                    self.on_event(cast(str, event["event"]))  # QMP: the event's name
        except Exception:
            pass

    async def query_status(self) -> str:
        if self.qmp is None:
            return "unknown"
        reply = await self.qmp.execute("query-status")
        return cast(Dict[str, str], reply)["status"]  # QMP's StatusInfo

    async def quit(self, timeout: float = 5.0) -> None:
        """Ask QEMU to quit over QMP, then kill it if it does not go."""
        if self.proc is None or self.exited.done():
            await self._close_qmp()
            return
        if self.qmp is not None:
            try:
                await asyncio.wait_for(self.qmp.execute("quit"), timeout)
            except Exception:
                pass
        try:
            await asyncio.wait_for(asyncio.shield(self.exited), timeout)
        except asyncio.TimeoutError:
            self.kill()
            await self.exited
        await self._close_qmp()

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    async def _close_qmp(self) -> None:
        if self._events is not None and not self._events.done():
            self._events.cancel()
        if self.qmp is not None:
            try:
                await self.qmp.disconnect()
            except Exception:
                pass
            self.qmp = None
