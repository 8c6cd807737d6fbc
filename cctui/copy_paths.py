"""``cctui cp`` operands: which one is in a VM, and where.

The guest side is written as docker cp's ``CONTAINER:PATH``, with a session of
the cctui server as the container: ``SESSION:/PATH`` (the session's first VM)
or ``SESSION:VM:/PATH``. Guest paths must be absolute. A host path that holds
a ':' before any '/' is written with a leading ``./`` (as with docker cp).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from .server.target import TargetError, check_session_name

PATH_LIMIT = 4096


class CopyPathError(ValueError):
    """An operand of ``cctui cp`` that cannot be understood; the message says which."""


@dataclass(frozen=True)
class GuestPath:
    session: str
    vm: Optional[str]
    path: str


def parse_operand(text: str) -> "GuestPath | str":
    """A GuestPath for ``SESSION[:VM]:/PATH``, else the host path itself."""
    if not text:
        raise CopyPathError("empty path")
    if "\0" in text or len(text) > PATH_LIMIT:
        raise CopyPathError(f"path {text[:80]!r}: NUL or longer than {PATH_LIMIT}")
    head, colon, rest = text.partition(":")
    if not colon or "/" in head or text.startswith("."):
        return text                          # ./a:b, /x:y, plain names: host paths
    try:
        check_session_name(head)
    except TargetError as exc:
        raise CopyPathError(f"{text[:80]!r}: {exc} (write a host path with ':' as ./{text[:40]})") from None
    vm: Optional[str] = None
    if not rest.startswith("/"):
        vm, colon, rest = rest.partition(":")
        if not colon:
            raise CopyPathError(f"{text[:80]!r}: the guest path must be absolute "
                                "(SESSION:/PATH or SESSION:VM:/PATH)")
        try:
            check_session_name(vm)
        except TargetError:
            raise CopyPathError(f"{text[:80]!r}: bad VM name {vm[:40]!r}") from None
        if not rest.startswith("/"):
            raise CopyPathError(f"{text[:80]!r}: the guest path must be absolute "
                                "(SESSION:VM:/PATH)")
    return GuestPath(head, vm, rest)


def parse_copy(src: str, dst: str) -> Tuple[str, "GuestPath | str", "GuestPath | str"]:
    """("to", host, guest) or ("from", guest, host); exactly one side is in a VM."""
    a, b = parse_operand(src), parse_operand(dst)
    if isinstance(a, GuestPath) and isinstance(b, GuestPath):
        raise CopyPathError("both SRC and DST are in VMs: copy between a VM and the host")
    if isinstance(b, GuestPath):
        return "to", a, b
    if isinstance(a, GuestPath):
        return "from", a, b
    raise CopyPathError("neither SRC nor DST names a VM: write one as SESSION:/PATH "
                        "or SESSION:VM:/PATH")
