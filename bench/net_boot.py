"""What a NIC costs a boot: `cctui.boot()` with and without `--net`, alternated, medians.

    .venv/bin/python bench/net_boot.py [--runs 7] [--accel auto|kvm|tcg]

Wall time to a ready agent and the kernel's uptime when the init had loaded its
modules and configured the NIC (the agent's ``modules`` boot mark).
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Dict, List

import cctui


def _one(accel: str, net: bool) -> Dict[str, float]:
    start = time.perf_counter()
    vm = cctui.boot(accel=accel, net=net)
    wall = time.perf_counter() - start
    try:
        session = vm.aio.session
        marks = (session.hello.get("boot") or {}) if session is not None else {}
        return {"wall": wall, "modules": float(marks.get("modules", "nan")),
                "init": float(marks.get("init", "nan")), "kvm": float(vm.accel == "kvm")}
    finally:
        vm.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--accel", default="auto")
    args = parser.parse_args()
    accel = "kvm" if _one(args.accel, True)["kvm"] else "tcg"   # also warms the caches
    results: Dict[bool, List[Dict[str, float]]] = {False: [], True: []}
    for _ in range(args.runs):
        for net in (False, True):
            results[net].append(_one(args.accel, net))
    print(f"| boot ({accel}, median of {args.runs}) | to ready agent | init: modules (+NIC) |")
    print("|---|---|---|")
    for net in (False, True):
        rows = results[net]
        wall = statistics.median(r["wall"] for r in rows) * 1000
        mods = statistics.median(r["modules"] - r["init"] for r in rows) * 1000
        print(f"| {'--net' if net else 'no network (default)'} | {wall:.0f} ms | {mods:.0f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
