"""Sessions that outlive the TUI: the client/server benchmarks (issue 11).

Every server here is a fresh ``python -m cctui server`` in a temporary socket
directory (CCTUI_SOCKET_DIR), with no spare VM (CCTUI_SPARE=0), allowed the
local-agent image (no VM) where a row says "local image". Each row is measured beside a reference from the same run.

1. Attach: a session of 16 panes (4 windows of 2x2) on the local image, each pane
   holding a full scrollback (12 000 SGR-coloured lines printed). Timed from the
   attach call to (a) with a plain ``Attachment.open`` (what ``cctui attach``
   opens): every pane of the current window with its full SCREEN applied, and
   every pane of the session; (b) the real TUI, ``AttachedApp`` headless at 160x48:
   every visible pane's TerminalView has drawn its bottom rows at the size it shows
   (the strips it rendered hold the pane's last line). References in the same run:
   ``cctui capture-pane -p`` of one pane, the same two measures for a 1-pane
   session with no scrollback, and the TUI's for the same 16 panes with none.
2. Throughput: ``time cat`` of the 20 MB SGR log (bench/terminal_corpus.py) in a
   pane of an attached session (the server's VM, its own boot) and in the
   in-process CctuiApp's pane (``bench/pane_e2e.py``'s ``pane_cat``, a second VM
   booted here), alternating, beside ``cat > /dev/null`` in each guest, the guest
   pty with no app (``engine_pty_cat``) and the terminal model fed the bytes in
   this process (``bench/terminal_throughput.py``'s ``time_model``).
3. Keystroke echo through server and AttachedApp (pane_e2e's ``type_keys``: a key
   event to its echo on the client's copy of the screen), idle and with ``yes`` in
   another pane of the session, beside the in-process app's rows
   (pane_e2e's ``typing_latency``) on the same machine in the same run.
4. Server CPU (utime+stime of the server process, /proc/PID/stat) with 8 panes
   running ``sh`` idle on the local image: no client attached, then one
   AttachedApp attached.

    .venv/bin/python bench/attach.py [--sections attach,cat,echo,cpu] [--rounds 5]
        [--keys 100] [--size-mb 20] [--cpu-seconds 30] [--skip-vm]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.pane_e2e import (SHELL, SIZE, engine_pty_cat, pane_cat, pct, screen_text,  # noqa: E402
                            type_keys, typing_latency, until)
from bench.terminal_corpus import CORPORA  # noqa: E402
from bench.terminal_throughput import time_model  # noqa: E402

from cctui.client import Attachment  # noqa: E402
from cctui.server import client as server_client  # noqa: E402
from cctui.tui.attached_app import AttachedApp, _pane_ids  # noqa: E402

FLOOD = ["yes", "a flood of output from another pane"]
FILL_LINES = 12_000


# -- a server of our own -----------------------------------------------------------------------
class Server:
    def __init__(self, where: str, proc: subprocess.Popen) -> None:
        self.where, self.proc = where, proc
        self.env = dict(os.environ, CCTUI_SOCKET_DIR=where, CCTUI_ALLOW_LOCAL_IMAGE="1", CCTUI_SPARE="0")

    def conn(self) -> server_client.Connection:
        return server_client.connect(start=False)

    def request(self, op: str, **args: Any) -> Dict[str, Any]:
        with self.conn() as conn:
            return conn.request(op, **args)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server() -> Iterator[Server]:
    """A fresh server in its own socket directory; CCTUI_SOCKET_DIR points at it meanwhile
    (Attachment.open and server_client.connect find it there)."""
    where = tempfile.mkdtemp(prefix="cctui-bench-attach-")
    env = dict(os.environ, CCTUI_SOCKET_DIR=where, CCTUI_ALLOW_LOCAL_IMAGE="1", CCTUI_SPARE="0")
    read_end, write_end = os.pipe()
    log = open(os.path.join(where, "server.log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "cctui", "server", "--ready-fd", str(write_end)],
                            pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            env=env, start_new_session=True)
    os.close(write_end)
    old = os.environ.get("CCTUI_SOCKET_DIR")
    os.environ["CCTUI_SOCKET_DIR"] = where
    try:
        if not select.select([read_end], [], [], 60)[0] or os.read(read_end, 64).strip() != b"ok":
            raise RuntimeError(f"the server did not start: see {where}/server.log")
        yield Server(where, proc)
    finally:
        os.close(read_end)
        with contextlib.suppress(Exception):
            server_client.connect(start=False).request("kill-server")
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if old is None:
            os.environ.pop("CCTUI_SOCKET_DIR", None)
        else:
            os.environ["CCTUI_SOCKET_DIR"] = old
        shutil.rmtree(where, ignore_errors=True)


def fill_script(k: int, lines: int = FILL_LINES) -> List[str]:
    awk = ("BEGIN{for(i=1;i<=%d;i++) printf \"\\033[3%%dmline %%d\\033[0m of pane %d, "
           "some text to fill a row of the pane\\n\", i%%8, i}" % (lines, k))
    return ["sh", "-c", f"awk '{awk}'; echo FILLED-{k}; exec cat"]


def make_big_session(srv: Server, name: str, windows: int = 4, lines: int = FILL_LINES) -> List[str]:
    """``windows`` windows of 2x2 panes on the local image, each pane's scrollback full;
    the session made at the TUI's size (46x160: 160x48 less the status lines)."""
    rows, cols = SIZE[1] - 2, SIZE[0]
    panes: List[str] = []
    with srv.conn() as conn:
        conn.request("new", name=name, image="local", argv=fill_script(0, lines), rows=rows, cols=cols)
        for w in range(windows):
            if w:
                first = conn.request("new-window", target=name, argv=fill_script(len(panes), lines))["id"]
            else:
                first = next(p["id"] for s in conn.request("ls")["sessions"] if s["name"] == name
                             for win in s["windows"] for p in win["panes"])
            panes.append(first)
            right = conn.request("split-window", target=first, horizontal=True,
                                 argv=fill_script(len(panes), lines))["id"]
            panes.append(right)
            panes.append(conn.request("split-window", target=first, argv=fill_script(len(panes), lines))["id"])
            panes.append(conn.request("split-window", target=right, argv=fill_script(len(panes), lines))["id"])
        for k, pane in enumerate(panes):
            conn.request("wait-text", target=pane, text=f"FILLED-{k}", timeout=300)
        conn.request("select-window", target=f"{name}:0")
    return panes


