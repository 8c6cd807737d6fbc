"""The client <-> server wire format: the agent protocol's framing, our own frame types.

Frames are ``guest_pty_agent.protocol``'s (``len u32 | type u8 | id u32 | payload``,
JSON payloads depth-checked before parsing, every length bounded), so there is
one framing implementation. Both sides open with HELLO carrying the version.

    client -> server                       server -> client
    HELLO {"version"}                      HELLO {"version", "pid"}
    REQUEST id {"op", ...}                 REPLY id {"ok": true, ...} | {"ok": false, "error"}
    STDIN id bytes, STDIN_CLOSE id         OUTPUT / ERROUT id bytes (capture text, exec output)
                                           EXIT id {"code", "signal"} (an exec ended)
                                           ERROR {"error"}: this client broke the protocol; closed

Attach (version 2): a client attaches to a session and shows copies of the
server's authoritative screens.

    REQUEST {"op": "attach", "target", "rows", "cols"}   REPLY, then LAYOUT and a full SCREEN per pane
    INPUT %N bytes (keys typed into pane %N)            LAYOUT {session, current, windows, panes, vms,
                                                                clients, size_rule}: again when it changes
                                                         SCREEN %N {rows, cols, full, lines, cursor,
                                                                title, modes, history}: changed rows
                                                         DETACHED {"reason"}: the attachment ended

SCREEN carries only rows changed since the client's last SCREEN for that pane
(``full``: every row, drop your copy), at most 60 a second; a client that
stops reading gets no backlog: once it drains it gets what changed meanwhile,
at most a full screen per pane (tmux and mosh work this way). History rows are
fetched on demand (op "history") by absolute number; a new history "epoch"
means the rows were renumbered. A pane is sized to the smallest rows and the
smallest cols that the attached clients reported for it (op "pane-size";
tmux's "smallest" rule). A SCREEN too big for one frame is sent as a full one
and further ones with the rest of its rows.

Every REQUEST is validated here (known op, known fields, typed and bounded)
before the server looks at it: a client is as untrusted as a guest.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from guest_pty_agent import protocol as framing
from guest_pty_agent.protocol import ProtocolError

from ..vm.network import NET_MODES, NetworkError, parse_port
from ..vm.transport_choice import TRANSPORTS
from .screen_codec import decode_layout
from .target import TargetError, check_pane_id, check_session_name, parse_target

VERSION = 2
MAX_CLIENT_PAYLOAD = 256 * 1024     # a request or a stdin chunk: small
DATA_CHUNK = framing.MAX_DATA_CHUNK
ARG_LIMIT = 4096                    # one argv word, key word, image path or text
ARGV_LIMIT = 256                    # words in an argv or a send-keys
SIZE_LIMIT = 1000                   # rows or columns
SHARES_LIMIT = 64                   # published ports, or volumes, on one VM


class Frame(enum.IntEnum):
    HELLO = 1
    REQUEST = 2
    REPLY = 3
    STDIN = 4
    STDIN_CLOSE = 5
    OUTPUT = 6
    ERROUT = 7
    EXIT = 8
    ERROR = 9
    INPUT = 10          # client -> server, ident N of pane "%N": typed bytes (attached links only)
    LAYOUT = 11         # server -> client: the attached session's windows, panes, VMs
    SCREEN = 12         # server -> client, ident N of pane "%N": changed rows, cursor, modes
    DETACHED = 13       # server -> client: the attachment ended {"reason"}


FRAME_TYPES = frozenset(int(t) for t in Frame)
CLIENT_TYPES = frozenset({Frame.HELLO, Frame.REQUEST, Frame.STDIN, Frame.STDIN_CLOSE, Frame.INPUT})
HISTORY_FETCH_LIMIT = 500           # rows in one history reply
SEARCH_TEXT_LIMIT = 256
NAME_TEXT_LIMIT = 64                # a window name


def decoder(max_payload: int) -> framing.FrameDecoder:
    return framing.FrameDecoder(max_payload, FRAME_TYPES)


def encode(ftype: Frame, ident: int, payload: bytes = b"") -> bytes:
    return framing.encode(ftype, ident, payload)


def encode_json(ftype: Frame, ident: int, obj: Dict[str, Any]) -> bytes:
    return framing.encode_json(ftype, ident, obj)


decode_json = framing.decode_json


# -- field checks: each returns the value or raises ProtocolError ------------------
Check = Callable[[str, Any], Any]


def _text(limit: int = ARG_LIMIT) -> Check:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or len(value) > limit or "\0" in value:
            raise ProtocolError(f"field {name!r} must be a string of at most {limit} characters")
        return value
    return check


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"field {name!r} must be true or false")
    return value


def _int(lo: int, hi: int) -> Check:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ProtocolError(f"field {name!r} must be an integer from {lo} to {hi}")
        return value
    return check


def _number(lo: float, hi: float) -> Check:
    def check(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ProtocolError(f"field {name!r} must be a number from {lo} to {hi}")
        return float(value)
    return check


def _words(allow_empty: bool) -> Check:
    def check(name: str, value: Any) -> List[str]:
        if (not isinstance(value, list) or len(value) > ARGV_LIMIT or (not value and not allow_empty)
                or not all(isinstance(w, str) and len(w) <= ARG_LIMIT and "\0" not in w for w in value)):
            raise ProtocolError(f"field {name!r} must be a list of 1-{ARGV_LIMIT} strings "
                                f"of at most {ARG_LIMIT} characters")
        return list(value)
    return check


def _optional(check: Check) -> Check:
    def optional(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)
    return optional


def _target(name: str, value: Any) -> Any:
    try:
        return parse_target(value)
    except TargetError as exc:
        raise ProtocolError(f"field {name!r}: {exc}") from None


def _session_name(name: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    try:
        return check_session_name(value)
    except TargetError as exc:
        raise ProtocolError(f"field {name!r}: {exc}") from None


def _pane_id(name: str, value: Any) -> str:
    try:
        return check_pane_id(value)
    except TargetError as exc:
        raise ProtocolError(f"field {name!r}: {exc}") from None


def _window_name(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > NAME_TEXT_LIMIT or not value.isprintable():
        raise ProtocolError(f"field {name!r} must be at most {NAME_TEXT_LIMIT} printable characters")
    return value


def _search_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= SEARCH_TEXT_LIMIT or "\0" in value:
        raise ProtocolError(f"field {name!r} must be a string of 1-{SEARCH_TEXT_LIMIT} characters")
    return value


def _layout(name: str, value: Any) -> Any:
    """A window layout as screen_codec encodes it: the root node (never empty)."""
    root = decode_layout(value)
    if root is None:
        raise ProtocolError(f"field {name!r}: a layout names at least one pane")
    return root


def _choice(options: Tuple[str, ...]) -> Check:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise ProtocolError(f"field {name!r} must be one of {', '.join(options)}")
        return value
    return check


_accel = _choice(("auto", "kvm", "tcg"))
_PANE_SIZE = _int(1, SIZE_LIMIT)


def _ports(name: str, value: Any) -> List[str]:
    """docker -p values, each parsed here (syntax and range: no host state is looked at)."""
    if (not isinstance(value, list) or len(value) > SHARES_LIMIT
            or not all(isinstance(p, str) and len(p) <= 64 for p in value)):
        raise ProtocolError(f"field {name!r} must be a list of at most {SHARES_LIMIT} strings "
                            "of at most 64 characters")
    try:
        return [str(parse_port(p)) for p in value]
    except NetworkError as exc:
        raise ProtocolError(f"field {name!r}: {exc}") from None


def _volumes(name: str, value: Any) -> List[str]:
    """docker -v values with an absolute host path (the client resolved it: the server runs
    in /); whether the directory exists is the server's check, answered as an error reply."""
    if (not isinstance(value, list) or len(value) > SHARES_LIMIT
            or not all(isinstance(v, str) and len(v) <= ARG_LIMIT and "\0" not in v
                       for v in value)):
        raise ProtocolError(f"field {name!r} must be a list of at most {SHARES_LIMIT} strings "
                            f"of at most {ARG_LIMIT} characters")
    for v in value:
        parts = v.split(":")
        if not (2 <= len(parts) <= 3 and parts[0].startswith("/") and parts[1]
                and parts[2:] in ([], ["ro"], ["rw"])):
            raise ProtocolError(f"field {name!r}: {v[:80]!r} is not /HOST_DIR:GUEST_DIR[:ro|:rw]")
    return list(value)


