"""copy_to / copy_from: files and trees between the host and a guest, streamed.

Bytes move in FILE_CHUNK pieces with a few requests outstanding (READS_/WRITES_IN_FLIGHT), so
a copy holds a few MiB whatever the file size, and the agent's one-at-a-time
request loop is the flow control. Semantics follow ``cp``: a destination that
is an existing directory receives the source inside it; ``recursive`` is
needed for a directory; inside a tree symlinks are copied as symlinks and
special files are skipped with a CopySkipped warning. The top-level source is
followed if it is a symlink (as ``cp`` does for a file operand).

On the host side of ``copy_from`` every path is created relative to an open
directory fd with O_NOFOLLOW, from names checked by copy_checks, so a guest's
listing cannot place anything outside the destination.
"""
from __future__ import annotations

import asyncio
import errno as E
import os
import posixpath
import stat
import warnings
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple, Type

from ..errors import (CopyError, DestinationNotFound, NotADirectory, PermissionDenied,
                      SourceNotFound)
from .copy_checks import GuestEntry, GuestLie, check_page, check_stat

if TYPE_CHECKING:
    from .instance import AsyncInstance

FILE_CHUNK = 512 * 1024         # the agent's MAX_READ; a write blob well under MAX_PAYLOAD
READS_IN_FLIGHT = 16            # read requests outstanding per file (a reply is one bytes)
WRITES_IN_FLIGHT = 4            # write requests: each chunk is copied into a frame, so fewer
LIST_PAGE = 256
MAX_DEPTH = 256                 # directory levels below the copied one
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class CopySkipped(UserWarning):
    """A special file (device, FIFO, socket) was left out of a recursive copy."""


def os_error(exc: OSError, path: str, side: str,
             missing: Type[CopyError] = SourceNotFound) -> CopyError:
    """The CopyError subclass for an OS error on ``path`` (``missing`` for ENOENT)."""
    code = exc.errno or 0
    kinds: Dict[int, Type[CopyError]] = {E.ENOENT: missing, E.ENOTDIR: NotADirectory,
                                         E.EACCES: PermissionDenied, E.EPERM: PermissionDenied}
    kind = kinds.get(code, CopyError)
    reason = "no such file or directory" if kind is SourceNotFound else exc.strerror or str(exc)
    return kind(f"{side} path {path}: {reason}", path, side, code)


class _Guest:
    """The guest half: file requests, with replies checked."""

    def __init__(self, inst: "AsyncInstance") -> None:
        self.inst = inst

    def lie(self, message: str) -> BaseException:
        return self.inst.require_session().reject(f"copy: {message}")

    async def call(self, header: Dict[str, Any], blob: bytes = b"",
                   missing: type = SourceNotFound) -> Tuple[Dict[str, Any], bytes]:
        try:
            return await self.inst._file_request(header, blob)
        except OSError as exc:
            raise os_error(exc, header["path"], "guest", missing) from None

    async def stat(self, path: str, follow: bool) -> Optional[GuestEntry]:
        """The entry at path, or None if there is none."""
        try:
            reply, _ = await self.call({"op": "stat", "path": path, "follow": follow})
        except SourceNotFound:
            return None
        try:
            return check_stat(reply)
        except GuestLie as exc:
            raise self.lie(str(exc)) from None

    async def listing(self, path: str) -> List[GuestEntry]:
        entries: List[GuestEntry] = []
        start, total, after = 0, 1, None
        while start < total:
            reply, _ = await self.call({"op": "list_dir", "path": path, "start": start,
                                        "limit": LIST_PAGE})
            try:
                page, start, total = check_page(reply, start, LIST_PAGE, after)
            except GuestLie as exc:
                raise self.lie(str(exc)) from None
            if page:
                after = page[-1].name
            entries.extend(page)
        return entries


def _check_guest_path(path: str) -> None:
    """Refuse here what the agent would take as a protocol error (ending the session)."""
    if not isinstance(path, str) or not path or "\0" in path:
        raise CopyError(f"bad guest path {path!r:.80}: a non-empty string without NUL is needed",
                        str(path), "guest", E.EINVAL)


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name if base != "/" else "/" + name


# -- host -> guest -------------------------------------------------------------

