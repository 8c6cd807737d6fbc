"""What the warm spare VM buys (issue 12): a new session's wait with and without one,
and what the idle spare costs.

    .venv/bin/python bench/spare.py [--rounds 5] [--idle-seconds 30]

Two private servers run side by side, each with a first session: one with
``spare = 1`` (``spare_idle = 1``), one with ``spare = 0``. Each round times, on
each server in turn, a plain ``new`` request until its pane's command has printed
a marker (request sent -> marker on the pane's screen), then kills that session.
Before each timed request the spare server's spare is ready, so both subjects run
beside the same idle VMs; the order alternates between rounds. Then the ready
spare's QEMU CPU use over ``--idle-seconds`` (``/proc/PID/stat`` utime+stime, % of
one core), beside the same for the first session's idle VM (a VM with a shell
waiting: the same-run reference). Last, keystroke echo in the spare server's first
pane (a key sent until the shell's echo is on the screen) with nothing booting,
while the spare boots (nice 10), and while an ordinary VM boots (nice 0) on the
other server: does the spare's boot delay a user's keys?
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

MARK = "spare-bench-ready"


class Server:
    def __init__(self, root: Path, spare: int) -> None:
        config = root / f"config{spare}"
        config.mkdir()
        (config / "config.toml").write_text(f"spare = {spare}\nspare_idle = 1\n")
        self.env = dict(os.environ, CCTUI_SOCKET_DIR=str(root / f"sock{spare}"),
                        CCTUI_CONFIG_DIR=str(config))
        self.env.pop("CCTUI_TRANSPORT", None)
        self.env.pop("CCTUI_SPARE", None)       # it would win over config.toml
        self.spare = spare

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "cctui", *args], env=self.env,
                              capture_output=True, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"cctui {' '.join(args)}: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

    def ls(self) -> dict:
        return dict(json.loads(self.cli("ls", "--json")))

    def timed_new(self, name: str) -> float:
        """Seconds from the request to the pane's command printing MARK (client start-up
        excluded: the client is this process, connected before the clock starts)."""
        os.environ["CCTUI_SOCKET_DIR"] = self.env["CCTUI_SOCKET_DIR"]
        from cctui.server.client import connect
        with connect() as conn:
            start = time.perf_counter()
            conn.request("new", name=name, argv=["sh", "-c", f"echo {MARK}-$((1+1)); exec sh"])
            conn.request("wait-text", target=name, text=f"{MARK}-2", timeout=300.0)
            took = time.perf_counter() - start
            conn.request("kill-session", target=name)
        return took


def key_echoes(server: Server, count: int, still: Callable[[Any], bool]) -> List[float]:
    """Seconds from a send-keys to its echo on the base pane's screen, ``count`` times,
    stopping early once ``still(connection)`` turns false (the boot under test ended)."""
    os.environ["CCTUI_SOCKET_DIR"] = server.env["CCTUI_SOCKET_DIR"]
    from cctui.server.client import connect
    took: List[float] = []
    with connect() as conn:
        for _ in range(count):
            if not still(conn):
                break
            token = f"k{time.monotonic_ns() % 10**9}"
            start = time.perf_counter()
            conn.request("send-keys", target="base", keys=[token], literal=True)
            conn.request("wait-text", target="base", text=token, timeout=60.0)
            took.append(time.perf_counter() - start)
            conn.request("send-keys", target="base", keys=["C-u"], literal=False)
    return took


def spare_booting(conn: Any) -> bool:
    """On the timing connection: an ls costs no CLI start (and does not count as activity)."""
    return bool(conn.request("ls")["spare"]["state"] == "booting")


def keys_while(server: Server, other: Server, count: int) -> Dict[str, List[float]]:
    """Key echo on ``server``'s base pane: quiet, during its spare's boot, during a
    plain boot on ``other``."""
    out: Dict[str, List[float]] = {"nothing booting": key_echoes(server, count, lambda conn: True)}
    server.timed_new("taker")                   # takes the spare: the next boots after 1 s idle
    deadline = time.monotonic() + 60
    while server.ls()["spare"]["state"] != "booting" and time.monotonic() < deadline:
        time.sleep(0.1)
    out["the spare booting (nice 10)"] = key_echoes(server, count, spare_booting)
    booted = threading.Thread(target=other.timed_new, args=("plain",))
    booted.start()
    while not other.ls()["sessions"][-1]["name"] == "plain" and booted.is_alive():
        time.sleep(0.05)
    out["a plain VM booting (nice 0), other server"] = key_echoes(server, count,
                                                                  lambda conn: booted.is_alive())
    booted.join()
    return out


def wait_spare(server: Server, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spare = server.ls()["spare"]
        if spare["state"] == "ready":
            return int(spare["qemu_pid"])
        time.sleep(0.5)
    raise SystemExit("the spare VM was not ready in time")


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])        # utime, stime (fields 14, 15)


def idle_cpu(pids: Dict[str, int], seconds: float) -> Dict[str, float]:
    before = {name: cpu_ticks(pid) for name, pid in pids.items()}
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    hz = os.sysconf("SC_CLK_TCK")
    return {name: 100.0 * (cpu_ticks(pid) - before[name]) / hz / elapsed for name, pid in pids.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--keys", type=int, default=100, help="keystrokes timed per condition")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cctui-bench-spare-"))
    servers = {1: Server(root, 1), 0: Server(root, 0)}
    try:
        for server in servers.values():
            server.cli("new", "-d", "-s", "base", "--", "sh")
        times: Dict[int, List[float]] = {0: [], 1: []}
        for n in range(args.rounds):
            for spare in ((0, 1) if n % 2 == 0 else (1, 0)):
                wait_spare(servers[1])
                took = servers[spare].timed_new(f"r{n}")
                times[spare].append(took)
                print(f"round {n + 1}: {'with' if spare else 'without'} a spare {took:.2f} s", flush=True)
        spare_pid = wait_spare(servers[1])
        base = servers[1].ls()["sessions"][0]["vms"][0]
        accel = base["accel"]
        cpu = idle_cpu({"spare": spare_pid, "session": int(base["qemu_pid"])}, args.idle_seconds)
        keys = keys_while(servers[1], servers[0], args.keys)
        print()
        print(f"| new session to its command running ({accel}, median of {args.rounds}) | seconds |")
        print("|---|---|")
        for spare, label in ((0, "no spare (spare = 0): boots a VM"), (1, "ready spare (spare = 1)")):
            print(f"| {label} | {statistics.median(times[spare]):.2f} "
                  f"(min {min(times[spare]):.2f}, max {max(times[spare]):.2f}) |")
        print()
        print(f"| idle QEMU over {args.idle_seconds:g} s | CPU, % of one core |")
        print("|---|---|")
        print(f"| the spare (nice 10, nothing started in it) | {cpu['spare']:.1f} |")
        print(f"| reference: a session's VM, a shell waiting | {cpu['session']:.1f} |")
        print()
        print("| keystroke to its echo on the screen | keys timed | median ms | p90 ms |")
        print("|---|---|---|---|")
        for label, samples in keys.items():
            ordered = sorted(samples) or [float("nan")]
            p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
            print(f"| {label} | {len(samples)} | {statistics.median(ordered) * 1000:.0f} | {p90 * 1000:.0f} |")
    finally:
        for server in servers.values():
            subprocess.run([sys.executable, "-m", "cctui", "kill-server"], env=server.env,
                           capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