# op -> field -> (check, default); a field without a default is required
_REQUIRED = object()
_OPS: Dict[str, Dict[str, Tuple[Check, Any]]] = {
    "ls": {},
    "kill-server": {},
    "new": {"name": (_session_name, None), "image": (_text(), "host"), "argv": (_optional(_words(True)), None),
            "accel": (_accel, "auto"), "transport": (_choice(TRANSPORTS), "auto"), "memory": (_int(64, 1 << 20), 1024), "cpus": (_int(1, 64), 2),
            "rows": (_int(2, SIZE_LIMIT), 24), "cols": (_int(2, SIZE_LIMIT), 80),
            "net": (_choice(NET_MODES), "off"), "ports": (_ports, []), "volumes": (_volumes, []),
            "wait": (_flag, True)},
    "new-window": {"target": (_target, _REQUIRED), "argv": (_optional(_words(True)), None)},
    "split-window": {"target": (_target, _REQUIRED), "horizontal": (_flag, False),
                     "argv": (_optional(_words(True)), None)},
    "kill-pane": {"target": (_target, _REQUIRED)},
    "kill-session": {"target": (_target, _REQUIRED)},
    "send-keys": {"target": (_target, _REQUIRED), "keys": (_words(True), _REQUIRED),
                  "literal": (_flag, False)},
    "capture-pane": {"target": (_target, _REQUIRED), "start": (_optional(_int(-(1 << 30), 1 << 30)), None),
                     "end": (_optional(_int(-(1 << 30), 1 << 30)), None), "escapes": (_flag, False)},
    "wait-text": {"target": (_target, _REQUIRED), "text": (_text(), _REQUIRED),
                  "timeout": (_number(0, 3600), 30.0)},
    "exec": {"target": (_target, _REQUIRED), "vm": (_optional(_text(64)), None),
             "argv": (_words(False), _REQUIRED)},
    # attach (version 2)
    "attach": {"target": (_target, _REQUIRED), "rows": (_int(2, SIZE_LIMIT), 24),
               "cols": (_int(2, SIZE_LIMIT), 80)},
    "detach": {},
    "pane-size": {"pane": (_pane_id, _REQUIRED), "rows": (_PANE_SIZE, _REQUIRED),
                  "cols": (_PANE_SIZE, _REQUIRED)},
    "history": {"pane": (_pane_id, _REQUIRED), "start": (_int(0, 1 << 62), _REQUIRED),
                "count": (_int(1, HISTORY_FETCH_LIMIT), _REQUIRED)},
    "search": {"pane": (_pane_id, _REQUIRED), "text": (_search_text, _REQUIRED),
               "case": (_flag, False)},
    "kill-window": {"target": (_target, _REQUIRED)},
    "rename-window": {"target": (_target, _REQUIRED), "name": (_window_name, _REQUIRED)},
    "select-window": {"target": (_target, _REQUIRED)},
    "select-pane": {"target": (_target, _REQUIRED)},
    "respawn-pane": {"target": (_target, _REQUIRED)},
    "set-layout": {"target": (_target, _REQUIRED), "layout": (_layout, _REQUIRED)},
    "new-vm": {"target": (_target, _REQUIRED), "image": (_text(), "host"),
               "argv": (_optional(_words(True)), None), "accel": (_accel, "auto"),
               "transport": (_choice(TRANSPORTS), "auto"), "memory": (_int(64, 1 << 20), 1024),
               "cpus": (_int(1, 64), 2), "net": (_choice(NET_MODES), "off"),
               "ports": (_ports, []), "volumes": (_volumes, [])},
    "kill-vm": {"target": (_target, _REQUIRED), "vm": (_text(64), _REQUIRED)},
}
OPS = frozenset(_OPS)


