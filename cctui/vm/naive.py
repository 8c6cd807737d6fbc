"""The bench's reference: a naive launch of the same kernel, QEMU start to QEMU exit.

What a plain launcher does: q35 with SeaBIOS, the distribution's compressed
bzImage, a gzipped busybox initramfs whose /init powers off at once. It never
reaches a shell, let alone Python, so cctui beating it means the levers pay.
"""
from __future__ import annotations

import gzip
import os
import resource
import subprocess
import time
from pathlib import Path
from typing import List, Tuple

from ..errors import HypervisorUnavailable
from ..paths import cache_dir
from . import cpio
from .initramfs import find_busybox
from .qemu import _die_with_parent, find_qemu

NAIVE_INIT = b"#!/bin/busybox sh\n/bin/busybox poweroff -f\n"


def naive_initramfs() -> Path:
    """busybox and an /init that powers off, gzipped as usual (cached)."""
    busybox = find_busybox()
    target = cache_dir() / "naive" / f"poweroff-{busybox.stat().st_size}.cpio.gz"
    if not target.exists():
        entries = [("dir", "bin"), ("file", "bin/busybox", busybox.read_bytes(), 0o755),
                   ("link", "bin/sh", "busybox"), ("file", "init", NAIVE_INIT, 0o755)]
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(gzip.compress(cpio.build(entries)))
        os.replace(tmp, target)
    return target


def naive_argv(kernel: Path, initrd: Path, accel: str, memory_mb: int = 1024,
               cpus: int = 2) -> List[str]:
    cpu = "host" if accel == "kvm" else "max"
    return [find_qemu(), "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-machine", "q35", "-accel", accel, "-cpu", cpu,
            "-m", str(memory_mb), "-smp", str(cpus),
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 panic=-1 rdinit=/init",
            "-serial", "stdio", "-monitor", "none"]


def naive_boot(kernel: Path, accel: str, timeout: float = 120.0) -> Tuple[float, float]:
    """(wall, CPU) seconds from spawning QEMU to its exit after the guest powered off.

    QEMU's CPU time is what the boot cost the host; on a shared machine it moves
    much less than the wall time, which waits for whoever else runs.
    """
    argv = naive_argv(kernel, naive_initramfs(), accel)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, preexec_fn=_die_with_parent, timeout=timeout)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise HypervisorUnavailable(
            f"the naive reference boot failed ({done.returncode}): {done.stderr[-300:]!r}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu
