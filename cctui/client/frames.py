"""The attach protocol's frame types and decoder, as the client reads server frames.

The types are ``cctui.server.wire``'s (the one definition); what differs is the
bound: a server frame may carry a full screen, a client frame only a request.
"""
from __future__ import annotations

from typing import FrozenSet

from guest_pty_agent import protocol as framing

from ..server import wire

MAX_SERVER_PAYLOAD = 4 << 20        # one server frame (a full SCREEN of a 1000x1000 pane fits)


HELLO = int(wire.Frame.HELLO)
REQUEST = int(wire.Frame.REQUEST)
REPLY = int(wire.Frame.REPLY)
ERROR = int(wire.Frame.ERROR)
INPUT = int(wire.Frame.INPUT)
LAYOUT = int(wire.Frame.LAYOUT)
SCREEN = int(wire.Frame.SCREEN)
DETACHED = int(wire.Frame.DETACHED)
SERVER_TYPES: FrozenSet[int] = frozenset(int(t) for t in wire.Frame) - {int(t) for t in wire.CLIENT_TYPES - {wire.Frame.HELLO}}
VERSION = wire.VERSION
DATA_CHUNK = wire.DATA_CHUNK


def decoder() -> framing.FrameDecoder:
    """A decoder for what a server sends: bounded payloads, known types only."""
    return framing.FrameDecoder(MAX_SERVER_PAYLOAD, SERVER_TYPES)


def encode(ftype: int, ident: int, payload: bytes = b"") -> bytes:
    return framing.encode(ftype, ident, payload)


encode_json = framing.encode_json
decode_json = framing.decode_json