def make_small_session(srv: Server, name: str) -> str:
    rows, cols = SIZE[1] - 2, SIZE[0]
    with srv.conn() as conn:
        conn.request("new", name=name, image="local", argv=["sh", "-c", "echo FILLED-S; exec cat"],
                     rows=rows, cols=cols)
        pane = next(p["id"] for s in conn.request("ls")["sessions"] if s["name"] == name
                    for win in s["windows"] for p in win["panes"])
        conn.request("wait-text", target=pane, text="FILLED-S")
    return pane


# -- 1. attach -----------------------------------------------------------------------------------
async def plain_attach(session: str) -> Tuple[float, float, int]:
    """Attachment.open until the current window's panes, then all panes, have a full
    SCREEN applied (pumped here as a view would). Seconds, seconds, history rows seen."""
    rows, cols = SIZE[1] - 2, SIZE[0]
    start = time.perf_counter()
    attachment = await Attachment.open(session, rows, cols)
    try:
        layout = attachment.layout
        assert layout is not None
        current = next(w for w in layout.windows if w.index == layout.current)
        shown = _pane_ids(current.root)
        t_current = t_all = 0.0
        while not t_all:
            for pane in attachment.panes.values():
                if pane.has_pending:
                    pane.pump(1.0)
            if not t_current and all(attachment.panes[p].model.updates for p in shown):
                t_current = time.perf_counter() - start
            if t_current and all(p.model.updates for p in attachment.panes.values()):
                t_all = time.perf_counter() - start
            else:
                await asyncio.sleep(0.001)
            if time.perf_counter() - start > 120:
                raise TimeoutError("full screens after attach")
        history = min(p.model.history_len for p in attachment.panes.values())
    finally:
        await attachment.close()
    return t_current, t_all, history


def drawn(app: AttachedApp, expected: int) -> bool:
    """Every pane of the shown window drew its last line at the size the view has."""
    frames = list(app.layout_widget.frames.values())
    if len(frames) != expected:
        return False
    for frame in frames:
        view = frame.view
        model = view.process.model
        if not model.updates or (model.rows, model.cols) != (view.size.height, view.size.width):
            return False
        if not any("FILLED-" in strip.text for strip in list(view._cache.values())):
            return False
    return True


