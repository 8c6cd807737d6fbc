"""`python -m cctui.bench`: boot, exec latency and throughput, each beside a reference.

References are measured in the same run because these machines are noisy:
a naive launch of the same kernel to a powering-off init (what a boot costs
without cctui's levers), a local subprocess (what the VM adds over plain
fork/exec) and the same agent run as a local process over a socketpair (what
the protocol costs without a VM). Boots alternate with their reference and
report medians.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from typing import Callable, List, Optional, Tuple

import cctui

from .vm.accel import choose_accel
from .vm.kernel import find_kernel
from .vm.naive import naive_boot
from .vm.profile import LEVER_ORDER, BootProfile

SIZE = 20_000_000


class ByteCounter:
    """A stdout sink that only counts bytes (throughput rows keep nothing)."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)


def _percentiles(samples: List[float]) -> tuple:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return p50 * 1000, p99 * 1000


def _latency(run_once: Callable[[], object], n: int) -> tuple:
    run_once()  # warm up
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        run_once()
        samples.append(time.perf_counter() - start)
    return _percentiles(samples)


def _throughput(vm: cctui.Instance, path: str) -> float:
    sink = ByteCounter()
    start = time.perf_counter()
    vm.command("cat", path).set_stdout(sink).run()
    elapsed = time.perf_counter() - start
    assert sink.count == SIZE, sink.count
    return SIZE / elapsed / 1e6


def _local_throughput(path: str) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
    total = 0
    assert proc.stdout is not None
    while True:
        chunk = proc.stdout.read(1 << 16)
        if not chunk:
            break
        total += len(chunk)
    proc.wait()
    assert total == SIZE
    return SIZE / (time.perf_counter() - start) / 1e6


def _boot_seconds(accel: str, levers: str) -> Tuple[float, float, float]:
    """(wall, QEMU CPU, first command) seconds of one ``cctui.boot()`` to a ready
    agent with the levers ``CCTUI_BOOT`` names, then of its first ``true``: the
    agent greets before it has imported what running a command needs."""
    os.environ["CCTUI_BOOT"] = levers
    try:
        start = time.perf_counter()
        vm = cctui.boot(accel=accel)
        seconds = time.perf_counter() - start
        cpu = process_cpu(vm.qemu_pid) if vm.qemu_pid is not None else float("nan")
        start = time.perf_counter()
        vm.command("true").run()
        first = time.perf_counter() - start
        vm.close()
    finally:
        os.environ.pop("CCTUI_BOOT", None)
    return seconds, cpu, first


def process_cpu(pid: int) -> float:
    """A live process's user + system CPU seconds so far."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read(4096)
    fields = stat[stat.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def boot_rows(accel: str, runs: int, levers: bool) -> List[tuple]:
    """Boot medians beside the naive reference, alternating runs; with ``levers``
    one row per lever added to the baseline, in LEVER_ORDER. Wall time is what
    the issue asks; QEMU's CPU time is the steadier measure on a shared machine."""
    name = choose_accel(accel).name
    kernel = find_kernel().image
    subjects = [("cctui.boot() to ready, all levers", "")]
    if levers:
        subjects = [("  baseline (no levers)", "baseline")] + [
            (f"  + {lever}" + ("" if getattr(BootProfile(), lever) else " (not a default)"),
             "baseline," + ",".join("+" + on for on in LEVER_ORDER[:i + 1]))
            for i, lever in enumerate(LEVER_ORDER)]
    naive_boot(kernel, name)                        # warm up: page cache, built files
    for _, text in subjects:
        _boot_seconds(accel, text)
    naive: List[Tuple[float, float]] = []
    samples: List[List[Tuple[float, float, float]]] = [[] for _ in subjects]
    for _ in range(runs):
        naive.append(naive_boot(kernel, name))
        for i, (_, text) in enumerate(subjects):
            samples[i].append(_boot_seconds(accel, text))
    wall = statistics.median(w for w, _ in naive)
    cpu = statistics.median(c for _, c in naive)
    rows = [(f"naive boot to poweroff ({name}, n={runs})", f"{wall:.2f} s",
             "q35, SeaBIOS, bzImage", f"busybox init; QEMU CPU {cpu:.2f} s")]
    for (label, _), times in zip(subjects, samples):
        median = statistics.median(w for w, _, _ in times)
        # Also the median of each round's own ratio: a busy spell slows both alike.
        paired = statistics.median(t / n for (t, _, _), (n, _) in zip(times, naive))
        cpu_ratio = statistics.median(c for _, c, _ in times) / cpu
        first = statistics.median(f for _, _, f in times)
        rows.append((label, f"{median:.2f} s", "ratio to naive: wall (paired), CPU",
                     f"{median / wall:.2f} ({paired:.2f}), {cpu_ratio:.2f}; first `true` {first:.2f} s"))
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="exec round trips per subject")
    parser.add_argument("--boot-runs", type=int, default=5,
                        help="boots per subject (each is seconds under TCG)")
    parser.add_argument("--levers", action="store_true",
                        help="one boot row per lever, added one by one to the baseline")
    parser.add_argument("--boot-only", action="store_true", help="skip exec and throughput")
    parser.add_argument("--accel", default="auto")
    args = parser.parse_args(argv)
    rows = boot_rows(args.accel, args.boot_runs, args.levers)
    if not args.boot_only:
        rows += _exec_rows(args)
    _print(rows)
    return 0


def _exec_rows(args: argparse.Namespace) -> List[tuple]:
    rows = []
    vm = cctui.boot(accel=args.accel)
    start = time.perf_counter()
    local = cctui.connect_local()
    local_boot = time.perf_counter() - start
    rows.append(("local agent start", f"{local_boot:.2f} s", "", ""))
    try:
        vm_p = _latency(lambda: vm.command("true").run(), args.runs)
        agent_p = _latency(lambda: local.command("true").run(), args.runs)
        sub_p = _latency(lambda: subprocess.run(["true"], check=True), args.runs)
        rows.append((f"exec `true` p50 / p99 (n={args.runs})", f"{vm_p[0]:.1f} / {vm_p[1]:.1f} ms",
                     "local subprocess", f"{sub_p[0]:.1f} / {sub_p[1]:.1f} ms"))
        rows.append(("  same, local agent (no VM)", f"{agent_p[0]:.1f} / {agent_p[1]:.1f} ms", "", ""))
        vm.command("sh", "-c", f"head -c {SIZE} /dev/urandom > /tmp/bench.bin").run()
        with tempfile.NamedTemporaryFile() as f:
            f.write(os.urandom(SIZE))
            f.flush()
            guest = _throughput(vm, "/tmp/bench.bin")
            agent = _throughput(local, f.name)
            reference = _local_throughput(f.name)
        rows.append(("guest->host `cat` 20 MB", f"{guest:.1f} MB/s", "local subprocess",
                     f"{reference:.1f} MB/s"))
        rows.append(("  same, local agent (no VM)", f"{agent:.1f} MB/s", "", ""))
    finally:
        vm.close()
        local.close()
    return rows


def _print(rows: List[tuple]) -> None:
    widths = [max(len(r[i]) for r in rows + [("measure", "cctui", "reference", "value")])
              for i in range(4)]
    header = ("measure", "cctui", "reference", "value")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    raise SystemExit(main())
