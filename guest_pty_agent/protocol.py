"""The host <-> agent wire protocol: the one source of truth for the framing.

Both sides import this module (the agent never imports the host package). One
ordered byte stream per VM carries every exec, so everything is a frame:

    +---------+------+---------+----------------+
    | len u32 | type | id u32  | payload (len)  |
    +---------+------+---------+----------------+

``id`` is 0 for session frames and the exec id (chosen by the host) or the
request id otherwise. Control payloads are UTF-8 JSON objects; data payloads
(STDIN, STDOUT, STDERR) are raw bytes; FILE_* payloads are a JSON header plus a
binary blob (see :func:`pack_blob`). Every length is bounded, so a hostile peer
cannot make the reader allocate without limit.

Flow control is credit based and per exec and direction: the sender may have at
most ``window`` unacknowledged bytes in flight; the receiver returns credit with
CREDIT frames (payload: u32 byte count) once it has consumed the data. A flooding
command therefore stops in the guest (its pty/pipe fills) instead of growing the
host's memory, and cannot starve the other execs on the same stream. The host
may change an exec's output window while it runs (WINDOW, payload: u32 bytes);
the agent's credit moves by the difference, so a shrink takes effect at once,
even when it leaves the credit below zero.
"""
from __future__ import annotations

import enum
import json
import re
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Any, Dict, Iterator, List, Optional, Tuple

VERSION = 1
#: The AF_VSOCK port the agent listens on (the host passes it as ``cctui.vsock=``).
VSOCK_PORT = 1024
HEADER = struct.Struct(">IBI")
HEADER_SIZE = HEADER.size
MAX_PAYLOAD = 1 << 20          # no frame may carry more than 1 MiB
MAX_DATA_CHUNK = 64 * 1024     # data frames are cut to this size by senders
DEFAULT_WINDOW = 256 * 1024    # initial credit per exec and direction
MAX_JSON_DEPTH = 16            # arrays/objects nested in any JSON payload
MAX_REPORT_ENV = 256 * 1024    # a REPORT's environment (its environ bytes) at most


class FrameType(enum.IntEnum):
    HELLO = 1          # both ways, id 0: version and capabilities
    PING = 2           # host -> agent, payload echoed in PONG
    PONG = 3
    START = 10         # host -> agent: start exec `id` (JSON spec)
    STARTED = 11       # agent -> host: {"pid": n}
    START_FAILED = 12  # agent -> host: {"kind": ..., "message": ...}
    STDIN = 13         # host -> agent: bytes
    STDIN_CLOSE = 14   # host -> agent
    RESIZE = 15        # host -> agent: {"rows": r, "cols": c}
    SIGNAL = 16        # host -> agent: {"signal": n, "group": bool}
    STDOUT = 17        # agent -> host: bytes (the pty's output for tty execs)
    STDERR = 18        # agent -> host: bytes
    EXIT = 19          # agent -> host: {"code": n|null, "signal": n|null}
    CREDIT = 20        # both ways: u32 bytes consumed
    REPORT = 21        # agent -> host: {"cwd": ..., "env": {...}, "pid": n, "comm": name}
    WINDOW = 22        # host -> agent: u32, the exec's new output window
    REQUEST = 30       # host -> agent: file ops etc (blob payload)
    RESPONSE = 31      # agent -> host: {"ok": bool, ...} + blob
    POWEROFF = 40      # host -> agent, id 0: sync and power the VM off
    ERROR = 41         # either way, id 0: the peer broke the protocol


DATA_TYPES = frozenset({FrameType.STDIN, FrameType.STDOUT, FrameType.STDERR})
_AGENT_TYPES = frozenset(int(t) for t in FrameType)


class ProtocolError(Exception):
    """The peer sent something this side cannot accept; the session must end."""