@dataclass
class Request:
    op: str
    args: Dict[str, Any]


def validate_request(obj: Any) -> Request:
    """A decoded REQUEST payload as a Request, or ProtocolError naming what is wrong."""
    if not isinstance(obj, dict):
        raise ProtocolError("a request must be a JSON object")
    op = obj.get("op")
    if not isinstance(op, str) or op not in _OPS:
        shown = op[:40] if isinstance(op, str) else type(op).__name__
        raise ProtocolError(f"unknown request op {shown!r}")
    fields = _OPS[op]
    extra = [k for k in obj if k != "op" and k not in fields]
    if extra:
        raise ProtocolError(f"{op}: unknown field {str(extra[0])[:40]!r}")
    args: Dict[str, Any] = {}
    for name, (check, default) in fields.items():
        if name in obj:
            args[name] = check(name, obj[name])
        elif default is _REQUIRED:
            raise ProtocolError(f"{op}: field {name!r} is required")
        else:
            args[name] = default
    return Request(op, args)


def validate_hello(obj: Dict[str, Any]) -> int:
    version = obj.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProtocolError("HELLO must carry an integer version")
    if version != VERSION:
        raise ProtocolError(f"protocol version {version} is not this server's {VERSION}: "
                            "run `cctui kill-server` and retry with one cctui version")
    return version
