"""Hostile-guest throughput: each adversarial input class beside plain text.

A guest is untrusted and users ``cat`` binary files, so no input class may be
much slower than plain text (the goal: the worst class >= 0.2x plain text).
For every class below it prints the model's MB/s, plain text's MB/s measured
in the same run, their ratio, tmux's MB/s on the same bytes (``cat`` in a
detached 120x40 pane, as bench/terminal_throughput.py times it), the model's
traced memory after the run, and at the end the worst ratio.

    .venv/bin/python bench/terminal_adversarial.py [--size-mb N] [--no-tmux] [--repeat N]
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.terminal_corpus import _CJK, _WORDS  # noqa: E402
from bench.terminal_throughput import COLS, ROWS, time_tmux  # noqa: E402

from cctui.terminal import TerminalModel  # noqa: E402

CHUNK = 65536
FLUSH_EVERY = 4 * CHUNK  # what a pane reads per frame under a flood, roughly


def _repeat(unit: bytes, size: int) -> bytes:
    return unit * (size // len(unit) + 1)


def plain_text(size: int) -> bytes:
    rnd = random.Random(7)
    lines = []
    n = 0
    while n < size:
        line = (" ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(3, 20))) + "\r\n").encode()
        lines.append(line)
        n += len(line)
    return b"".join(lines)


def random_bytes(size: int) -> bytes:
    return random.Random(8).randbytes(size)


def combining(size: int) -> bytes:
    return _repeat(b"e" + "\u0301\u0323\u0302".encode() * 200 + b" ", size)


def huge_params(size: int) -> bytes:
    digits = b"9" * 5000
    return _repeat(b"\x1b[" + digits + b";" + digits + b"H\x1b[" + digits + b"m\x1b[?" + digits + b"h", size)


def osc_titles(size: int) -> bytes:
    return _repeat(b"\x1b]0;" + b"T" * 65536 + b"\x07" + b"\x1b]2;" + b"U" * 100_000 + b"\x1b\\", size)


def cjk_colours(size: int) -> bytes:
    rnd = random.Random(9)
    out = []
    n = 0
    while n < size:
        row = "".join("\x1b[38;5;%dm%s" % (rnd.randrange(200), rnd.choice(_CJK)) for _ in range(30))
        b = (row + "\x1b[0m\r\n").encode()
        out.append(b)
        n += len(b)
    return b"".join(out)


def sgr_padded_rows(size: int) -> bytes:
    row = "".join("\x1b[38;5;%d;48;5;%d;1;4;7;9m%s" % (i, 255 - i, chr(65 + i % 26)) for i in range(COLS))
    return _repeat((row + "\x1b[0m\r\n").encode(), size)


CLASSES: Dict[str, Callable[[int], bytes]] = {
    "repeated ESC[": lambda n: _repeat(b"\x1b[", n),
    "ESC[ with newlines": lambda n: _repeat(b"\x1b[" * 40 + b"\r\n", n),
    "DECALN ESC#8": lambda n: _repeat(b"\x1b#8", n),
    "CSI 9999 S/T": lambda n: _repeat(b"\x1b[9999S\x1b[9999T", n),
    "combining marks": combining,
    "huge CSI params": huge_params,
    "random bytes": random_bytes,
    "long OSC titles": osc_titles,
    "CJK in 200 colours": cjk_colours,
    "SGR-padded rows": sgr_padded_rows,
    "DSR queries ESC[6n": lambda n: _repeat(b"\x1b[6n", n),
}


REPEAT = 3


def run_model(data: bytes) -> Tuple[float, int]:
    """Seconds to emulate ``data`` (64 KiB feeds, read every 256 KiB; the best
    of REPEAT fresh models: the machine may be shared) and the model's traced
    memory afterwards (a separate, traced run)."""
    elapsed = float("inf")
    for _ in range(REPEAT):
        model = TerminalModel(ROWS, COLS, on_reply=lambda b: None)
        gc.collect()
        t = time.perf_counter()
        for i in range(0, len(data), CHUNK):
            model.feed(data[i:i + CHUNK])
            if (i + CHUNK) % FLUSH_EVERY == 0:
                model.flush()
        _ = model.cursor  # reading the state emulates whatever is still pending
        elapsed = min(elapsed, time.perf_counter() - t)
        del model
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    model = TerminalModel(ROWS, COLS, on_reply=lambda b: None)
    for i in range(0, len(data), CHUNK):
        model.feed(data[i:i + CHUNK])
    _ = model.cursor  # reading the state emulates whatever is still pending
    mem = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return elapsed, mem


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=2.0)
    ap.add_argument("--no-tmux", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated class names")
    ap.add_argument("--repeat", type=int, default=REPEAT, help="timed runs per class (the best counts)")
    args = ap.parse_args()
    globals()["REPEAT"] = max(1, args.repeat)
    size = int(args.size_mb * 1e6)
    use_tmux = not args.no_tmux and shutil.which("tmux") is not None
    tmpdir = tempfile.mkdtemp(prefix="cctui-adv-")

    def tmux_rate(data: bytes) -> float:
        if not use_tmux:
            return float("nan")
        path = os.path.join(tmpdir, "data")
        with open(path, "wb") as f:
            f.write(data)
        try:
            return len(data) / 1e6 / time_tmux(path)
        finally:
            os.unlink(path)

    plain = plain_text(size)
    t_plain, _ = run_model(plain)
    plain_rate = len(plain) / 1e6 / t_plain
    rows: List[Tuple[str, float, float, float, float]] = []
    wanted = set(filter(None, args.only.split(",")))
    for name, gen in CLASSES.items():
        if wanted and name not in wanted:
            continue
        data = gen(size)[:size]
        try:
            t, mem = run_model(data)
        except Exception as exc:  # a crash is a result too
            tracemalloc.stop()
            rows.append(("%s (raised %s)" % (name, type(exc).__name__), 0.0, plain_rate, tmux_rate(data), 0))
            continue
        t_plain, _ = run_model(plain)  # plain text again, beside each class
        plain_rate = len(plain) / 1e6 / t_plain
        rate = len(data) / 1e6 / t
        rows.append((name, rate, plain_rate, tmux_rate(data), mem))
    os.rmdir(tmpdir)

    print("\n%dx%d model, %.1f MB per class, %d-byte feeds, flush every %d KiB, best of %d runs\n"
          % (COLS, ROWS, size / 1e6, CHUNK, FLUSH_EVERY // 1024, REPEAT))
    print("| class | model MB/s | plain MB/s | ratio | tmux MB/s | model/tmux | model memory MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rate, prate, trate, mem in rows:
        print("| %s | %.2f | %.1f | %.3fx | %.1f | %.3fx | %.1f |"
              % (name, rate, prate, rate / prate, trate, rate / trate, mem / 1e6))
    worst = min(rows, key=lambda r: r[1] / r[2])
    print("\nworst class: %s at %.2fx plain text" % (worst[0], worst[1] / worst[2]))


if __name__ == "__main__":
    main()
