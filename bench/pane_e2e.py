"""End-to-end pane benchmarks through the real app and a real VM (issue 5).

1. ``time cat`` of a 20 MB log (SGR colour) inside a guest pane of the app,
   beside ``time cat`` of the same file to /dev/null in the same guest (what the
   guest alone costs), and a host tmux pane ``cat`` of the same bytes.
2. Keystroke echo latency in one pane, idle and while another pane of the
   same app floods (``yes``): p50/p99 over N keys, from the key event to the
   character on the pane's screen (the guest's pty echoes it). The flood row is
   run with the app's typing priority (other panes yield while you type) and
   without it, and says how fast the flood went meanwhile; a last row types each
   key after a pause longer than the priority's hold (the flood at full speed).
3. ctrl+c typed into the flooding pane itself: time until its prompt is drawn.

    .venv/bin/python bench/pane_e2e.py [--keys 100] [--cold-keys 15] [--size-mb 20]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.terminal_corpus import CORPORA  # noqa: E402

from textual import events  # noqa: E402

from cctui.vm.machine import boot_async  # noqa: E402
from cctui.tui.app import CctuiApp  # noqa: E402
from cctui.server.typing_priority import HOLD  # noqa: E402

SIZE = (160, 48)
SHELL = ["env", "PS1=bench$ ", "TIMEFORMAT=real=%R", "bash", "--norc", "--noprofile"]


async def until(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


def screen_text(frame) -> str:
    model = frame.process.model
    return "\n".join(model.display)


def tmux_cat_seconds(path: str) -> float:
    """A detached 120x40 tmux pane doing ``cat`` of the file (the reference multiplexer)."""
    if not shutil.which("tmux"):
        return float("nan")
    name = f"cctui-bench-{os.getpid()}"
    subprocess.run(["tmux", "new", "-d", "-s", name, "-x", "120", "-y", "40"], check=True)
    try:
        start = time.perf_counter()
        subprocess.run(["tmux", "send-keys", "-t", name, f"cat {path}; tmux wait -S {name}", "Enter"],
                       check=True)
        subprocess.run(["tmux", "wait", name], check=True)
        return time.perf_counter() - start
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False)


async def pane_cat(vm, data_path: str, nbytes: int) -> tuple:
    app = CctuiApp(instances=[vm], first_command=SHELL)
    async with app.run_test(size=SIZE):
        frame = list(app.layout_widget.frames.values())[0]
        await until(lambda: "bench$" in screen_text(frame), 120, "the shell prompt")
        command = f"time cat {data_path}; time cat {data_path} > /dev/null"
        frame.process.write(command.encode() + b"\r")
        text = await until(lambda: screen_text(frame).count("real=") >= 2 and screen_text(frame),
                           600, "both timings")
        values = [float(line.split("real=")[1].split()[0])
                  for line in str(text).splitlines() if line.startswith("real=")]
        return values[-2], values[-1]


async def engine_pty_cat(vm, data_path: str) -> float:
    """The same ``cat`` on a guest pty of the pane's size, its output acked on arrival
    and thrown away: what the guest and the channel deliver with no emulator or app."""
    cmd = vm.command("cat", data_path).set_tty(SIZE[1] - 1, SIZE[0])
    cmd.set_window(2 << 20).set_output_handler(lambda data: cmd.ack(len(data)))
    start = time.perf_counter()
    await cmd.run()
    return time.perf_counter() - start


async def type_keys(app: CctuiApp, typer, keys: int, gap: float = 0.02) -> List[float]:
    """Seconds from each key event to its echo on the ``typer`` pane's screen."""
    model = typer.process.model
    samples: List[float] = []
    for i in range(keys):
        char = "abcdefghij"[i % 10]
        row, col = model.cursor.y, model.cursor.x
        start = time.perf_counter()
        # The key enters the app as a terminal driver delivers it; pilot.press
        # would also wait for the whole app to go idle, which a flood never does.
        app.post_message(events.Key(char, char))

        def echoed() -> bool:
            cursor = model.cursor
            # awaited below, in this iteration: the loop's row and col are current
            return cursor.x == col + 1 or cursor.y != row  # noqa: B023

        await until(echoed, 30, f"echo of key {i}")
        samples.append(time.perf_counter() - start)
        await asyncio.sleep(gap)            # a typist, not a paste
        if model.cursor.x > model.cols - 10:
            app.post_message(events.Key("ctrl+u", "\x15"))
            await until(lambda: model.cursor.x < 20, 30, "line cleared")
    return samples


async def typing_latency(vm, keys: int, flood: bool, priority: bool = True,
                         gap: float = 0.02) -> tuple:
    """Echo latencies with ``gap`` seconds between keys, and the flood's MB/s meanwhile."""
    app = CctuiApp(instances=[vm], first_command=SHELL)
    app.typing_priority.enabled = priority
    flood_rate = float("nan")
    async with app.run_test(size=SIZE) as pilot:
        typer = list(app.layout_widget.frames.values())[0]
        await until(lambda: "bench$" in screen_text(typer), 120, "the shell prompt")
        if flood:
            flooder = await app.open_pane(vm, ["yes", "a flood of output from another pane"],
                                          beside=typer.pane_id, direction="row")
            await until(lambda: flooder.process.model.history_len > 100, 60, "the flood")
            typer.view.focus()
        await pilot.pause()
        began, flooded = time.perf_counter(), flooder.process.received if flood else 0
        samples = await type_keys(app, typer, keys, gap)
        if flood:
            flood_rate = (flooder.process.received - flooded) / (time.perf_counter() - began) / 1e6
            flooder.process.kill()
    return samples, flood_rate