async def copy_to(inst: "AsyncInstance", host_path: str, guest_path: str,
                  recursive: bool = False) -> None:
    _check_guest_path(guest_path)
    guest = _Guest(inst)
    try:
        st = os.stat(host_path)
    except OSError as exc:
        raise os_error(exc, host_path, "host") from None
    is_dir = stat.S_ISDIR(st.st_mode)
    if is_dir and not recursive:
        raise CopyError(f"host path {host_path} is a directory (copy it with recursive=True / -r)",
                        host_path, "host", E.EISDIR)
    if not is_dir and not stat.S_ISREG(st.st_mode):
        raise CopyError(f"host path {host_path} is not a regular file or directory",
                        host_path, "host")
    target = await _guest_target(guest, guest_path, os.path.basename(os.path.normpath(host_path)),
                                 is_dir)
    await _put(guest, host_path, target, st, 0)


async def _guest_target(guest: _Guest, guest_path: str, name: str, is_dir: bool) -> str:
    """Where the source lands: inside guest_path if it is a directory, else at it."""
    found = await guest.stat(guest_path, follow=True)
    if found is not None and found.kind == "dir":
        return _join(guest_path, name)
    if found is not None and is_dir:
        raise NotADirectory(f"guest path {guest_path} exists and is not a directory",
                            guest_path, "guest", E.ENOTDIR)
    if guest_path.endswith("/"):
        raise DestinationNotFound(f"guest path {guest_path}: no such directory",
                                  guest_path, "guest", E.ENOENT)
    parent = posixpath.dirname(guest_path) or "."
    up = await guest.stat(parent, follow=True)
    if up is None:
        raise DestinationNotFound(f"guest path {parent}: no such directory (the destination's "
                                  "parent)", parent, "guest", E.ENOENT)
    if up.kind != "dir":
        raise NotADirectory(f"guest path {parent} is not a directory", parent, "guest", E.ENOTDIR)
    return guest_path


async def _put(guest: _Guest, src: str, dst: str, st: os.stat_result, depth: int) -> None:
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        await _put_file(guest, src, dst)
    elif stat.S_ISLNK(st.st_mode):
        await guest.call({"op": "symlink", "path": dst, "target": os.readlink(src)},
                         missing=DestinationNotFound)
    elif stat.S_ISDIR(st.st_mode):
        if depth > MAX_DEPTH:
            raise CopyError(f"host path {src}: more than {MAX_DEPTH} directory levels", src, "host")
        await guest.call({"op": "mkdir", "path": dst, "mode": 0o700}, missing=DestinationNotFound)
        try:
            with os.scandir(src) as it:
                children = sorted((e.name, e.stat(follow_symlinks=False)) for e in it)
        except OSError as exc:
            raise os_error(exc, src, "host") from None
        for name, child in children:
            await _put(guest, os.path.join(src, name), _join(dst, name), child, depth + 1)
    else:
        warnings.warn(f"skipped host path {src}: not a file, directory or symlink", CopySkipped,
                      stacklevel=2)
        return
    await guest.call({"op": "set_attrs", "path": dst, "mode": mode, "mtime_ns": st.st_mtime_ns})


async def _put_file(guest: _Guest, src: str, dst: str) -> None:
    try:
        fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise os_error(exc, src, "host") from None
    try:
        await guest.call({"op": "write_file", "path": dst, "mode": 0o600, "append": False},
                         missing=DestinationNotFound)
        pending: Deque["asyncio.Future[Any]"] = deque()
        offset = 0
        try:
            while True:
                chunk = os.read(fd, FILE_CHUNK)
                if not chunk:
                    break
                pending.append(asyncio.ensure_future(guest.call(
                    {"op": "write_file", "path": dst, "mode": 0o600, "offset": offset}, chunk)))
                offset += len(chunk)
                del chunk
                if len(pending) >= WRITES_IN_FLIGHT:
                    await pending.popleft()
            while pending:
                await pending.popleft()
        finally:
            for task in pending:
                task.cancel()
    except OSError as exc:
        raise os_error(exc, src, "host") from None
    finally:
        os.close(fd)


# -- guest -> host -------------------------------------------------------------

