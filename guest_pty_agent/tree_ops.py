"""File-tree operations for copying (`cctui cp`): stat, paged listings, mkdir, symlink, attrs.

Kept apart from files.py so the byte ops stay small; the host checks every field
of these replies again (the guest is untrusted there), so here they only need to
be correct for an honest guest.
"""
from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:            # typing costs the guest ~0.3 s of start-up under TCG
    from typing import Any, Dict, List, Tuple
    Reply = Tuple[Dict[str, Any], bytes]

LIST_BUDGET = 512 * 1024     # bytes of names/targets in one listing page (MAX_PAYLOAD is 1 MiB)


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


def _describe(path: str, follow: bool) -> List[Any]:
    st = os.stat(path) if follow else os.lstat(path)
    kind = _kind(st.st_mode)
    target = os.readlink(path) if kind == "link" else ""
    return [kind, stat.S_IMODE(st.st_mode), st.st_size if kind == "file" else 0,
            st.st_mtime_ns, target]


def stat_path(req: Dict[str, Any], blob: bytes) -> Reply:
    kind, mode, size, mtime_ns, target = _describe(req["path"], req["follow"])
    return {"ok": True, "type": kind, "mode": mode, "size": size, "mtime_ns": mtime_ns,
            "target": target}, b""


def list_dir(req: Dict[str, Any], blob: bytes) -> Reply:
    """Sorted entries [name, type, mode, size, mtime_ns, target] from ``start``, one page."""
    path = req["path"]
    names = sorted(os.listdir(path))
    entries: List[List[Any]] = []
    used = 0
    index = req["start"]
    while index < len(names) and len(entries) < req["limit"] and used < LIST_BUDGET:
        name = names[index]
        index += 1
        try:
            entry = [name] + _describe(os.path.join(path, name), False)
        except FileNotFoundError:        # removed since listdir: not part of the copy
            continue
        used += len(name) + len(entry[5]) + 64
        entries.append(entry)
    return {"ok": True, "entries": entries, "next": index, "total": len(names)}, b""


def make_dir(req: Dict[str, Any], blob: bytes) -> Reply:
    try:
        os.mkdir(req["path"], req["mode"])
    except FileExistsError:
        if not os.path.isdir(req["path"]) or os.path.islink(req["path"]):
            raise
    return {"ok": True}, b""


def make_symlink(req: Dict[str, Any], blob: bytes) -> Reply:
    """A symlink at path, replacing a file or link there (never a directory), as cp does."""
    path = req["path"]
    try:
        os.symlink(req["target"], path)
    except FileExistsError:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            raise
        os.unlink(path)
        os.symlink(req["target"], path)
    return {"ok": True}, b""


def set_attrs(req: Dict[str, Any], blob: bytes) -> Reply:
    """Mode bits and mtime of the path itself (a symlink's own mtime, never its target)."""
    path = req["path"]
    is_link = stat.S_ISLNK(os.lstat(path).st_mode)
    if not is_link:
        os.chmod(path, req["mode"])
    if req["mtime_ns"] is not None:
        os.utime(path, ns=(req["mtime_ns"], req["mtime_ns"]), follow_symlinks=not is_link)
    return {"ok": True}, b""


OPS = {"stat": stat_path, "list_dir": list_dir, "mkdir": make_dir, "symlink": make_symlink,
       "set_attrs": set_attrs}