def encode(ftype: int, ident: int, payload: bytes = b"") -> bytes:
    """One frame as bytes."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(len(payload), int(ftype), ident) + payload


def encode_json(ftype: int, ident: int, obj: Dict[str, Any]) -> bytes:
    return encode(ftype, ident, json.dumps(obj, separators=(",", ":")).encode())


def encode_credit(ident: int, nbytes: int) -> bytes:
    return encode(FrameType.CREDIT, ident, struct.pack(">I", nbytes))


def encode_window(ident: int, nbytes: int) -> bytes:
    return encode(FrameType.WINDOW, ident, struct.pack(">I", nbytes))


def decode_credit(payload: bytes, what: str = "CREDIT") -> int:
    if len(payload) != 4:
        raise ProtocolError(f"{what} payload must be 4 bytes, got {len(payload)}")
    credit: int = struct.unpack(">I", payload)[0]
    return credit


def decode_window(payload: bytes) -> int:
    return decode_credit(payload, "WINDOW")


# A JSON string (escapes included) and any run of non-bracket characters:
# stripping both leaves only the brackets that give the nesting. An unclosed
# string runs to the end: a match never fails, so the scan stays linear.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r'[^\[\]{}]+')
_EMPTY_PAIR = re.compile(r'\[\]|\{\}')


def nesting_within(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``text`` nests arrays/objects at most ``limit`` deep.

    json.loads recurses once per level, so a peer's ``[[[[...`` would raise
    RecursionError (or exhaust the C stack) inside it: check first, in linear
    passes of C regex code, and never hand a deep document to the parser.
    Each pass removes the innermost level; unbalanced brackets never vanish and
    so also fail (such text is no valid JSON anyway).
    """
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(limit):
        if not brackets:
            return True
        brackets = _EMPTY_PAIR.sub("", brackets)
    return not brackets


def decode_json(payload: bytes) -> Dict[str, Any]:
    """A JSON object from a frame, or ProtocolError: never anything else."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"malformed JSON payload: {exc}") from None
    if not nesting_within(text):
        raise ProtocolError(f"JSON payload nested deeper than {MAX_JSON_DEPTH} or unbalanced")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed JSON payload: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("JSON payload is not an object")
    return obj


BLOB_HEADER = struct.Struct(">I")


def pack_blob(header: Dict[str, Any], blob: bytes = b"") -> bytes:
    """A JSON header and a binary blob in one payload (for file operations)."""
    head = json.dumps(header, separators=(",", ":")).encode()
    return BLOB_HEADER.pack(len(head)) + head + blob


def unpack_blob(payload: bytes) -> Tuple[Dict[str, Any], bytes]:
    if len(payload) < BLOB_HEADER.size:
        raise ProtocolError("blob payload too short")
    (hlen,) = BLOB_HEADER.unpack_from(payload)
    if hlen > len(payload) - BLOB_HEADER.size:
        raise ProtocolError("blob header length exceeds payload")
    head = decode_json(payload[BLOB_HEADER.size:BLOB_HEADER.size + hlen])
    return head, payload[BLOB_HEADER.size + hlen:]


class FrameDecoder:
    """Incremental decoder: feed bytes, iterate complete frames.

    Raises ProtocolError on an unknown type or an oversized length before
    buffering the payload, so memory stays bounded by MAX_PAYLOAD. ``types``
    are the frame types this stream may carry (the agent's by default; the
    cctui client/server protocol reuses this framing with its own types).
    """

    def __init__(self, max_payload: int = MAX_PAYLOAD, types: "Optional[frozenset[int]]" = None) -> None:
        self._buf = bytearray()
        self._max = max_payload
        self._types = _AGENT_TYPES if types is None else types

    def feed(self, data: bytes) -> List[Tuple[int, int, bytes]]:
        self._buf += data
        frames: List[Tuple[int, int, bytes]] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    def _next(self) -> Optional[Tuple[int, int, bytes]]:
        if len(self._buf) < HEADER_SIZE:
            return None
        length, ftype, ident = HEADER.unpack_from(self._buf)
        if length > self._max:
            raise ProtocolError(f"frame length {length} exceeds limit {self._max}")
        if ftype not in self._types:
            raise ProtocolError(f"unknown frame type {ftype}")
        end = HEADER_SIZE + length
        if len(self._buf) < end:
            return None
        payload = bytes(self._buf[HEADER_SIZE:end])
        del self._buf[:end]
        return ftype, ident, payload

    @property
    def pending(self) -> int:
        return len(self._buf)


def chunks(data: bytes, size: int = MAX_DATA_CHUNK) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


# Spec of a START frame (host -> agent). Documented here so both sides agree.
START_FIELDS = {
    "argv": "list[str], non-empty; argv[0] resolved on the guest's PATH",
    "env": "dict[str, str]: the whole environment (host merges defaults)",
    "dir": "str | null: working directory",
    "user": "str | int | null: user name or uid",
    "tty": "bool: pty (with rows/cols) or pipes",
    "rows": "int", "cols": "int",
    "window": "int: initial output credit in bytes",
    "reports": "bool: send live cwd/env REPORT frames (tty execs)",
    "init": "bool: exec replaces init; the VM powers off when it exits",
}

# START_FAILED kinds
NOT_FOUND = "not_found"
BAD_DIR = "bad_dir"
BAD_USER = "bad_user"
PERMISSION = "permission"
OTHER = "other"
