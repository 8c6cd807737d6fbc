"""Replies to the guest's queries: fixed strings, batched and bounded per feed.

The terminal answers DA (``CSI c``, ``CSI > c``) and DSR (``CSI 5 n``,
``CSI 6 n``) only, with the fixed formats below (a cursor position is the
only number in one); nothing derived from guest data is ever sent back.
"""
from __future__ import annotations

from typing import Callable, List, Optional

DA_PRIMARY_REPLY = "\x1b[?62;22c"    #: VT220 with ANSI colour
DA_SECONDARY_REPLY = "\x1b[>1;10;0c"
DSR_OK_REPLY = "\x1b[0n"
#: reply characters per feed: a query flood must not queue without bound
MAX_REPLY = 1 << 16


class ReplyQueue:
    """Replies queued while one feed is emulated, sent in one piece at its
    end (:meth:`flush`); past :data:`MAX_REPLY` characters a feed's queries
    get no more answers.  With no ``send`` nothing is queued."""

    __slots__ = ("_send", "_queued", "_size")

    def __init__(self, send: Optional[Callable[[str], None]]) -> None:
        self._send = send
        self._queued: List[str] = []
        self._size = 0

    def __len__(self) -> int:
        return len(self._queued)

    def answer(self, text: str) -> None:
        if self._send is not None and self._size < MAX_REPLY:
            self._queued.append(text)
            self._size += len(text)

    def repeat_last(self, times: int) -> None:
        """The last reply ``times`` more times (a run of one query)."""
        last = self._queued[-1]
        for _ in range(min(times, MAX_REPLY // 4)):
            self.answer(last)

    def flush(self) -> None:
        if self._queued:
            text = "".join(self._queued)
            self._queued.clear()
            self._size = 0
            if self._send is not None:
                self._send(text)
