"""Copy throughput: copy_to / copy_from of one file beside a host ``cp`` of it, same run.

Boots one VM (``cctui.boot``, the library's own route) and, with ``--server``,
also measures through a private cctui server with ``cctui.connect`` (the route
``cctui cp`` takes: the bytes are relayed by a second agent in the guest). Rounds
alternate the directions and the host ``cp`` so a busy spell on this shared
host hits all of them; the median MB/s of the rounds is printed.

    .venv/bin/python bench/file_copy.py [--mb 100] [--rounds 3] [--server]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cctui  # noqa: E402


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def rounds(vm: cctui.Instance, src: Path, work: Path, size: int, count: int,
           results: Dict[str, List[float]], prefix: str) -> None:
    mb = size / 1e6
    for _ in range(count):
        results.setdefault("host cp", []).append(
            mb / timed(lambda: shutil.copyfile(src, work / "cp")))
        os.unlink(work / "cp")
        results.setdefault(f"{prefix} host->guest", []).append(
            mb / timed(lambda: vm.copy_to(str(src), "/tmp/bench")))
        results.setdefault(f"{prefix} guest->host", []).append(
            mb / timed(lambda: vm.copy_from("/tmp/bench", str(work / "back"))))
        os.unlink(work / "back")
        vm.command("rm", "-f", "/tmp/bench").run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", action="store_true", help="also through a private server")
    args = parser.parse_args()
    size = args.mb * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="cctui-bench-copy-"))
    results: Dict[str, List[float]] = {}
    try:
        src = work / "src"
        with open(src, "wb") as f:
            for _ in range(args.mb):
                f.write(os.urandom(1024 * 1024))
        with cctui.boot(memory_mb=max(1024, 3 * args.mb)) as vm:
            print(f"VM transport: {vm.transport}", flush=True)
            rounds(vm, src, work, size, args.rounds, results, "boot()")
        if args.server:
            env = dict(os.environ, CCTUI_SOCKET_DIR=str(work / "sock"))
            os.environ["CCTUI_SOCKET_DIR"] = env["CCTUI_SOCKET_DIR"]
            cli = [sys.executable, "-m", "cctui"]
            subprocess.run(cli + ["new", "-d", "-s", "bench", "--", "sh"], env=env, check=True)
            try:
                with cctui.connect("bench") as vm:
                    rounds(vm, src, work, size, args.rounds, results, "connect()")
            finally:
                subprocess.run(cli + ["kill-server"], env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'copy of ' + str(args.mb) + ' MiB':<24} {'MB/s (median)':>14}  rounds")
    for name, values in results.items():
        print(f"{name:<24} {statistics.median(values):>14.1f}  "
              + " ".join(f"{v:.1f}" for v in values))


if __name__ == "__main__":
    main()
