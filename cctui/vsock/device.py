"""The vsock device: guest packets from the tx queue, host packets into the rx queue.

Work is done in bounded batches (``BATCH`` chains, then a yield to the event
loop), so a busy or hostile guest cannot hold up the host process. Control
packets (RESPONSE, RST, CREDIT_UPDATE, ...) wait in a bounded queue; while it is
full the tx queue is not read, so a guest that posts no receive buffers only
stalls itself.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from pathlib import Path
from typing import Callable, Deque, Dict, List, Optional, Set, Tuple

from .connection import Connection, Key, State
from .errors import DeviceError
from .packet import (HEADER, HEADER_SIZE, HOST_CID, MAX_PAYLOAD, SHUTDOWN_SEND, TYPE_STREAM, BadPacket,
                     Header, Op, parse, reply)
from .virtqueue import Chain, Virtqueue

log = logging.getLogger(__name__)

BATCH = 64                             # chains handled before yielding to the loop
MAX_CONTROL = 256                      # control packets waiting for rx buffers
MAX_CONNECTIONS = 1024
REQUEST_TIMEOUT = 5.0                  # for the guest to answer a host REQUEST
FIRST_HOST_PORT = 1024


class VsockDevice:
    """One VM's vsock device; ``start`` once QEMU has handed over both rings."""

    def __init__(self, guest_cid: int, uds_path: Path, loop: asyncio.AbstractEventLoop,
                 notify: Callable[[int], None]) -> None:
        self.guest_cid = guest_cid
        self.uds_path = uds_path       # guest→host port P connects to "<uds_path>_P"
        self.loop = loop
        self.notify = notify           # notify(queue index): signal the guest's call eventfd
        self.rx: Optional[Virtqueue] = None
        self.tx: Optional[Virtqueue] = None
        self.failed: Optional[str] = None
        self.conns: Dict[Key, Connection] = {}
        self.control: Deque[Tuple[Optional[Connection], Header]] = deque()
        self.ready: Deque[Connection] = deque()
        self._ports: Set[int] = set()
        self._next_port = FIRST_HOST_PORT
        self._rx_scheduled = False
        self._tx_scheduled = False
        self.cpu_seconds = 0.0         # thread CPU spent moving packets (the bench reports it)
        self.buffered = 0              # guest bytes held for host sockets, all streams

    @property
    def running(self) -> bool:
        return self.rx is not None and self.tx is not None and self.failed is None

    def start(self, rx: Virtqueue, tx: Virtqueue) -> None:
        self.rx, self.tx = rx, tx
        self.kick_tx()
        self.kick_rx()

    def stop(self) -> None:
        """The rings are gone (device reset, VM stop): every stream ends."""
        self.rx = self.tx = None
        for conn in list(self.conns.values()):
            self._drop(conn)
        self.control.clear()
        self.ready.clear()

    def fail(self, reason: str) -> None:
        """The guest broke the rules: this device stops for good."""
        if self.failed is None:
            log.warning("vsock device of guest %d stopped: %s", self.guest_cid, reason)
            self.failed = reason
        self.stop()

    # scheduling -------------------------------------------------------------------
    def kick_tx(self, now: bool = False) -> None:
        """Process the tx queue soon; ``now`` (from an fd callback, never from a step):
        at once, a loop turn sooner, which is a round trip's latency."""
        if not self._tx_scheduled:
            self._tx_scheduled = True
            if now:
                self._run(self._process_tx)
            else:
                self.loop.call_soon(self._run, self._process_tx)

    def kick_rx(self, now: bool = False) -> None:
        if not self._rx_scheduled:
            self._rx_scheduled = True
            if now:
                self._run(self._fill_rx)
            else:
                self.loop.call_soon(self._run, self._fill_rx)

    def _run(self, step: Callable[[], None]) -> None:
        if step == self._process_tx:
            self._tx_scheduled = False
        else:
            self._rx_scheduled = False
        if not self.running:
            return
        started = time.thread_time()
        try:
            step()
        except DeviceError as exc:
            self.fail(str(exc))
        except Exception as exc:       # a bug of ours: this device ends, the host goes on
            log.exception("vsock device of guest %d", self.guest_cid)
            self.fail(f"internal error: {exc!r}")
        self.cpu_seconds += time.thread_time() - started

    # guest → host -------------------------------------------------------------------
    def _process_tx(self) -> None:
        assert self.tx is not None
        pushed = 0
        while pushed < BATCH and len(self.control) < MAX_CONTROL:
            chain = self.tx.pop()
            if chain is None:
                break
            self._packet(chain)
            self.tx.push(chain.head, 0)
            pushed += 1
        if pushed and self.tx is not None and self.tx.wants_interrupt():
            self.notify(1)
        if self.tx is not None and self.tx.pending() and len(self.control) < MAX_CONTROL:
            self.kick_tx()             # more work: after the loop has run others

    def _packet(self, chain: Chain) -> None:
        head = chain.read_bytes(HEADER_SIZE)
        try:
            hdr = parse(head, self.guest_cid, chain.readable_len - HEADER_SIZE)
        except BadPacket as exc:
            log.debug("guest %d: dropped packet: %s", self.guest_cid, exc)
            if len(head) == HEADER_SIZE:
                bad = Header(*HEADER.unpack(head))
                if bad.op != Op.RST and bad.src_cid == self.guest_cid and bad.dst_cid == HOST_CID:
                    self._queue(None, reply(bad, Op.RST))
            return
        conn = self.conns.get((hdr.src_port, hdr.dst_port))
        if hdr.op == Op.REQUEST:
            self._guest_connects(hdr, conn)
            return
        if conn is None:
            if hdr.op != Op.RST:
                self._queue(None, reply(hdr, Op.RST))
            return
        conn.credit.peer(hdr.buf_alloc, hdr.fwd_cnt)
        if hdr.op == Op.RST:
            self._drop(conn)
        elif hdr.op == Op.RESPONSE:
            self._established(conn)
        elif conn.state is not State.ESTABLISHED:
            self.reset(conn)
        elif hdr.op == Op.RW:
            views = _payload(chain.readable, hdr.len)
            if not conn.guest_sends or not conn.from_guest(views, hdr.len):
                self.reset(conn)
                return
            if conn.credit.update_due():
                self.credit_update(conn)
        elif hdr.op == Op.SHUTDOWN:
            conn.guest_shutdown(hdr.flags)
        elif hdr.op == Op.CREDIT_REQUEST:
            self.credit_update(conn)
        if conn.state is State.ESTABLISHED and conn.ready and conn.credit.peer_free():
            self.want_send(conn)

    def _guest_connects(self, hdr: Header, conn: Optional[Connection]) -> None:
        """A guest REQUEST to host port P: connect to ``<uds_path>_P`` if it listens."""
        if conn is not None or len(self.conns) >= MAX_CONNECTIONS:
            self._queue(None, reply(hdr, Op.RST))
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(f"{self.uds_path}_{hdr.dst_port}")
        except OSError:                # nobody listens (or its backlog is full)
            sock.close()
            self._queue(None, reply(hdr, Op.RST))
            return
        conn = Connection(self, sock, hdr.src_port, hdr.dst_port, State.ESTABLISHED)
        conn.credit.peer(hdr.buf_alloc, hdr.fwd_cnt)
        self.conns[conn.key] = conn
        self._queue(conn, reply(hdr, Op.RESPONSE))
        conn.watch()

    # host → guest -------------------------------------------------------------------
    def connect_host(self, sock: socket.socket, guest_port: int,
                     on_result: Callable[[Optional[int]], None]) -> None:
        """A host program asked for guest port ``guest_port``: send the guest a REQUEST."""
        if not self.running or len(self.conns) >= MAX_CONNECTIONS:
            on_result(None)
            return
        port = self._free_port()
        conn = Connection(self, sock, guest_port, port, State.REQUESTED)
        conn.on_result = on_result
        self.conns[conn.key] = conn
        self._ports.add(port)
        conn.timer = self.loop.call_later(REQUEST_TIMEOUT, self._request_timeout, conn)
        self._queue(conn, Header(HOST_CID, self.guest_cid, port, guest_port, 0, TYPE_STREAM,
                                 Op.REQUEST, 0, 0, 0))

    def _free_port(self) -> int:
        while self._next_port in self._ports or self._next_port < FIRST_HOST_PORT:
            self._next_port = (self._next_port + 1) & 0xFFFF_FFFF
        port = self._next_port
        self._next_port = (self._next_port + 1) & 0xFFFF_FFFF
        return port

    def _request_timeout(self, conn: Connection) -> None:
        if conn.state is State.REQUESTED:
            self.reset(conn)

    def _established(self, conn: Connection) -> None:
        if conn.state is not State.REQUESTED:
            self.reset(conn)
            return
        conn.state = State.ESTABLISHED
        if conn.timer is not None:
            conn.timer.cancel()
        if conn.on_result is not None:
            conn.on_result(conn.host_port)
            conn.on_result = None
        conn.watch()

    def want_send(self, conn: Connection, now: bool = False) -> None:
        if conn not in self.ready:
            self.ready.append(conn)
        self.kick_rx(now)

    def credit_update(self, conn: Connection) -> None:
        """Tell the guest our fwd_cnt (one queued update per stream is enough)."""
        if not conn.update_queued:
            conn.update_queued = True
            self._queue(conn, self._header(conn, Op.CREDIT_UPDATE))

    def _queue(self, conn: Optional[Connection], hdr: Header) -> None:
        self.control.append((conn, hdr))
        self.kick_rx()

    def _fill_rx(self) -> None:
        assert self.rx is not None
        filled = 0
        while filled < BATCH:
            while self.control and self.control[0][0] is not None \
                    and self.control[0][0].state is State.CLOSED:
                self.control.popleft()         # for a stream that has ended since
            if not self.control and not self.ready:
                break
            chain = self.rx.pop()
            if chain is None:
                break
            if chain.writable_len <= HEADER_SIZE:
                raise DeviceError(f"receive buffer of {chain.writable_len} bytes")
            written = self._control_packet(chain) if self.control else self._data_packet(chain)
            if written is None:        # nothing to read after all (maybe a credit request)
                self.rx.unpop()
                continue
            self.rx.push(chain.head, written)
            filled += 1
        if filled and self.rx is not None and self.rx.wants_interrupt():
            self.notify(0)
        if self.rx is not None and filled == BATCH:
            self.kick_rx()
        if self.tx is not None and self.tx.pending() and len(self.control) < MAX_CONTROL:
            self.kick_tx()

    def _control_packet(self, chain: Chain) -> int:
        conn, hdr = self.control.popleft()
        if conn is not None:
            conn.update_queued = False
            hdr.buf_alloc = conn.credit.buf_alloc
            hdr.fwd_cnt = conn.credit.advertised()
        _scatter(chain.writable, hdr.pack())
        return HEADER_SIZE

    def _data_packet(self, chain: Chain) -> Optional[int]:
        """Read from the first ready stream straight into the chain; None if nothing came."""
        while self.ready:
            conn = self.ready.popleft()
            if conn.state is not State.ESTABLISHED or not conn.guest_receives:
                conn.ready = False
                continue
            room = min(conn.credit.peer_free(), MAX_PAYLOAD, chain.writable_len - HEADER_SIZE)
            if room <= 0:              # out of guest credit: a guest packet puts it back
                self._ask_credit(conn)
                continue
            try:
                count = conn.sock.recv_into(_data_view(chain.writable, room))
            except (BlockingIOError, InterruptedError):
                conn.ready = False
                conn.watch()
                continue
            except OSError:
                self.reset(conn)
                continue
            if count == 0:
                conn.ready = False
                conn.host_eof = True
                hdr = self._header(conn, Op.SHUTDOWN, flags=SHUTDOWN_SEND)
                _scatter(chain.writable, hdr.pack())
                if not conn.guest_sends and not conn.outbuf:
                    self.finish(conn)
                return HEADER_SIZE
            conn.credit.sent(count)
            _scatter(chain.writable, self._header(conn, Op.RW, length=count).pack())
            self.ready.append(conn)    # still ready: round robin over streams
            return HEADER_SIZE + count
        return None

    def _header(self, conn: Connection, op: int, *, flags: int = 0, length: int = 0) -> Header:
        return Header(HOST_CID, self.guest_cid, conn.host_port, conn.guest_port, length,
                      TYPE_STREAM, op, flags, conn.credit.buf_alloc, conn.credit.advertised())

    def _ask_credit(self, conn: Connection) -> None:
        if not conn.update_queued:
            conn.update_queued = True
            self.control.append((conn, self._header(conn, Op.CREDIT_REQUEST)))

    # ending streams -------------------------------------------------------------------
    def reset(self, conn: Connection) -> None:
        """End a stream abnormally: RST to the guest, close the host side."""
        if conn.state is not State.CLOSED and self.running:
            self._queue(None, Header(HOST_CID, self.guest_cid, conn.host_port, conn.guest_port, 0,
                                     TYPE_STREAM, Op.RST, 0, 0, 0))
        self._drop(conn)

    def finish(self, conn: Connection) -> None:
        """Both directions are done: the RST that closes a stream normally."""
        self.reset(conn)

    def _drop(self, conn: Connection) -> None:
        if conn.on_result is not None:
            conn.on_result(None)
            conn.on_result = None
        self.conns.pop(conn.key, None)
        self._ports.discard(conn.host_port)
        conn.close()


def _payload(views: List[memoryview], length: int) -> List[memoryview]:
    """The ``length`` bytes after the header in the chain's readable part."""
    out: List[memoryview] = []
    skip = HEADER_SIZE
    for view in views:
        if skip >= len(view):
            skip -= len(view)
            continue
        part = view[skip:skip + length]
        skip = 0
        out.append(part)
        length -= len(part)
        if length == 0:
            break
    return out


def _scatter(views: List[memoryview], data: bytes) -> None:
    """Write ``data`` across the start of the chain's writable buffers."""
    done = 0
    for view in views:
        n = min(len(view), len(data) - done)
        view[:n] = data[done:done + n]
        done += n
        if done == len(data):
            return


def _data_view(views: List[memoryview], room: int) -> memoryview:
    """The contiguous buffer after the header to read payload into (at most ``room`` bytes)."""
    skip = HEADER_SIZE
    for view in views:
        if skip >= len(view):
            skip -= len(view)
            continue
        return view[skip:skip + room]
    raise DeviceError("receive buffer ends at the header")
