"""Checked readings of the control frames a guest agent sends.

The guest is untrusted: each function here turns one payload into plain values,
every field type-checked and bounded, or raises ProtocolError. Text the guest
chose (a START_FAILED message, an ERROR's reason) is capped and made printable
before it can reach an exception message, a log or a widget.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from guest_pty_agent import protocol as P

from .errors import DirectoryNotFound, Error, ExecutableNotFound, ProtocolError, StartFailed
from .guest_text import printable

MAX_PID = 1 << 22               # Linux's PID_MAX_LIMIT
MAX_EXIT_CODE = 255             # WEXITSTATUS is 8 bits
MAX_SIGNAL = 127                # WTERMSIG is 7 bits
MAX_PATH = 4096                 # PATH_MAX, the longest cwd a REPORT can carry
MAX_COMM = 16                   # a process name: 15 bytes in the kernel, 16 with slack
MAX_MESSAGE = 500               # characters of guest text kept in an error
MAX_CAPS = 64                   # capability names in HELLO
MAX_CAP_NAME = 64
BOOT_MARKS = ("init", "modules", "mounts", "python", "ready")   # HELLO's boot uptimes
MAX_UPTIME = 86400.0
ExitStatus = Tuple[Optional[int], Optional[int]]


def shown(value: Any, limit: int = 60) -> str:
    """A guest value quoted for an error message, never longer than ``limit``."""
    return printable(repr(value) if not isinstance(value, (dict, list)) else
                     type(value).__name__, limit)


def want(obj: Dict[str, Any], key: str, kinds: Tuple[type, ...], optional: bool = False) -> Any:
    """``obj[key]`` if it has one of ``kinds`` (bool is no int here), else ProtocolError."""
    value = obj.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = "/".join(kind.__name__ for kind in kinds)
        raise ProtocolError(f"agent sent {key}={shown(value)}, expected {names}")
    return value


def want_int(obj: Dict[str, Any], key: str, lo: int, hi: int, optional: bool = False) -> Optional[int]:
    value = want(obj, key, (int,), optional)
    if value is not None and not lo <= value <= hi:
        raise ProtocolError(f"agent sent {key}={shown(value)}, outside [{lo}, {hi}]")
    checked: Optional[int] = value
    return checked


def _env(value: Any, what: str, max_bytes: int) -> Optional[Dict[str, str]]:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} env must be an object, not {type(value).__name__}")
    size = 0
    for key, item in value.items():
        if not isinstance(item, str):
            raise ProtocolError(f"{what} env must map strings to strings")
        size += len(key) + len(item) + 2
    if size > max_bytes:
        raise ProtocolError(f"{what} env of {size} characters exceeds {max_bytes}")
    return value


def started(payload: bytes) -> int:
    """STARTED: the exec's pid in the guest."""
    return want_int(P.decode_json(payload), "pid", 1, MAX_PID)  # type: ignore[return-value]


def start_failed(payload: bytes) -> Error:
    """START_FAILED: the error the caller of start sees."""
    info = P.decode_json(payload)
    kind = want(info, "kind", (str,))
    message = printable(want(info, "message", (str,)), MAX_MESSAGE)
    if kind == P.NOT_FOUND:
        name = want(info, "name", (str,), optional=True) or ""
        return ExecutableNotFound(printable(name, MAX_MESSAGE), message)
    if kind == P.BAD_DIR:
        return DirectoryNotFound(message)
    return StartFailed(message)


def exit_status(payload: bytes) -> ExitStatus:
    """EXIT: (code, signal), exactly one of them set, as the Cmd API promises."""
    info = P.decode_json(payload)
    code = want_int(info, "code", 0, MAX_EXIT_CODE, optional=True)
    sig = want_int(info, "signal", 1, MAX_SIGNAL, optional=True)
    if (code is None) == (sig is None):
        raise ProtocolError("EXIT must carry exactly one of code and signal")
    return code, sig


def report(payload: bytes) -> Dict[str, Any]:
    """REPORT: the foreground process's cwd, environment, pid and name (each may be null;
    an older agent sends no name)."""
    info = P.decode_json(payload)
    cwd = want(info, "cwd", (str,), optional=True)
    if cwd is not None and len(cwd) > MAX_PATH:
        raise ProtocolError(f"REPORT cwd of {len(cwd)} characters exceeds {MAX_PATH}")
    comm = want(info, "comm", (str,), optional=True)
    if comm is not None and len(comm) > MAX_COMM:
        raise ProtocolError(f"REPORT comm of {len(comm)} characters exceeds {MAX_COMM}")
    return {"cwd": cwd, "env": _env(info.get("env"), "REPORT", P.MAX_REPORT_ENV),
            "pid": want_int(info, "pid", 1, MAX_PID, optional=True), "comm": comm}


def hello(payload: bytes) -> Dict[str, Any]:
    """HELLO: the agent's version, capabilities and environment."""
    info = P.decode_json(payload)
    version = want(info, "version", (int,))
    if version != P.VERSION:
        raise ProtocolError(f"agent speaks protocol version {shown(version, 24)}, host {P.VERSION}")
    caps: List[str] = want(info, "caps", (list,), optional=True) or []
    if len(caps) > MAX_CAPS or not all(isinstance(c, str) and len(c) <= MAX_CAP_NAME for c in caps):
        raise ProtocolError(f"HELLO caps must be at most {MAX_CAPS} short strings")
    env = _env(info.get("env"), "HELLO", P.MAX_PAYLOAD)
    return {"version": version, "caps": caps, "env": env or {},
            "boot": boot_marks(info.get("boot"))}


def boot_marks(value: Any) -> Dict[str, float]:
    """HELLO's optional boot timestamps (kernel uptime, seconds): only known names
    with plausible values are kept; anything else is dropped, as it only explains."""
    if not isinstance(value, dict):
        return {}
    marks: Dict[str, float] = {}
    for name in BOOT_MARKS:
        seconds = value.get(name)
        if (isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
                and 0.0 <= seconds <= MAX_UPTIME):
            marks[name] = float(seconds)
    return marks


def response(payload: bytes) -> Tuple[Dict[str, Any], bytes]:
    """RESPONSE: a header with a boolean ``ok`` and a blob."""
    header, blob = P.unpack_blob(payload)
    want(header, "ok", (bool,))
    return header, blob


def peer_error(payload: bytes) -> str:
    """ERROR: the agent's reason for ending the session, safe to show."""
    message = P.decode_json(payload).get("message")
    return printable(message if isinstance(message, str) else "(no reason given)", MAX_MESSAGE)
