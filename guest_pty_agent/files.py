"""File operations requested by the host (REQUEST/RESPONSE), e.g. copying files in.

Files are opened O_NONBLOCK so a FIFO or device path can never stall the loop.
"""
from __future__ import annotations

import errno
import os

from . import tree_ops

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Any, Dict, Tuple
    Reply = Tuple[Dict[str, Any], bytes]

MAX_READ = 512 * 1024


def _mkdir_all(req: Dict[str, Any], blob: bytes) -> Reply:
    path = req["path"]
    if os.path.isdir(path):
        return {"ok": True}, b""
    os.makedirs(path, req["mode"], exist_ok=True)
    return {"ok": True}, b""


def _write_file(req: Dict[str, Any], blob: bytes) -> Reply:
    """Truncate-and-write, append, or (with ``offset``) write in place, so that
    chunks of one copy may be in flight together and land in any order."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC
    offset = req["offset"]
    if offset is None:
        flags |= os.O_APPEND if req["append"] else os.O_TRUNC
    fd = os.open(req["path"], flags, req["mode"])
    try:
        view = memoryview(blob)
        while view:
            done = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
            view = view[done:]
            offset = None if offset is None else offset + done
    finally:
        os.close(fd)
    return {"ok": True}, b""


def _read_file(req: Dict[str, Any], blob: bytes) -> Reply:
    fd = os.open(req["path"], os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        data = os.pread(fd, min(req["length"], MAX_READ), req["offset"])
    finally:
        os.close(fd)
    return {"ok": True, "size": size}, data


def _getenv(req: Dict[str, Any], blob: bytes) -> Reply:
    return {"ok": True, "env": dict(os.environ)}, b""


_OPS = {"mkdir_all": _mkdir_all, "write_file": _write_file,
        "read_file": _read_file, "getenv": _getenv, **tree_ops.OPS}


def handle(req: Dict[str, Any], blob: bytes) -> Reply:
    """Run one validated request; OS errors become {"ok": false} replies."""
    op = _OPS.get(req["op"])
    if op is None:
        return {"ok": False, "errno": errno.ENOSYS, "error": f"unsupported operation: {req['op']}"}, b""
    try:
        return op(req, blob)
    except OSError as exc:
        path = exc.filename if exc.filename is not None else req.get("path", "")
        return {"ok": False, "errno": exc.errno or 0,
                "error": f"{exc.strerror or exc}: {path}"}, b""
