"""Field-by-field checks of the host's JSON payloads.

Everything from the host is untrusted: a wrong type or an out-of-range value is a
ProtocolError (the session ends with an ERROR frame), never a traceback.
"""
from __future__ import annotations

import os


from .protocol import DEFAULT_WINDOW, ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Any, Dict, List, Optional, Tuple, Union

_MISSING = object()


def _get(obj: Dict[str, Any], key: str, kinds: Tuple[type, ...], default: Any = _MISSING) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING or (value is None and default is None):
        if default is _MISSING:
            raise ProtocolError(f"field {key!r} is missing")
        return default
    # bool is an int in Python; an int field must not accept true/false
    if isinstance(value, bool) and bool not in kinds:
        raise ProtocolError(f"field {key!r} has the wrong type")
    if not isinstance(value, kinds):
        raise ProtocolError(f"field {key!r} has the wrong type")
    return value


def _int(obj: Dict[str, Any], key: str, lo: int, hi: int, default: Any = _MISSING) -> int:
    value = _get(obj, key, (int,), default)
    if not lo <= value <= hi:
        raise ProtocolError(f"field {key!r} out of range [{lo}, {hi}]")
    return value


def _text(value: Any, what: str, empty_ok: bool = True) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a string")
    if "\0" in value or (not empty_ok and not value):
        raise ProtocolError(f"{what} must be a non-empty string without NUL")
    return value


class StartSpec:
    """A checked START request (a plain class: dataclasses costs guest start-up)."""

    __slots__ = ("argv", "env", "dir", "user", "tty", "rows", "cols", "window", "reports",
                 "init", "root")

    def __init__(self, argv: List[str], env: Dict[str, str], dir: Optional[str],
                 user: Union[str, int, None], tty: bool, rows: int, cols: int, window: int,
                 reports: bool, init: bool, root: Optional[str] = None) -> None:
        self.argv = argv
        self.env = env
        self.dir = dir
        self.user = user
        self.tty = tty
        self.rows = rows
        self.cols = cols
        self.window = window
        self.reports = reports
        self.init = init
        self.root = root            # chroot for the command (an image's root)


def start_spec(obj: Dict[str, Any]) -> StartSpec:
    argv = _get(obj, "argv", (list,))
    if not argv:
        raise ProtocolError("argv must not be empty")
    argv = [_text(a, "argv item") for a in argv]
    _text(argv[0], "argv[0]", empty_ok=False)
    env = _get(obj, "env", (dict,))
    for key, value in env.items():
        _text(key, "env name", empty_ok=False)
        if "=" in key:
            raise ProtocolError("env name must not contain '='")
        _text(value, f"env value of {key}")
    cwd = _get(obj, "dir", (str,), None)
    if cwd is not None:
        _text(cwd, "dir", empty_ok=False)
    root = _get(obj, "root", (str,), None)
    if root is not None and not _text(root, "root", empty_ok=False).startswith("/"):
        raise ProtocolError("root must be an absolute path")
    user = _get(obj, "user", (str, int), None)
    if isinstance(user, str):
        _text(user, "user", empty_ok=False)
    elif isinstance(user, int) and not 0 <= user < 2**32 - 1:
        raise ProtocolError("user id out of range")
    return StartSpec(
        argv=argv, env=dict(env), dir=cwd, user=user,
        tty=_get(obj, "tty", (bool,), False),
        rows=_int(obj, "rows", 1, 65535, 24), cols=_int(obj, "cols", 1, 65535, 80),
        window=_int(obj, "window", 0, 2**32 - 1, DEFAULT_WINDOW),
        reports=_get(obj, "reports", (bool,), False),
        init=_get(obj, "init", (bool,), False),
        root=root,
    )


def hello_version(obj: Dict[str, Any]) -> int:
    return _int(obj, "version", 0, 2**31)


def resize(obj: Dict[str, Any]) -> Tuple[int, int]:
    return _int(obj, "rows", 1, 65535), _int(obj, "cols", 1, 65535)


def signal_request(obj: Dict[str, Any]) -> Tuple[int, bool]:
    return _int(obj, "signal", 1, 64), _get(obj, "group", (bool,), False)


PATH_OPS = ("mkdir_all", "write_file", "read_file", "stat", "list_dir", "mkdir", "symlink",
            "set_attrs")
MAX_LIST_PAGE = 4096         # entries in one list_dir reply


def file_request(obj: Dict[str, Any]) -> Dict[str, Any]:
    """The op and its fields with defaults filled in; unknown ops pass through."""
    op = _text(_get(obj, "op", (str,)), "op")
    req: Dict[str, Any] = {"op": op}
    if op in PATH_OPS:
        req["path"] = _text(_get(obj, "path", (str,)), "path", empty_ok=False)
        root = _get(obj, "root", (str,), None)
        if root is not None:
            if not _text(root, "root", empty_ok=False).startswith("/"):
                raise ProtocolError("root must be an absolute path")
            # Paths of an image's files are taken inside its root.
            req["path"] = os.path.join(root, os.path.normpath("/" + req["path"]).lstrip("/"))
    if op == "mkdir_all":
        req["mode"] = _int(obj, "mode", 0, 0o7777, 0o755)
    elif op == "write_file":
        req["mode"] = _int(obj, "mode", 0, 0o7777, 0o644)
        req["append"] = _get(obj, "append", (bool,), False)
        has_offset = obj.get("offset") is not None
        req["offset"] = _int(obj, "offset", 0, 2**63 - 1) if has_offset else None
    elif op == "read_file":
        req["offset"] = _int(obj, "offset", 0, 2**63 - 1, 0)
        req["length"] = _int(obj, "length", 0, 2**63 - 1, 2**63 - 1)
    elif op == "stat":
        req["follow"] = _get(obj, "follow", (bool,), False)
    elif op == "list_dir":
        req["start"] = _int(obj, "start", 0, 2**31, 0)
        req["limit"] = _int(obj, "limit", 1, MAX_LIST_PAGE, 256)
    elif op == "mkdir":
        req["mode"] = _int(obj, "mode", 0, 0o7777, 0o755)
    elif op == "symlink":
        req["target"] = _text(_get(obj, "target", (str,)), "target", empty_ok=False)
    elif op == "set_attrs":
        req["mode"] = _int(obj, "mode", 0, 0o7777)
        has_mtime = obj.get("mtime_ns") is not None
        req["mtime_ns"] = _int(obj, "mtime_ns", -2**63, 2**63 - 1) if has_mtime else None
    return req
