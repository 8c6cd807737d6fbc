"""Checks of what the guest says during a copy: stat replies and directory listings.

The guest is untrusted. A listing decides which host paths ``copy_from`` creates,
so every name is one plain path component (no ``/``, ``.``, ``..``, NUL, or more
than NAME_MAX bytes), names come strictly sorted (no duplicates, across pages
too), every number is in range and every count bounded. A lie is a GuestLie;
the caller ends the session over it, as for any broken frame.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

NAME_MAX = 255                  # bytes in one path component (Linux)
TARGET_MAX = 4096               # bytes in a symlink target (PATH_MAX)
SIZE_MAX = 2**63 - 1
MTIME_LIMIT = 2**63 - 1
MAX_DIR_ENTRIES = 1_000_000     # entries of one guest directory
MAX_PAGE = 4096                 # entries of one list_dir reply (the agent's own cap)
KINDS = ("file", "dir", "link", "other")


class GuestLie(ValueError):
    """A guest reply that no honest agent sends."""


class GuestEntry(NamedTuple):
    """One guest path as the copy sees it; name is "" for a stat reply."""

    name: str
    kind: str
    mode: int
    size: int
    mtime_ns: int
    target: str


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise GuestLie(f"{what} is not an integer in [{lo}, {hi}]")
    return value


def check_name(name: Any) -> str:
    """One safe path component, or GuestLie."""
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name:
        raise GuestLie(f"bad file name in a listing: {name!r:.80}")
    try:
        raw = os.fsencode(name)
    except UnicodeError:
        raise GuestLie(f"file name not encodable: {name!r:.80}") from None
    if len(raw) > NAME_MAX:
        raise GuestLie(f"file name of {len(raw)} bytes exceeds {NAME_MAX}")
    return name


def _entry(name: str, kind: Any, mode: Any, size: Any, mtime_ns: Any, target: Any) -> GuestEntry:
    if kind not in KINDS:
        raise GuestLie(f"unknown file type {kind!r:.40}")
    if not isinstance(target, str) or "\0" in target:
        raise GuestLie("symlink target is not a string without NUL")
    if kind == "link":
        try:
            length = len(os.fsencode(target))
        except UnicodeError:
            raise GuestLie("symlink target not encodable") from None
        if not 0 < length <= TARGET_MAX:
            raise GuestLie(f"symlink target of {length} bytes is not in [1, {TARGET_MAX}]")
    elif target:
        raise GuestLie(f"a {kind} with a symlink target")
    return GuestEntry(name, kind, _int(mode, "mode", 0, 0o7777), _int(size, "size", 0, SIZE_MAX),
                      _int(mtime_ns, "mtime", -MTIME_LIMIT, MTIME_LIMIT), target)


def check_stat(reply: Dict[str, Any]) -> GuestEntry:
    return _entry("", reply.get("type"), reply.get("mode"), reply.get("size"),
                  reply.get("mtime_ns"), reply.get("target"))


def check_page(reply: Dict[str, Any], start: int, limit: int,
               after: Optional[str]) -> Tuple[List[GuestEntry], int, int]:
    """(entries, next start, total) of one list_dir page asked from ``start``.

    ``after`` is the last name of the previous page: names must sort after it.
    """
    total = _int(reply.get("total"), "listing total", 0, MAX_DIR_ENTRIES)
    following = _int(reply.get("next"), "listing next", start, total)
    items = reply.get("entries")
    if not isinstance(items, list) or len(items) > min(limit, MAX_PAGE):
        raise GuestLie("listing entries are not a list of at most the asked count")
    if len(items) > following - start:
        raise GuestLie("listing has more entries than the indexes it claims to cover")
    if following == start and following < total:
        raise GuestLie("listing page makes no progress")
    entries = []
    previous = after
    for item in items:
        if not isinstance(item, list) or len(item) != 6:
            raise GuestLie("listing entry is not a 6-item list")
        name = check_name(item[0])
        if previous is not None and not previous < name:
            raise GuestLie(f"listing names not strictly sorted at {name!r:.80}")
        previous = name
        entries.append(_entry(name, *item[1:]))
    return entries, following, total
