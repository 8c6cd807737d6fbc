"""`python -m cctui.bench`: boot, exec latency and throughput, each beside a reference.

References are measured in the same run because these machines are noisy:
a local subprocess (what the VM adds over plain fork/exec) and the same agent
run as a local process over a socketpair (what the protocol costs without a VM).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from typing import Callable, List, Optional

import cctui

SIZE = 20_000_000


class _Count:
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
    sink = _Count()
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


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="exec round trips per subject")
    parser.add_argument("--accel", default="auto")
    args = parser.parse_args(argv)
    rows = []

    start = time.perf_counter()
    vm = cctui.boot(accel=args.accel)
    boot = time.perf_counter() - start
    start = time.perf_counter()
    local = cctui.connect_local()
    local_boot = time.perf_counter() - start
    rows.append((f"boot to ready ({vm.accel})", f"{boot:.2f} s", "local agent start",
                 f"{local_boot:.2f} s"))
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
    widths = [max(len(r[i]) for r in rows + [("measure", "cctui", "reference", "value")])
              for i in range(4)]
    header = ("measure", "cctui", "reference", "value")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
