"""The agent's stream over the userspace vsock vs virtio-serial: same VM image, same run.

Two VMs boot side by side (``transport="vsock-user"`` and ``"virtio-serial"``);
rounds alternate between them so a busy spell on this shared host hits both.
Rows: guest→host ``cat`` of 20 MB (MB/s, median of the rounds), host→guest 4 MB
into ``sha256sum``, exec ``true`` round trips (p50/p99 ms), and CPU per MB: the
host process's (``time.process_time``, all of cctui) and, for vsock-user, the
backend's own (thread CPU inside the device's tx/rx steps).

    .venv/bin/python bench/transport.py [--rounds 5] [--execs 100]
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cctui  # noqa: E402
from cctui.bench import ByteCounter  # noqa: E402

SIZE = 20 * 1024 * 1024
UP = 4 * 1024 * 1024
TRANSPORTS = ["vsock-user", "virtio-serial"]


def _device_cpu(vm: cctui.Instance) -> float:
    backend = getattr(vm.aio._backend, "machine", None)     # the MachineBackend
    vsock = getattr(backend, "vsock", None)
    return vsock.device.cpu_seconds if vsock is not None else 0.0


def _cat(vm: cctui.Instance) -> tuple:
    sink = ByteCounter()
    cpu, dev = time.process_time(), _device_cpu(vm)
    start = time.perf_counter()
    vm.command("cat", "/tmp/blob").set_stdout(sink).run()
    elapsed = time.perf_counter() - start
    assert sink.count == SIZE, sink.count
    mb = SIZE / 1e6
    return mb / elapsed, (time.process_time() - cpu) / mb, (_device_cpu(vm) - dev) / mb


def _up(vm: cctui.Instance, data: bytes) -> float:
    start = time.perf_counter()
    vm.command("sha256sum").set_stdin(io.BytesIO(data)).output()
    return len(data) / 1e6 / (time.perf_counter() - start)


def _exec(vm: cctui.Instance) -> float:
    start = time.perf_counter()
    vm.command("true").run()
    return time.perf_counter() - start


def _pct(samples: List[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--execs", type=int, default=100, help="exec round trips per transport")
    args = parser.parse_args()
    vms = {t: cctui.boot(transport=t) for t in TRANSPORTS}
    data = os.urandom(UP)
    results: Dict[str, Dict[str, List[float]]] = {t: {} for t in TRANSPORTS}
    try:
        for vm in vms.values():
            vm.command("sh", "-c", f"head -c {SIZE} /dev/urandom > /tmp/blob").run()
            _cat(vm)                                   # warm up
            _exec(vm)
        for _ in range(args.rounds):
            for t, vm in vms.items():
                mbs, cpu, dev = _cat(vm)
                for key, value in (("cat", mbs), ("cpu", cpu), ("dev", dev), ("up", _up(vm, data))):
                    results[t].setdefault(key, []).append(value)
        for _ in range(args.execs):
            for t, vm in vms.items():
                results[t].setdefault("exec", []).append(_exec(vm))
    finally:
        for vm in vms.values():
            vm.close()
    rows = [("transport", "cat 20 MB", "4 MB in", "exec p50", "exec p99", "host CPU/MB",
             "backend CPU/MB")]
    for t in TRANSPORTS:
        r = results[t]
        rows.append((t, f"{statistics.median(r['cat']):.1f} MB/s", f"{statistics.median(r['up']):.1f} MB/s",
                     f"{_pct(r['exec'], 0.5) * 1000:.1f} ms", f"{_pct(r['exec'], 0.99) * 1000:.1f} ms",
                     f"{statistics.median(r['cpu']) * 1000:.1f} ms",
                     f"{statistics.median(r['dev']) * 1000:.2f} ms" if t == "vsock-user" else "-"))
    u, s = results["vsock-user"], results["virtio-serial"]

    def ratio(key: str) -> str:
        """Ratio of the medians, and (in brackets) the median of each round's own ratio:
        a busy spell on this shared host slows both sides of a round alike."""
        paired = statistics.median(a / b for a, b in zip(u[key], s[key]))
        return f"{statistics.median(u[key]) / statistics.median(s[key]):.2f}x ({paired:.2f}x)"
    rows.append(("vsock-user / virtio-serial", ratio("cat"), ratio("up"),
                 f"{_pct(u['exec'], 0.5) / _pct(s['exec'], 0.5):.2f}x",
                 f"{_pct(u['exec'], 0.99) / _pct(s['exec'], 0.99):.2f}x", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
