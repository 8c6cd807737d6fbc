"""`cctui doctor`: what this host can do, and what to install when it cannot."""
from __future__ import annotations

import re
import shutil
import subprocess
from typing import List, Tuple

from .errors import Error
from .vm.accel import choose_accel, kvm_problem
from .vm.initramfs import find_busybox, module_lists, net_modules
from .vm.profile import BootProfile
from .vm.pvh import pvh_kernel
from .vm.kernel import find_kernel
from .vm.qemu import base_python
from .vm.transport_choice import choose_transport


def checks() -> List[Tuple[str, bool, str]]:
    """(topic, ok, sentence) rows."""
    rows: List[Tuple[str, bool, str]] = []
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout
        match = re.search(r"version ([\d.]+)", out)
        rows.append(("qemu", True, f"{qemu} (version {match.group(1) if match else '?'})"))
    else:
        rows.append(("qemu", False, "qemu-system-x86_64 missing: apt-get install qemu-system-x86"))
    problem = kvm_problem()
    choice = choose_accel("auto")
    rows.append(("accelerator", True, f"{choice.name}: {choice.reason}"))
    if problem:
        rows.append(("kvm", False, problem))
    else:
        rows.append(("kvm", True, "usable"))
    try:
        kernel = find_kernel()
        profile = BootProfile.from_env()
        core, vsock = module_lists(kernel, profile)
        modules = [p.name.split(".ko")[0] for p in core]
        rows.append(("kernel", True, f"{kernel.image} ({kernel.source})"))
        rows.append(("modules", True, f"{len(modules)} to load: {', '.join(modules)}"
                     + (f" (+{len(vsock)} with vsock)" if vsock else "")
                     + f" (+{len(net_modules(kernel, profile))} with --net)"))
        pvh = pvh_kernel(kernel.image) if profile.pvh else None
        rows.append(("boot", True, f"levers: {profile.describe()}; "
                     + (f"PVH kernel {pvh}" if pvh else "booting the bzImage")))
    except Error as exc:
        rows.append(("kernel", False, str(exc)))
    try:
        rows.append(("busybox", True, str(find_busybox())))
    except Error as exc:
        rows.append(("busybox", False, str(exc)))
    try:
        transport = choose_transport("auto")
        rows.append(("transport", True, f"{transport.name}: {transport.reason}"))
    except Error as exc:
        rows.append(("transport", False, str(exc)))
    rows.append(("guest python", True, base_python()))
    rows.append(("network", True, "none by default (a VM has no NIC); --net: QEMU user-mode "
                 "(rootless; the guest reaches the host's loopback at 10.0.2.2), "
                 "--net=restrict: published ports only"))
    return rows


def boot_report(accel: str = "auto") -> int:
    """Boot once and print where the time went, so a slow boot is explained."""
    import asyncio

    from .vm.breakdown import boottime, breakdown, process_start
    from .vm.machine import boot_async
    from .vm.profile import BootProfile

    async def measure() -> str:
        called = boottime()
        inst = await boot_async(accel=accel)
        returned = boottime()
        try:
            pid = inst.qemu_pid
            started = process_start(pid) if pid is not None else None
            hello = inst.session.hello if inst.session is not None else {}
            marks = hello.get("boot") or {}
            head = (f"boot breakdown ({inst.accel}: {inst.accel_reason}; "
                    f"levers: {BootProfile.from_env().describe()})")
            note = "" if marks else "\n(the agent reported no boot marks)"
            return head + "\n" + breakdown(called, returned, started, marks).table() + note
        finally:
            await inst.close()

    try:
        print(asyncio.run(measure()))
    except Error as exc:
        print(f"boot failed: {exc}")
        return 1
    return 0


def main(boot: bool = False, accel: str = "auto") -> int:
    if boot:
        return boot_report(accel)
    rows = checks()
    width = max(len(topic) for topic, _, _ in rows)
    for topic, ok, text in rows:
        mark = "ok  " if ok else "MISS" if topic != "vsock" else "note"
        print(f"{mark} {topic:<{width}}  {text}")
    essential = {"qemu", "kernel", "busybox"}
    return 0 if all(ok for topic, ok, _ in rows if topic in essential) else 1