async def copy_from(inst: "AsyncInstance", guest_path: str, host_path: str,
                    recursive: bool = False) -> None:
    _check_guest_path(guest_path)
    guest = _Guest(inst)
    entry = await guest.stat(guest_path, follow=True)
    if entry is None:
        raise SourceNotFound(f"guest path {guest_path}: no such file or directory",
                             guest_path, "guest", E.ENOENT)
    if entry.kind == "dir" and not recursive:
        raise CopyError(f"guest path {guest_path} is a directory (copy it with recursive=True / -r)",
                        guest_path, "guest", E.EISDIR)
    if entry.kind not in ("file", "dir"):
        raise CopyError(f"guest path {guest_path} is not a regular file or directory",
                        guest_path, "guest")
    name = posixpath.basename(posixpath.normpath(guest_path))
    if os.path.isdir(host_path):
        parent, leaf = host_path, name
        if leaf in ("", "/", ".", ".."):
            raise CopyError(f"guest path {guest_path} has no name to create in {host_path}",
                            guest_path, "guest")
    else:
        if entry.kind == "dir" and os.path.lexists(host_path):
            raise NotADirectory(f"host path {host_path} exists and is not a directory",
                                host_path, "host", E.ENOTDIR)
        if host_path.endswith("/"):
            raise DestinationNotFound(f"host path {host_path}: no such directory",
                                      host_path, "host", E.ENOENT)
        parent, leaf = os.path.split(host_path)
        parent = parent or "."
    try:
        dir_fd = os.open(parent, DIR_FLAGS)
    except OSError as exc:
        raise os_error(exc, parent, "host", DestinationNotFound) from None
    try:
        await _get(guest, entry, guest_path, dir_fd, leaf, os.path.join(parent, leaf), 0)
    finally:
        os.close(dir_fd)


async def _get(guest: _Guest, entry: GuestEntry, src: str, dir_fd: int, name: str,
               shown: str, depth: int) -> None:
    """Create ``name`` in dir_fd from the guest entry at src (``shown``: its host path)."""
    try:
        if entry.kind == "file":
            await _get_file(guest, entry, src, dir_fd, name, shown, depth == 0)
        elif entry.kind == "link":
            _replace_link(entry.target, dir_fd, name)
            os.utime(name, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=dir_fd,
                     follow_symlinks=False)
        elif entry.kind == "dir":
            await _get_dir(guest, entry, src, dir_fd, name, shown, depth)
        else:
            warnings.warn(f"skipped guest path {src}: not a file, directory or symlink",
                          CopySkipped, stacklevel=2)
    except OSError as exc:
        raise os_error(exc, shown, "host", DestinationNotFound) from None


def _replace_link(target: str, dir_fd: int, name: str) -> None:
    try:
        os.symlink(target, name, dir_fd=dir_fd)
    except FileExistsError:
        if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise
        os.unlink(name, dir_fd=dir_fd)
        os.symlink(target, name, dir_fd=dir_fd)


async def _get_dir(guest: _Guest, entry: GuestEntry, src: str, dir_fd: int, name: str,
                   shown: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CopyError(f"guest path {src}: more than {MAX_DEPTH} directory levels", src, "guest")
    try:
        os.mkdir(name, 0o700, dir_fd=dir_fd)
    except FileExistsError:
        pass                        # O_NOFOLLOW below refuses anything but a real directory
    sub = os.open(name, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        for child in await guest.listing(src):
            await _get(guest, child, _join(src, child.name), sub, child.name,
                       os.path.join(shown, child.name), depth + 1)
        os.fchmod(sub, entry.mode)
        os.utime(sub, ns=(entry.mtime_ns, entry.mtime_ns))
    finally:
        os.close(sub)


async def _get_file(guest: _Guest, entry: GuestEntry, src: str, dir_fd: int, name: str,
                    shown: str, top: bool) -> None:
    """Read the guest file in pipelined chunks up to the size it had when listed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | (0 if top else os.O_NOFOLLOW)
    fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    try:
        pending: Deque[Tuple[int, "asyncio.Future[Any]"]] = deque()
        asked = 0
        written = 0
        try:
            while written < entry.size:
                while asked < entry.size and len(pending) < READS_IN_FLIGHT:
                    length = min(FILE_CHUNK, entry.size - asked)
                    pending.append((length, asyncio.ensure_future(guest.call(
                        {"op": "read_file", "path": src, "offset": asked, "length": length}))))
                    asked += length
                length, task = pending.popleft()
                _, data = await task
                if len(data) > length:
                    raise guest.lie(f"agent answered a {length}-byte read with {len(data)} bytes")
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                written += len(data)
                if len(data) < length:
                    break               # the file shrank since it was listed: copy what is there
        finally:
            for _, task in pending:
                task.cancel()
        os.fchmod(fd, entry.mode)
        os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
    finally:
        os.close(fd)
