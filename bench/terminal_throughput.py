"""Terminal emulation throughput: plain pyte vs cctui's TerminalModel vs tmux.

For each corpus (bench/terminal_corpus.py, generated deterministically) it
prints MB/s for

* pyte: ``pyte.Screen(120, 40)`` + ``ByteStream`` fed 64 KiB chunks (on a
  prefix of the corpus: pyte needs ~30 s for 17 MB),
* model: ``TerminalModel(40, 120)`` fed the whole corpus in 64 KiB chunks,
* slice512: the same with ``flush()`` after every 512 KiB (what the pane does
  per layout slice), eager: ``flush()`` after every 64 KiB chunk,
* tmux: a detached ``tmux new -d -x 120 -y 40`` pane doing ``cat`` of the
  corpus file, timed from start to ``tmux wait-for`` returning,

and the ratios.  Then the memory of 16 models with a full 10 000-row scrollback.

    .venv/bin/python bench/terminal_throughput.py [--size-mb N] [--chunk BYTES]
"""
from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pyte

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.terminal_corpus import CORPORA  # noqa: E402

from cctui.terminal import TerminalModel  # noqa: E402

ROWS, COLS = 40, 120


def time_pyte(data: bytes, chunk: int) -> float:
    screen = pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    t = time.perf_counter()
    for i in range(0, len(data), chunk):
        stream.feed(data[i:i + chunk])
    return time.perf_counter() - t


def time_model(data: bytes, chunk: int, eager: bool = False, repeat: int = 3) -> float:
    """``eager``: emulate every chunk at once (as if the pane were read after
    each chunk); otherwise feed() coalesces up to 1 MiB until the state is read."""
    best = float("inf")
    for _ in range(repeat):
        model = TerminalModel(ROWS, COLS)
        gc.collect()
        t = time.perf_counter()
        for i in range(0, len(data), chunk):
            model.feed(data[i:i + chunk])
            if eager:
                model.flush()
        _ = model.cursor  # reading the state emulates whatever is still pending
        best = min(best, time.perf_counter() - t)
    return best


def time_tmux(path: str) -> float:
    sock = "cctui-bench-%d" % os.getpid()
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    conf.write("set -g history-limit 10000\nset -g status off\n")
    conf.close()
    tmux = ["tmux", "-L", sock, "-f", conf.name]
    try:
        t = time.perf_counter()
        subprocess.run(tmux + ["new-session", "-d", "-x", str(COLS), "-y", str(ROWS),
                               "cat %s; tmux -L %s wait-for -S done" % (path, sock)], check=True)
        subprocess.run(tmux + ["wait-for", "done"], check=True)
        return time.perf_counter() - t
    finally:
        subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL)
        os.unlink(conf.name)


def memory_16_models() -> tuple:
    data = CORPORA["log-sgr"](2_000_000)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    models = []
    for _ in range(16):
        m = TerminalModel(ROWS, COLS, scrollback=10_000)
        for i in range(0, len(data), 65536):
            m.feed(data[i:i + 65536])
        models.append(m)
    lazy = tracemalloc.get_traced_memory()[0] - base
    for m in models:  # scroll every pane all the way back: lays every row out
        for i in range(m.history_len):
            m._history.row(i)
    laid_out = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return [m.history_len for m in models][0], lazy, laid_out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=8.0, help="text corpora size")
    ap.add_argument("--cursor-mb", type=float, default=2.0, help="cursor-addressed corpus size")
    ap.add_argument("--pyte-mb", type=float, default=0.6, help="prefix fed to plain pyte")
    ap.add_argument("--chunk", type=int, default=65536)
    args = ap.parse_args()
    have_tmux = shutil.which("tmux") is not None
    rows = []
    tmpdir = tempfile.mkdtemp(prefix="cctui-bench-")
    for name, gen in CORPORA.items():
        size = int((args.cursor_mb if name == "vim-htop-session" else args.size_mb) * 1e6)
        data = gen(size)
        path = os.path.join(tmpdir, name)
        with open(path, "wb") as f:
            f.write(data)
        prefix = data[: int(args.pyte_mb * 1e6)]
        t_pyte = time_pyte(prefix, args.chunk)
        t_model_prefix = time_model(prefix, args.chunk)
        t_model = time_model(data, args.chunk)
        t_slice = time_model(data, 512 * 1024, eager=True)
        t_eager = time_model(data, args.chunk, eager=True)
        t_tmux = time_tmux(path) if have_tmux else float("nan")
        mb = len(data) / 1e6
        rows.append((name, mb, len(prefix) / 1e6 / t_pyte, len(prefix) / 1e6 / t_model_prefix,
                     mb / t_model, mb / t_slice, mb / t_eager, mb / t_tmux))
        os.unlink(path)
    os.rmdir(tmpdir)

    print("\n%dx%d, %d-byte chunks; pyte and 'model (same bytes)' on the first %.1f MB of each corpus"
          % (COLS, ROWS, args.chunk, args.pyte_mb))
    head = "%-17s %5s %9s %11s %10s %9s %10s %9s %10s %10s %11s %10s" % (
        "corpus", "MB", "pyte MB/s", "model(same)", "model MB/s", "slice512", "eager MB/s", "tmux MB/s",
        "model/pyte", "model/tmux", "slice/tmux", "eager/tmux")
    print(head)
    print("-" * len(head))
    for name, mb, pyte_rate, model_same, model_rate, slice_rate, eager_rate, tmux_rate in rows:
        print("%-17s %5.1f %9.2f %11.1f %10.1f %9.1f %10.1f %9.1f %9.1fx %9.2fx %10.2fx %9.2fx" % (
            name, mb, pyte_rate, model_same, model_rate, slice_rate, eager_rate, tmux_rate,
            model_same / pyte_rate, model_rate / tmux_rate, slice_rate / tmux_rate, eager_rate / tmux_rate))
    print("model: feed() coalescing up to 1 MiB until read; slice512: flush() after every 512 KiB "
          "(the pane's layout slice); eager: flush() after every %d-byte chunk" % args.chunk)

    hist, lazy, laid_out = memory_16_models()
    print("\nmemory, 16 models x %d-row scrollback at %d cols (tracemalloc): %.1f MB as fed, "
          "%.1f MB after laying out every scrollback row" % (hist, COLS, lazy / 1e6, laid_out / 1e6))


if __name__ == "__main__":
    main()