async def tui_attach(session: str, panes_shown: int) -> float:
    """AttachedApp headless: seconds from its start to every shown pane drawn."""
    app = AttachedApp(session)
    start = time.perf_counter()
    async with app.run_test(size=SIZE):
        await until(lambda: drawn(app, panes_shown), 120, "the panes drawn")
        took = time.perf_counter() - start
    return took


def capture_seconds(srv: Server, pane: str) -> float:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "cctui", "capture-pane", "-p", "-t", pane],
                         env=srv.env, check=True, capture_output=True)
    took = time.perf_counter() - start
    assert b"FILLED-" in out.stdout, out.stdout[-300:]
    return took


def summary(samples: List[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} | {max(samples) * 1000:.0f}"


async def bench_attach(args: argparse.Namespace) -> None:
    with server() as srv:
        made = time.perf_counter()
        panes = await asyncio.to_thread(make_big_session, srv, "big")
        made = time.perf_counter() - made
        small = await asyncio.to_thread(make_small_session, srv, "small")
        await asyncio.to_thread(make_big_session, srv, "empty", 4, 0)
        await tui_attach("empty", 4)
        first_tui = await tui_attach("big", 4)      # the views' sizes reach the server: panes resized
        rows: Dict[str, List[float]] = {}
        history = 0
        for _ in range(args.rounds):
            cur, every, history = await plain_attach("big")
            rows.setdefault("big-current", []).append(cur)
            rows.setdefault("big-all", []).append(every)
            rows.setdefault("big-tui", []).append(await tui_attach("big", 4))
            rows.setdefault("capture", []).append(await asyncio.to_thread(capture_seconds, srv, panes[0]))
            cur, _, _ = await plain_attach("small")
            rows.setdefault("small-plain", []).append(cur)
            rows.setdefault("small-tui", []).append(await tui_attach("small", 1))
            rows.setdefault("empty-tui", []).append(await tui_attach("empty", 4))
    print(f"\nattach to a session of {len(panes)} panes (4 windows of 2x2, local image), each with "
          f"{history} scrollback rows ({FILL_LINES} SGR lines printed; made in {made:.1f} s); "
          f"{args.rounds} rounds, load {loadavg()}")
    print("| from the attach call until | median ms | max ms |")
    print("|---|---|---|")
    print(f"| `Attachment.open`: the 4 panes of the current window have their full SCREEN | "
          f"{summary(rows['big-current'])} |")
    print(f"| `Attachment.open`: all 16 panes have their full SCREEN | {summary(rows['big-all'])} |")
    print(f"| AttachedApp headless 160x48: the 4 shown panes drawn (goal <= 250 ms) | "
          f"{summary(rows['big-tui'])} |")
    print(f"| same, the first attach (the server resizes each pane to its view: re-wraps the "
          f"scrollback) | {first_tui * 1000:.0f} | |")
    print(f"| reference: `cctui capture-pane -p` of one pane (a process start) | {summary(rows['capture'])} |")
    print(f"| reference: `Attachment.open` of a 1-pane session, no scrollback | {summary(rows['small-plain'])} |")
    print(f"| reference: AttachedApp of a 1-pane session, no scrollback | {summary(rows['small-tui'])} |")
    print(f"| reference: AttachedApp of the same 16-pane layout, no scrollback | {summary(rows['empty-tui'])} |")
    del small


# -- 2. throughput ---------------------------------------------------------------------------
async def attached_cat(session: str, path: str, mark: str) -> Tuple[float, float]:
    """pane_e2e.pane_cat's command in the shell pane of an attached session: (pane s, /dev/null s).
    ``mark`` names this round's timings (the pane keeps the earlier rounds' on screen)."""
    app = AttachedApp(session)
    async with app.run_test(size=SIZE):
        frame = await until(lambda: next(iter(app.layout_widget.frames.values()), None), 120, "the pane")
        await until(lambda: "bench$" in screen_text(frame), 120, "the shell prompt")
        frame.process.write(f"TIMEFORMAT={mark}=%R; time cat {path}; time cat {path} > /dev/null\r".encode())

        def timings() -> List[float]:
            return [float(line.split("=")[1].split()[0])
                    for line in screen_text(frame).splitlines() if line.startswith(f"{mark}=")]
        values = await until(lambda: len(timings()) >= 2 and timings(), 600, "both timings")
    return values[-2], values[-1]


def upload(srv: Server, session: str, local: str, remote: str) -> None:
    with open(local, "rb") as f, srv.conn() as conn:
        code = conn.exec(session, ["sh", "-c", f"cat > {remote}"], None, f.fileno(),
                         sys.stdout.buffer, sys.stderr.buffer)
    assert code == 0, code


async def bench_cat(args: argparse.Namespace) -> None:
    from cctui.vm.machine import boot_async
    data = CORPORA["log-sgr"](args.size_mb * 1_000_000)
    mb = len(data) / 1e6
    engine = time_model(data, 1 << 16, repeat=1)
    with server() as srv, tempfile.NamedTemporaryFile(suffix=".log") as f:
        f.write(data)
        f.flush()
        rows, cols = SIZE[1] - 2, SIZE[0]
        await asyncio.to_thread(srv.request, "new", name="tput", image="host", argv=SHELL, rows=rows, cols=cols)
        await asyncio.to_thread(upload, srv, "tput", f.name, "/tmp/bench.log")
        vm = await boot_async("host", name="bench-inproc")
        try:
            await vm.write_file("/tmp/bench.log", data)
            accel = vm.accel
            results: Dict[str, List[float]] = {}
            for n in range(args.cat_rounds):
                a_pane, a_null = await attached_cat("tput", "/tmp/bench.log", f"round{n}")
                b_pane, b_null = await pane_cat(vm, "/tmp/bench.log", len(data))
                for key, value in (("a", a_pane), ("a-null", a_null), ("b", b_pane), ("b-null", b_null)):
                    results.setdefault(key, []).append(value)
            pty = await engine_pty_cat(vm, "/tmp/bench.log")
        finally:
            await vm.close()

    def row(name: str, samples: List[float]) -> str:
        m = statistics.median(samples)
        spread = ", ".join(f"{s:.2f}" for s in samples)
        return f"| {name} | {m:.2f} ({spread}) | {mb / m:.1f} |"
    print(f"\n`cat` of a {mb:.0f} MB log with SGR colour, 160x48 app, {accel}, {args.cat_rounds} rounds "
          f"alternating, median (each round); load {loadavg()}")
    print("| where | seconds | MB/s |")
    print("|---|---|---|")
    print(row("attached pane: server (its own VM) + AttachedApp headless", results["a"]))
    print(row("in-process CctuiApp pane (`pane_e2e.pane_cat`, a second VM)", results["b"]))
    print(row("server's guest, `cat > /dev/null`", results["a-null"]))
    print(row("in-process app's guest, `cat > /dev/null`", results["b-null"]))
    print(row("second VM, `cat` on a pty, output acked at once, no app (`engine_pty_cat`)", [pty]))
    print(row("TerminalModel 120x40 fed the bytes in this process (engine-only ceiling)", [engine]))


# -- 3. echo ------------------------------------------------------------------------------------
async def attached_latency(session: str, keys: int, flood: bool) -> Tuple[List[float], float]:
    """type_keys through server and AttachedApp; with ``flood``, ``yes`` runs in a second
    pane of the session meanwhile. Latencies and the flood's rows/s (the server's count)."""
    app = AttachedApp(session)
    rate = float("nan")
    async with app.run_test(size=SIZE) as pilot:
        typer = await until(lambda: next(iter(app.layout_widget.frames.values()), None), 120, "the pane")
        await until(lambda: "bench$" in screen_text(typer), 120, "the shell prompt")
        flooder = None
        if flood:
            assert app.attachment is not None
            reply = await app.attachment.request("split-window", target=typer.pane_id, horizontal=True,
                                                 argv=FLOOD)
            flooder = await until(lambda: app.layout_widget.frames.get(reply["id"]), 60, "the flood pane")
            await until(lambda: flooder.process.model.pushed > 1000, 60, "the flood")
            await app.attachment.request("select-pane", target=typer.pane_id)
            await asyncio.sleep(0.2)            # the LAYOUT that says so
            typer.view.focus()
            await until(lambda: app.focused is typer.view, 10, "the typing pane focused")
        await pilot.pause()
        began = time.perf_counter()
        pushed = flooder.process.model.pushed if flooder is not None else 0
        samples = await type_keys(app, typer, keys)
        if flooder is not None:
            rate = (flooder.process.model.pushed - pushed) / (time.perf_counter() - began)
            assert app.attachment is not None
            await app.attachment.request("kill-pane", target=flooder.pane_id)
    return samples, rate


async def bench_echo(args: argparse.Namespace) -> None:
    from cctui.vm.machine import boot_async
    image = "local" if args.skip_vm else "host"
    rows, cols = SIZE[1] - 2, SIZE[0]
    with server() as srv:
        await asyncio.to_thread(srv.request, "new", name="echo", image=image, argv=SHELL, rows=rows, cols=cols)
        idle, _ = await attached_latency("echo", args.keys, flood=False)
        busy, rate = await attached_latency("echo", args.keys, flood=True)
    ref_idle = ref_busy = None
    ref_rate = float("nan")
    if not args.skip_vm:
        vm = await boot_async("host", name="bench-inproc")
        try:
            ref_idle, _ = await typing_latency(vm, args.keys, flood=False)
            ref_busy, ref_rate = await typing_latency(vm, args.keys, flood=True)
        finally:
            await vm.close()
    where = "the local image (no VM)" if args.skip_vm else "a VM"
    print(f"\nkeystroke echo latency, {args.keys} keys, shell in {where}; load {loadavg()}")
    print("| condition | p50 ms | p99 ms | max ms | flood meanwhile |")
    print("|---|---|---|---|---|")
    for name, s, flood in (
            ("attached (server + AttachedApp): idle (goal p99 <= 20 ms)", idle, ""),
            ("attached: another pane of the session runs `yes` (goal p99 <= 50 ms)", busy,
             f"{rate:.0f} rows/s (~{rate * 36 / 1e6:.2f} MB/s)"),
            ("in-process CctuiApp, its own VM: idle (reference)", ref_idle, ""),
            ("in-process CctuiApp: another pane runs `yes`, typing priority on (reference)", ref_busy,
             f"{ref_rate:.2f} MB/s")):
        if s is None:
            continue
        print(f"| {name} | {pct(s, 0.5):.1f} | {pct(s, 0.99):.1f} | {max(s) * 1000:.1f} | {flood} |")


# -- 4. server CPU ---------------------------------------------------------------------------
async def bench_cpu(args: argparse.Namespace) -> None:
    seconds = args.cpu_seconds
    rows, cols = SIZE[1] - 2, SIZE[0]
    with server() as srv:
        def make() -> None:
            with srv.conn() as conn:
                conn.request("new", name="idle", image="local", argv=["sh"], rows=rows, cols=cols)
                first = conn.request("ls")["sessions"][0]["windows"][0]["panes"][0]["id"]
                for i in range(7):
                    conn.request("split-window" if i < 3 else "new-window",
                                 target=first if i < 3 else "idle", argv=["sh"])
                conn.request("select-window", target="idle:0")
        await asyncio.to_thread(make)
        await asyncio.sleep(2.0)                # the shells' prompts, the first layouts

        async def window() -> float:
            before, start = srv.cpu_seconds(), time.perf_counter()
            await asyncio.sleep(seconds)
            return (srv.cpu_seconds() - before) / (time.perf_counter() - start) * 100
        detached = await window()
        app = AttachedApp("idle")
        async with app.run_test(size=SIZE):
            await until(lambda: len(app.layout_widget.frames) == 4, 60, "the panes")
            await asyncio.sleep(2.0)
            attached = await window()
        after = await window()
    tick = 100 / os.sysconf("SC_CLK_TCK")
    print(f"\nserver CPU, 8 panes running `sh` (local image), {seconds:.0f} s each; load {loadavg()}")
    print("| condition | % of one core |")
    print("|---|---|")
    print(f"| no client attached | {detached:.2f} |")
    print(f"| one AttachedApp attached (headless 160x48, idle) | {attached:.2f} |")
    print(f"| no client again (after it detached) | {after:.2f} |")
    print(f"| (resolution: one clock tick over the window) | {tick / seconds:.2f} |")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


async def main(args: argparse.Namespace) -> None:
    sections = args.sections.split(",")
    print(f"load at start: {loadavg()}, {os.cpu_count()} cores")
    if "attach" in sections:
        await bench_attach(args)
    if "cpu" in sections:
        await bench_cpu(args)
    if "echo" in sections:
        await bench_echo(args)
    if "cat" in sections and not args.skip_vm:
        await bench_cat(args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="attach,cpu,echo,cat")
    parser.add_argument("--rounds", type=int, default=5, help="attach rounds")
    parser.add_argument("--cat-rounds", type=int, default=2)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--cpu-seconds", type=float, default=30.0)
    parser.add_argument("--skip-vm", action="store_true", help="no VM: echo on the local image, no cat")
    asyncio.run(main(parser.parse_args()))
