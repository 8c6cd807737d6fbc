"""Credit flow control of one vsock stream, both ways (virtio spec 5.10.6.3).

Each side advertises ``buf_alloc`` (its receive buffer) and ``fwd_cnt`` (bytes it
has consumed); a sender may have at most ``buf_alloc - (tx_cnt - fwd_cnt)`` bytes
in flight. The counters are 32-bit and wrap.
"""
from __future__ import annotations

MASK = 0xFFFF_FFFF


class CreditViolation(Exception):
    """The guest sent more than the credit we gave it."""


class Credit:
    """Our receive side (guest→host bytes) and the guest's (host→guest bytes)."""

    def __init__(self, buf_alloc: int) -> None:
        self.buf_alloc = buf_alloc     # what we advertise: the most we ever buffer
        self.rx_cnt = 0                # bytes received from the guest
        self.fwd_cnt = 0               # of those, bytes passed on to the host socket
        self.sent_fwd_cnt = 0          # fwd_cnt the guest last heard from us
        self.peer_buf_alloc = 0
        self.peer_fwd_cnt = 0
        self.tx_cnt = 0                # bytes sent to the guest

    @property
    def buffered(self) -> int:
        """Guest bytes we hold but have not passed on."""
        return (self.rx_cnt - self.fwd_cnt) & MASK

    def received(self, count: int) -> None:
        """The guest sent ``count`` bytes; more than our free space is a violation."""
        if self.buffered + count > self.buf_alloc:
            raise CreditViolation(f"{count} bytes with {self.buf_alloc - self.buffered} of credit")
        self.rx_cnt = (self.rx_cnt + count) & MASK

    def forwarded(self, count: int) -> None:
        self.fwd_cnt = (self.fwd_cnt + count) & MASK

    def advertised(self) -> int:
        """Call when a packet carrying our fwd_cnt goes out; returns it."""
        self.sent_fwd_cnt = self.fwd_cnt
        return self.fwd_cnt

    def update_due(self) -> bool:
        """Whether the guest should hear our fwd_cnt now: it may be waiting for credit
        once it has used half of what it last saw."""
        return ((self.fwd_cnt - self.sent_fwd_cnt) & MASK) >= self.buf_alloc // 2

    def peer(self, buf_alloc: int, fwd_cnt: int) -> None:
        """Every guest packet carries its current buf_alloc and fwd_cnt."""
        self.peer_buf_alloc = buf_alloc
        self.peer_fwd_cnt = fwd_cnt

    def peer_free(self) -> int:
        """Bytes we may send the guest now (0 when a guest's counters make no sense)."""
        in_flight = (self.tx_cnt - self.peer_fwd_cnt) & MASK
        return max(0, self.peer_buf_alloc - in_flight)

    def sent(self, count: int) -> None:
        self.tx_cnt = (self.tx_cnt + count) & MASK