async def interrupt_latency(vm, times: int) -> List[float]:
    """ctrl+c typed into the pane that floods: seconds until its prompt is back on screen
    (the guest's queued output and the pane's backlog must be gone by then)."""
    app = CctuiApp(instances=[vm], first_command=SHELL)
    samples: List[float] = []
    async with app.run_test(size=SIZE):
        frame = list(app.layout_widget.frames.values())[0]
        await until(lambda: "bench$" in screen_text(frame), 120, "the shell prompt")
        for _ in range(times):
            before = frame.process.received
            frame.process.write(b"yes a flood of output in this pane\r")
            await until(lambda: frame.process.received > before + (4 << 20),  # noqa: B023 (awaited here)
                        60, "a full flood")
            start = time.perf_counter()
            app.post_message(events.Key("ctrl+c", "\x03"))
            await until(lambda: screen_text(frame).rstrip().endswith("bench$"), 60, "the prompt")
            samples.append(time.perf_counter() - start)
    return samples


async def engine_latency(vm, keys: int,
                         flood_argv: Sequence[str] = ("yes", "a flood of output from another pane"),
                         cols: int = 120) -> List[float]:
    """The same keystrokes without the app: what the guest and the channel cost
    while another exec of the same VM floods (its output consumed at once)."""
    flood = vm.command(*flood_argv).set_tty(40, cols)
    flood.set_window(2 << 20).set_output_handler(lambda data: flood.ack(len(data)))
    typer = vm.command("cat").set_tty(40, cols)
    echoed = asyncio.Event()
    typer.set_output_handler(lambda data: (echoed.set(), typer.ack(len(data))))
    await typer.start()
    await flood.start()
    samples: List[float] = []
    try:
        await asyncio.sleep(1.0)          # let the flood reach its steady state
        for _ in range(keys):
            echoed.clear()
            start = time.perf_counter()
            typer.write(b"x")
            await asyncio.wait_for(echoed.wait(), 30)
            samples.append(time.perf_counter() - start)
            await asyncio.sleep(0.02)
    finally:
        flood.kill()
        typer.kill()
    return samples


def pct(samples: List[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


async def main(args: argparse.Namespace) -> None:
    data = CORPORA["log-sgr"](args.size_mb * 1_000_000)
    vm = await boot_async("host", name="bench")
    try:
        await vm.write_file("/tmp/bench.log", data)
        guest_pane, guest_null = await pane_cat(vm, "/tmp/bench.log", len(data))
        guest_pty = await engine_pty_cat(vm, "/tmp/bench.log")
        with tempfile.NamedTemporaryFile(suffix=".log") as f:
            f.write(data)
            f.flush()
            tmux = tmux_cat_seconds(f.name)
        mb = len(data) / 1e6
        print(f"\n`cat` of a {mb:.0f} MB log with SGR colour, 160x48 app, {vm.accel}")
        print("| where | seconds | MB/s |")
        print("|---|---|---|")
        print(f"| guest pane of the cctui app | {guest_pane:.2f} | {mb / guest_pane:.1f} |")
        print(f"| same guest, `cat > /dev/null` | {guest_null:.2f} | {mb / guest_null:.1f} |")
        print(f"| same guest, `cat` on a pty, output acked at once, no app (engine only) "
              f"| {guest_pty:.2f} | {mb / guest_pty:.1f} |")
        print(f"| host tmux pane 120x40 (reference) | {tmux:.2f} | {mb / tmux:.1f} |")
        idle, _ = await typing_latency(vm, args.keys, flood=False)
        busy, busy_rate = await typing_latency(vm, args.keys, flood=True)
        plain, plain_rate = await typing_latency(vm, args.keys, flood=True, priority=False)
        # each key after a pause longer than the hold: the flood is at full speed when it comes
        pause = HOLD + 0.5
        cold, cold_rate = await typing_latency(vm, args.cold_keys, flood=True, gap=pause)
        engine = await engine_latency(vm, args.keys)
        interrupt = await interrupt_latency(vm, args.interrupts)
        print(f"\nkeystroke echo latency, {args.keys} keys, same VM")
        print("| condition | p50 ms | p99 ms | max ms | flood MB/s meanwhile |")
        print("|---|---|---|---|---|")
        for name, s, rate in (
                ("idle", idle, None),
                ("another pane runs `yes` (typing priority on, the default)", busy, busy_rate),
                ("another pane runs `yes`, typing priority off (reference)", plain, plain_rate),
                (f"another pane runs `yes`, {args.cold_keys} keys each after a {pause:.1f} s pause",
                 cold, cold_rate),
                ("no app, engine only: another exec runs `yes` (reference)", engine, None)):
            flood = "" if rate is None else f"{rate:.2f}"
            print(f"| {name} | {pct(s, 0.5):.1f} | {pct(s, 0.99):.1f} | {max(s) * 1000:.1f} | {flood} |")
        print(f"\nctrl+c in the pane that runs `yes`, until its prompt is drawn ({args.interrupts} times)")
        print("| p50 ms | max ms | reference: idle echo p50 ms |")
        print("|---|---|---|")
        print(f"| {pct(interrupt, 0.5):.1f} | {max(interrupt) * 1000:.1f} | {pct(idle, 0.5):.1f} |")
    finally:
        await vm.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--cold-keys", type=int, default=15)
    parser.add_argument("--interrupts", type=int, default=10)
    parser.add_argument("--size-mb", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
