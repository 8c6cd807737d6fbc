"""Typing comes first: while you type in one pane, floods in the others slow down.

A guest command that floods output (``yes``, ``cat`` of a big log) keeps the
host's cores busy in QEMU and in the terminal emulator, and the echo of a key
typed in another pane waits behind it: measured under TCG on 2 cores, echo p99
went from 15 ms idle to about 100 ms with a flood beside it (50-90 ms with no app
at all, so it is not the drawing). So for a moment after each keystroke every other pane's output
window shrinks to ``YIELD_WINDOW``: the guest agent stops reading that flood at
once (a WINDOW frame), the command blocks on its full pty and the CPU goes to
the echo. A yielding pane still drains and redraws at 10 frames/s, so its flood
goes on at up to YIELD_WINDOW x 10/s (320 KB/s, more than a build log writes),
and its full window comes back ``HOLD`` seconds after the last keystroke.
"""
from __future__ import annotations

import asyncio
import time
import weakref
from typing import Callable, Optional, Protocol

HOLD = 1.5                  # seconds after the last keystroke that other panes yield


class Yielding(Protocol):
    def set_yielding(self, flag: bool) -> None: ...


class TypingPriority:
    """Which pane is being typed in, and the other panes told to yield meanwhile."""

    def __init__(self, hold: float = HOLD, clock: Callable[[], float] = time.monotonic,
                 enabled: bool = True) -> None:
        self.hold = hold
        self.enabled = enabled          # off: every pane keeps its full window (benchmarks)
        self._clock = clock
        self._panes: "weakref.WeakSet[Yielding]" = weakref.WeakSet()
        self._typist: Optional[Yielding] = None
        self._until = 0.0
        self._timer: Optional[asyncio.TimerHandle] = None

    @property
    def typist(self) -> Optional[Yielding]:
        """The pane typed in within the last ``hold`` seconds, if any."""
        return self._typist

    def add(self, pane: Yielding) -> None:
        self._panes.add(pane)
        pane.set_yielding(self._typist is not None and pane is not self._typist)

    def discard(self, pane: Yielding) -> None:
        self._panes.discard(pane)
        if pane is self._typist:
            self._release()

    def typed(self, pane: Yielding) -> None:
        """A key (or paste) went to ``pane``: the others yield for ``hold`` seconds."""
        if not self.enabled:
            return
        self._until = self._clock() + self.hold
        if pane is not self._typist:
            self._typist = pane
            for other in list(self._panes):
                other.set_yielding(other is not pane)
        if self._timer is None:
            self._timer = asyncio.get_event_loop().call_later(self.hold, self._expire)

    def _expire(self) -> None:
        self._timer = None
        left = self._until - self._clock()
        if left > 0 and self._typist is not None:
            self._timer = asyncio.get_event_loop().call_later(left, self._expire)
            return
        self._release()

    def _release(self) -> None:
        self._typist = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for pane in list(self._panes):
            pane.set_yielding(False)
