"""virtio-vsock packet headers: 44 bytes, little-endian, stream sockets only.

``parse`` validates what the guest sent (op, type, length, CIDs); replies are
built with ``Header.pack``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

HEADER = struct.Struct("<QQIIIHHIII")
HEADER_SIZE = HEADER.size              # 44
TYPE_STREAM = 1
HOST_CID = 2
MAX_PAYLOAD = 64 * 1024                # the Linux guest's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE
SHUTDOWN_RCV, SHUTDOWN_SEND = 1, 2


class Op(IntEnum):
    REQUEST = 1
    RESPONSE = 2
    RST = 3
    SHUTDOWN = 4
    RW = 5
    CREDIT_UPDATE = 6
    CREDIT_REQUEST = 7


OPS = frozenset(int(op) for op in Op)


class BadPacket(ValueError):
    """A packet we drop (and answer with RST where there is a connection to reset)."""


@dataclass
class Header:
    src_cid: int
    dst_cid: int
    src_port: int
    dst_port: int
    len: int
    type: int
    op: int
    flags: int
    buf_alloc: int
    fwd_cnt: int

    def pack(self) -> bytes:
        return HEADER.pack(self.src_cid, self.dst_cid, self.src_port, self.dst_port, self.len,
                           self.type, self.op, self.flags, self.buf_alloc, self.fwd_cnt)


def parse(data: bytes, guest_cid: int, payload_room: int) -> Header:
    """The header of a packet from the guest, checked; ``payload_room`` is how many bytes
    its chain holds after the header. Raises BadPacket."""
    if len(data) < HEADER_SIZE:
        raise BadPacket(f"packet of {len(data)} bytes is shorter than its header")
    hdr = Header(*HEADER.unpack_from(data))
    if hdr.src_cid != guest_cid:
        raise BadPacket(f"source CID {hdr.src_cid} is not the guest's ({guest_cid})")
    if hdr.dst_cid != HOST_CID:
        raise BadPacket(f"destination CID {hdr.dst_cid} is not the host")
    if hdr.type != TYPE_STREAM:
        raise BadPacket(f"socket type {hdr.type} (only stream is offered)")
    if hdr.op not in OPS:
        raise BadPacket(f"unknown op {hdr.op}")
    if hdr.op != Op.RW and hdr.len:
        raise BadPacket(f"op {Op(hdr.op).name} with a {hdr.len}-byte payload")
    if hdr.len > min(MAX_PAYLOAD, payload_room):
        raise BadPacket(f"payload length {hdr.len} exceeds its buffer or {MAX_PAYLOAD}")
    return hdr


def reply(to: Header, op: int, *, flags: int = 0, buf_alloc: int = 0, fwd_cnt: int = 0,
          length: int = 0) -> Header:
    """A packet from the host back to where ``to`` came from."""
    return Header(to.dst_cid, to.src_cid, to.dst_port, to.src_port, length, TYPE_STREAM, op,
                  flags, buf_alloc, fwd_cnt)
