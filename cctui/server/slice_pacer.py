"""How many bytes of guest output a pane may emulate in the time it has left.

The terminal model lays plain text out at tens of MB/s, but a hostile stream
(random bytes, escape storms, combining marks) can take 20-50 times longer per
byte.  A slice fixed in bytes is then either slow for text or a freeze of every
other pane for hostile output.  The pacer keeps one rate for *simple* output
(ASCII with few escapes: what the model's fast paths take) and one for the
rest; a rate believes a slow slice at once and earns a faster one gradually,
so a guest cannot first show fast text and then slip a slow blob into a slice
sized for text: the blob is classified before it is fed.

A simple slice is never smaller than ``SIMPLE_MIN_SLICE``: the model skips the
layout of a flood only when a slice holds more than two screenfuls of lines, so
a smaller slice of text is laid out row by row, 10-20 times slower per byte.
Its slow rate, believed at once, would size the next slices as small again and
the pane would never get back to the flood layout (a 20 MB coloured log took
~60 s instead of ~7 s in a pane).
"""
from __future__ import annotations

import re

from ..terminal.sequences import MAX_PARAMS

MAX_SLICE = 512 * 1024      # bytes: one flood layout (the model skips what scrolls off)
MIN_SLICE = 4 * 1024        # bytes: always some progress, even past the deadline
# bytes: enough lines of text for the model's flood layout (2 screenfuls of a tall
# pane); every simple class of bench/terminal_adversarial.py does 64 KiB in ~6 ms
SIMPLE_MIN_SLICE = 64 * 1024
# Rates (bytes/s) assumed before a pane has measured its own: modest for text,
# the slowest class seen in bench/terminal_adversarial.py for the rest.
START_SIMPLE_RATE = 8e6
START_COMPLEX_RATE = 0.5e6
_RISE = 0.25                # how much of a faster measurement is believed per slice
_ESCAPE_DENSITY = 64        # simple: at most one ESC per this many bytes, SGRs aside
# colours and attributes: the model's flood layout takes them (flood.py's _NONSIMPLE_ESC)
_SGR = re.compile(rb"\x1b\[[0-9;]{0,%d}m" % MAX_PARAMS)


def is_simple(chunk: bytes) -> bool:
    """Output the model's fast paths take: ASCII, escapes other than SGR rare (C-speed scans)."""
    if not chunk.isascii():
        return False
    escapes = chunk.count(b"\x1b")
    if escapes * _ESCAPE_DENSITY <= len(chunk):
        return True
    return (escapes - len(_SGR.findall(chunk))) * _ESCAPE_DENSITY <= len(chunk)


class SlicePacer:
    """Per pane: the slice size for the time left, from this pane's measured rates."""

    def __init__(self) -> None:
        self._rates = {True: START_SIMPLE_RATE, False: START_COMPLEX_RATE}
        self._simple = True

    def slice_size(self, simple: bool, seconds_left: float) -> int:
        """Bytes of this kind of output that fit in ``seconds_left``."""
        floor = SIMPLE_MIN_SLICE if simple else MIN_SLICE
        return max(floor, min(MAX_SLICE, int(self._rates[simple] * seconds_left)))

    def start(self) -> None:
        """A new slice begins: simple until a chunk of it is not."""
        self._simple = True

    def admit(self, chunk: bytes, size: int, fed: int, seconds_left: float) -> int:
        """The slice's size once ``chunk`` joins it (``fed`` bytes are in already)."""
        if self._simple and not is_simple(chunk):
            self._simple = False
            size = min(size, max(fed + MIN_SLICE, self.slice_size(False, seconds_left)))
        return size

    def measured(self, nbytes: int, seconds: float) -> None:
        """A slice of ``nbytes`` took ``seconds`` (feed and layout)."""
        if nbytes <= 0:
            return
        rate = nbytes / max(seconds, 1e-5)
        old = self._rates[self._simple]
        self._rates[self._simple] = rate if rate < old else old + (rate - old) * _RISE
