"""The vhost-user protocol (QEMU's docs/interop/vhost-user.rst), backend side.

QEMU connects to our unix socket and sends requests (12-byte header, payload,
fds as SCM_RIGHTS): features, the memory table, and each ring's size, addresses,
base index and kick/call eventfds. We offer only what ``vhost-user-vsock-pci``
needs: VIRTIO_F_VERSION_1 and the protocol features MQ, REPLY_ACK and CONFIG
(GET_CONFIG answers the guest CID). No indirect descriptors, no event index.
"""
from __future__ import annotations

import array
import asyncio
import logging
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .device import VsockDevice
from .errors import DeviceError
from .memory import MAX_REGIONS, GuestMemory, Region
from .virtqueue import Virtqueue

log = logging.getLogger(__name__)

MSG_HEADER = struct.Struct("<III")     # request, flags, size
U64 = struct.Struct("<Q")
VRING_STATE = struct.Struct("<II")     # index, num
VRING_ADDR = struct.Struct("<IIQQQQ")   # index, flags, desc, used, avail, log
CONFIG_HEADER = struct.Struct("<III")  # offset, size, flags
VERSION, REPLY_FLAG, NEED_REPLY = 0x1, 0x4, 0x8
MAX_PAYLOAD = 4096
MAX_FDS = MAX_REGIONS

F_PROTOCOL_FEATURES = 1 << 30
F_VERSION_1 = 1 << 32
FEATURES = F_VERSION_1 | F_PROTOCOL_FEATURES
P_MQ, P_REPLY_ACK, P_CONFIG = 1 << 0, 1 << 3, 1 << 9
PROTOCOL_FEATURES = P_MQ | P_REPLY_ACK | P_CONFIG
NUM_QUEUES = 2                         # rx, tx (QEMU keeps the event queue itself)
RX, TX = 0, 1
NO_FD = 1 << 8                         # VHOST_USER_VRING_NOFD_MASK

(GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE, SET_LOG_BASE, SET_LOG_FD,
 SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_KICK, SET_VRING_CALL,
 SET_VRING_ERR, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM,
 SET_VRING_ENABLE) = range(1, 19)
GET_CONFIG, SET_CONFIG = 24, 25


class ProtocolError(Exception):
    """QEMU sent something we cannot follow: the vhost-user connection is dropped."""


@dataclass
class Vring:
    """What QEMU has told us about one ring."""
    num: int = 0
    addr: Tuple[int, int, int] = (0, 0, 0)     # desc, avail, used (QEMU addresses)
    base: int = 0
    kick: Optional[int] = None
    call: Optional[int] = None
    enabled: bool = False
    queue: Optional[Virtqueue] = None
    fds: List[int] = field(default_factory=list)


