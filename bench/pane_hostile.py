"""A hostile stream in one pane must not delay a keystroke in another (issue 9).

The real app (headless, 160x48) and a real VM: pane B ``cat``s each adversarial
class of bench/terminal_adversarial.py in a loop while keys are typed into
pane A (a shell); echo latency p50/p99/max from the key event to the
character on A's screen, and how fast B's stream went meanwhile. Plain text
is the reference row, and a run without the app's typing priority (B keeps
its full window while A is typed in) shows what the slicing alone holds.

    .venv/bin/python bench/pane_hostile.py [--keys 40] [--size-mb 2] [--classes a,b]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.pane_e2e import (SHELL, SIZE, engine_latency, pct, screen_text,  # noqa: E402
                            type_keys, until)
from bench.terminal_adversarial import CLASSES, plain_text  # noqa: E402

from cctui.vm.machine import boot_async  # noqa: E402
from cctui.tui.app import CctuiApp  # noqa: E402


async def echo_beside(vm, path: str, keys: int, priority: bool) -> Tuple[List[float], float]:
    """Echo latencies in pane A while pane B loops ``cat path``; B's MB/s meanwhile."""
    app = CctuiApp(instances=[vm], first_command=SHELL)
    app.typing_priority.enabled = priority
    async with app.run_test(size=SIZE) as pilot:
        typer = list(app.layout_widget.frames.values())[0]
        await until(lambda: "bench$" in screen_text(typer), 120, "the shell prompt")
        flooder = await app.open_pane(vm, ["sh", "-c", f"while :; do cat {path}; done"],
                                      beside=typer.pane_id, direction="row")
        await until(lambda: flooder.process.received > 256 * 1024, 120, "the stream")
        typer.view.focus()
        await pilot.pause()
        began, streamed = time.perf_counter(), flooder.process.received
        samples = await type_keys(app, typer, keys)
        rate = (flooder.process.received - streamed) / (time.perf_counter() - began) / 1e6
        flooder.process.kill()
    return samples, rate


async def main(args: argparse.Namespace) -> None:
    streams = {"plain text": plain_text, **CLASSES}
    names = ["plain text"] + (args.classes.split(",") if args.classes else list(CLASSES))
    vm = await boot_async("host", name="bench")
    try:
        size = args.size_mb * 1_000_000
        for i, name in enumerate(names):
            await vm.write_file(f"/tmp/class{i}.bin", streams[name](size)[:size])
        rows = []
        for i, name in enumerate(names):
            on, on_rate = await echo_beside(vm, f"/tmp/class{i}.bin", args.keys, priority=True)
            off, off_rate = await echo_beside(vm, f"/tmp/class{i}.bin", args.keys, priority=False)
            # the reference: no app, outputs acked on arrival, nothing emulated
            loop_cat = ["sh", "-c", f"while :; do cat /tmp/class{i}.bin; done"]
            bare = await engine_latency(vm, args.keys, loop_cat, cols=SIZE[0] // 2)
            rows.append((name, on, on_rate, off, off_rate, bare))
            print(f"  {name}: p99 {pct(on, 0.99):.0f} / {pct(off, 0.99):.0f} ms", file=sys.stderr)
        print(f"\necho latency in pane A while pane B streams each class, {args.keys} keys, "
              f"{vm.accel}, 160x48")
        print("| pane B streams | p50 ms | p99 ms | max ms | B MB/s | no priority: p50 ms | p99 ms "
              "| max ms | B MB/s | no app (reference): p50 ms | p99 ms |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name, on, on_rate, off, off_rate, bare in rows:
            print(f"| {name} | {pct(on, 0.5):.1f} | {pct(on, 0.99):.1f} | {max(on) * 1000:.1f} "
                  f"| {on_rate:.2f} | {pct(off, 0.5):.1f} | {pct(off, 0.99):.1f} "
                  f"| {max(off) * 1000:.1f} | {off_rate:.2f} | {pct(bare, 0.5):.1f} | {pct(bare, 0.99):.1f} |")
        worst = max(rows[1:], key=lambda r: pct(r[3], 0.99))
        print(f"\nworst class without priority: {worst[0]}, p99 {pct(worst[3], 0.99):.1f} ms "
              f"(plain text {pct(rows[0][3], 0.99):.1f} ms)")
    finally:
        await vm.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--size-mb", type=int, default=2)
    parser.add_argument("--classes", default="")
    asyncio.run(main(parser.parse_args()))