class VhostUserConnection:
    """One QEMU connection: reads requests, drives a VsockDevice."""

    def __init__(self, sock: socket.socket, device: VsockDevice) -> None:
        self.sock = sock
        self.device = device
        self.loop = device.loop
        self.features = 0
        self.protocol_features = 0
        self.memory: Optional[GuestMemory] = None
        self.vrings = [Vring() for _ in range(NUM_QUEUES)]
        self.closed = asyncio.Event()
        device.notify = self.notify
        sock.settimeout(5.0)           # a request's payload follows its header at once
        self.loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            self._handle(*self._receive())
        except EOFError:               # QEMU exited or closed the device: the usual end
            self.close()
        except (ProtocolError, OSError, DeviceError) as exc:
            log.warning("vhost-user connection closed: %s", exc)
            self.close()

    def _receive(self) -> Tuple[int, int, bytes, List[int]]:
        fds = array.array("i")
        data, anc, _, _ = self.sock.recvmsg(MSG_HEADER.size, socket.CMSG_SPACE(MAX_FDS * fds.itemsize))
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
        if not data:
            for fd in fds:
                os.close(fd)
            raise EOFError("QEMU closed the connection")
        if len(data) < MSG_HEADER.size:
            data += _recv_exact(self.sock, MSG_HEADER.size - len(data))
        request, flags, size = MSG_HEADER.unpack(data)
        if size > MAX_PAYLOAD:
            raise ProtocolError(f"request {request} with a {size}-byte payload")
        return request, flags, _recv_exact(self.sock, size), list(fds)

    def _handle(self, request: int, flags: int, payload: bytes, fds: List[int]) -> None:
        try:
            answer = self._dispatch(request, payload, fds)
        except DeviceError as exc:
            log.warning("vhost-user request %d refused: %s", request, exc)
            self.device.fail(str(exc))
            answer = None
            if flags & NEED_REPLY and self.protocol_features & P_REPLY_ACK:
                self._send(request, U64.pack(1))
            return
        finally:
            for fd in fds:             # each handler dup()s what it keeps
                os.close(fd)
        if answer is not None:
            self._send(request, answer)
        elif flags & NEED_REPLY and self.protocol_features & P_REPLY_ACK:
            self._send(request, U64.pack(0))

    def _send(self, request: int, payload: bytes) -> None:
        self.sock.sendall(MSG_HEADER.pack(request, VERSION | REPLY_FLAG, len(payload)) + payload)

    def _dispatch(self, request: int, payload: bytes, fds: List[int]) -> Optional[bytes]:
        """Apply one request; returns the reply payload of requests that have one."""
        if request == GET_FEATURES:
            return U64.pack(FEATURES)
        if request == SET_FEATURES:
            self.features = _u64(payload)
        elif request == GET_PROTOCOL_FEATURES:
            return U64.pack(PROTOCOL_FEATURES)
        elif request == SET_PROTOCOL_FEATURES:
            self.protocol_features = _u64(payload) & PROTOCOL_FEATURES
        elif request == GET_QUEUE_NUM:
            return U64.pack(NUM_QUEUES)
        elif request in (SET_OWNER, SET_VRING_ERR):
            pass
        elif request == RESET_OWNER:
            self._stop_all()
        elif request == SET_MEM_TABLE:
            self._set_mem_table(payload, fds)
        elif request == SET_VRING_NUM:
            index, num = self._state(payload)
            self.vrings[index].num = num
        elif request == SET_VRING_BASE:
            index, num = self._state(payload)
            self.vrings[index].base = num
        elif request == SET_VRING_ADDR:
            index, _, desc, used, avail, _ = _unpack(VRING_ADDR, payload)
            self.vrings[self._index(index)].addr = (desc, avail, used)
        elif request == SET_VRING_ENABLE:
            index, num = self._state(payload)
            self.vrings[index].enabled = bool(num)
            self._update()
        elif request in (SET_VRING_KICK, SET_VRING_CALL):
            self._set_fd(request, _u64(payload), fds)
        elif request == GET_VRING_BASE:
            index, _ = self._state(payload)
            return VRING_STATE.pack(index, self._stop(index))
        elif request == GET_CONFIG:
            return self._config(payload)
        elif request == SET_CONFIG:
            pass                       # the vsock config (the CID) is read-only
        else:
            log.info("vhost-user request %d ignored", request)
        return None

    def _index(self, index: int) -> int:
        if not 0 <= index < NUM_QUEUES:
            raise ProtocolError(f"ring index {index}")
        return index

    def _state(self, payload: bytes) -> Tuple[int, int]:
        index, num = _unpack(VRING_STATE, payload)
        return self._index(index), num

    def _set_mem_table(self, payload: bytes, fds: List[int]) -> None:
        count = _unpack(struct.Struct("<I"), payload[:4])[0]
        if not 0 < count <= MAX_REGIONS or len(payload) < 8 + count * Region.FORMAT.size:
            raise ProtocolError(f"memory table of {count} regions")
        regions = [Region.unpack(payload[8 + i * Region.FORMAT.size:8 + (i + 1) * Region.FORMAT.size])
                   for i in range(count)]
        memory = GuestMemory.map(regions, [os.dup(fd) for fd in fds])
        old, self.memory = self.memory, memory
        for index in range(NUM_QUEUES):        # rings keep their place in the new memory
            ring = self.vrings[index]
            if ring.queue is not None:
                ring.base = ring.queue.last_avail
                ring.queue = None
        self._update()
        if old is not None:
            old.close()

    def _set_fd(self, request: int, value: int, fds: List[int]) -> None:
        index = self._index(value & 0xFF)
        ring = self.vrings[index]
        fd = None
        if not value & NO_FD:
            if len(fds) != 1:
                raise ProtocolError(f"request {request} with {len(fds)} fds")
            fd = os.dup(fds[0])
            os.set_blocking(fd, False)
        if request == SET_VRING_CALL:
            _close(ring.call)
            ring.call = fd
            return
        self._stop(index)
        ring.kick = fd
        if fd is not None:
            if not self.features & F_PROTOCOL_FEATURES:
                ring.enabled = True    # without protocol features a ring starts enabled
            self.loop.add_reader(fd, self._kicked, index)
        self._update()

    def _kicked(self, index: int) -> None:
        ring = self.vrings[index]
        if ring.kick is None:
            return
        try:
            os.read(ring.kick, 8)
        except (BlockingIOError, InterruptedError):
            pass
        if index == TX:
            self.device.kick_tx(now=True)
        else:
            self.device.kick_rx(now=True)

    def notify(self, index: int) -> None:
        call = self.vrings[index].call
        if call is not None:
            try:
                os.write(call, U64.pack(1))
            except (BlockingIOError, InterruptedError):
                pass               # the counter is already non-zero: the guest will look

    def _stop(self, index: int) -> int:
        """Stop a ring (GET_VRING_BASE, a new kick fd); returns where it stopped."""
        ring = self.vrings[index]
        if ring.queue is not None:
            ring.base = ring.queue.last_avail
            ring.queue = None
        if ring.kick is not None:
            self.loop.remove_reader(ring.kick)
            _close(ring.kick)
            ring.kick = None
        self._update()
        return ring.base

    def _update(self) -> None:
        """Start the device when both rings are ready; stop it when either is not."""
        for ring in self.vrings:
            if ring.queue is None and ring.kick is not None and self.memory is not None \
                    and ring.num:
                desc, avail, used = ring.addr
                ring.queue = Virtqueue(self.memory, ring.num, desc, avail, used, ring.base)
        rx, tx = (r.queue if r.enabled else None for r in self.vrings)
        if rx is not None and tx is not None:
            if self.device.rx is not rx or self.device.tx is not tx:
                self.device.start(rx, tx)
        elif self.device.rx is not None:
            self.device.stop()

    def _config(self, payload: bytes) -> bytes:
        offset, size, flags = _unpack(CONFIG_HEADER, payload[:CONFIG_HEADER.size])
        if size > 256 or offset > 256:
            raise ProtocolError(f"config read of {size} bytes at {offset}")
        config = U64.pack(self.device.guest_cid).ljust(offset + size, b"\0")
        return CONFIG_HEADER.pack(offset, size, flags) + config[offset:offset + size]

    def _stop_all(self) -> None:
        for index in range(NUM_QUEUES):
            self._stop(index)

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self.loop.remove_reader(self.sock.fileno())
        self._stop_all()
        for ring in self.vrings:
            _close(ring.call)
            ring.call = None
        self.device.stop()
        if self.memory is not None:
            self.memory.close()
            self.memory = None
        self.sock.close()


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ProtocolError("QEMU closed the connection mid-request")
        data += chunk
    return data


def _u64(payload: bytes) -> int:
    return int(_unpack(U64, payload)[0])


def _unpack(fmt: struct.Struct, payload: bytes) -> tuple:
    if len(payload) < fmt.size:
        raise ProtocolError(f"payload of {len(payload)} bytes, {fmt.size} expected")
    return fmt.unpack_from(payload)


def _close(fd: Optional[int]) -> None:
    if fd is not None:
        os.close(fd)


