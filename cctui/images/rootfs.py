"""Applying layer tars to a directory, the way overlayfs would stack them.

Every path is resolved one component at a time under the root, through
directory descriptors (``openat`` with ``O_NOFOLLOW``): ``..``, absolute member
names and writes through a symlink that leaves the root (any absolute symlink,
or a relative one that climbs above the root) are refused, so a layer can only
ever write inside the directory it is unpacked into.  Each member costs one
step per path component, never a walk of every prefix.
Whiteouts follow the OCI layer spec: ``.wh.NAME`` removes NAME from lower
layers, ``.wh..wh..opq`` hides everything lower layers put in its directory;
neither hides what the same layer adds.

What the host keeps of the image is deliberately less than a tar would: files
belong to the user running cctui (owners in the image are ignored, even as
root), setuid and setgid bits are dropped (the sticky bit is kept: /tmp needs
it), and device nodes and FIFOs are skipped (the guest has devtmpfs, and a
FIFO in the cache would hang host tools that read it).
"""

from __future__ import annotations

import math
import os
import stat
import tarfile
from typing import Iterable

from .cleanup import remove_at
from .errors import ImageError
from .limits import Budget, Limits
from .pathtrie import PathTrie

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_MAX_SYMLINK_HOPS = 40
MAX_NAME_BYTES = 4096  # PATH_MAX: a longer member name cannot be a real file's path
_KEPT_MODE_BITS = 0o1777  # permissions and sticky; never setuid or setgid
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_COPY_CHUNK = 1 << 20

Rel = list[str]  # a path under the root, every component a real directory entry (no symlinks)


class RootfsWriter:
    """Unpacks layers, in order, into one root directory."""

    def __init__(self, root: str | os.PathLike[str], budget: Budget | None = None):
        self.root = os.fspath(root)
        self.budget = budget or Budget(Limits())
        # Directory attributes are set once all layers are in: a read-only
        # directory must stay writable until nothing more goes into it.
        self._trie = PathTrie()
        self._layer = 0
        self._label = ""
        self._root_fd = -1

    # -- public -----------------------------------------------------------------

    def apply(self, members: Iterable[tarfile.TarInfo], tar: tarfile.TarFile, label: str) -> None:
        """Apply one layer's ``members`` (read from ``tar``); ``label`` names the layer in errors."""
        self._layer += 1
        self._label = label
        self._root_fd = os.open(self.root, _DIR_FLAGS)
        try:
            for member in members:
                self.budget.entry(label)
                try:
                    self._apply_member(tar, member)
                except ImageError:
                    raise
                except OSError as exc:
                    raise ImageError(f"{label}: cannot unpack {member.name!r}: {exc}") from exc
        finally:
            os.close(self._root_fd)
            self._trie.prune()

    def finish(self) -> None:
        """Set the directories' modes and times, deepest first.

        One descriptor is held at a time: the walk goes down by name with
        ``O_NOFOLLOW`` and back up through ``..``, so depth costs nothing extra.
        """
        current = os.open(self.root, _DIR_FLAGS)
        stack = [iter(list((self._trie.root.children or {}).items()))]
        entered: list[tuple[str, tuple[int, float] | None]] = []
        try:
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    stack.pop()
                    if entered:
                        name, attrs = entered.pop()
                        parent = os.open("..", _DIR_FLAGS, dir_fd=current)
                        os.close(current)
                        current = parent
                        if attrs is not None:
                            self._set_dir_attributes(current, name, attrs)
                    continue
                name, node = step
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=current)
                except OSError:
                    continue  # replaced by a file or removed since: nothing to set
                os.close(current)
                current = child
                entered.append((name, node.attrs))
                stack.append(iter(list((node.children or {}).items())))
        finally:
            os.close(current)

    # -- members ----------------------------------------------------------------

    def _apply_member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = self._member_parts(member.name, "path")
        if not parts:
            return  # the root itself
        base = parts[-1]
        if base == _OPAQUE:
            fd, directory = self._make_dir(parts[:-1], member.name)
            try:
                self._make_opaque(fd, directory)
            finally:
                self._close(fd)
            if directory:
                self._trie.make(directory, self._layer).written = self._layer
            return
        if base.startswith(_WHITEOUT):
            self._whiteout(parts, member.name)
            return
        if not (member.isdir() or member.isreg() or member.issym() or member.islnk()):
            return  # device nodes, FIFOs and unknown types are skipped
        fd, parent = self._make_dir(parts[:-1], member.name)
        try:
            self._write(tar, member, fd, parent, base)
        finally:
            self._close(fd)

    def _write(self, tar: tarfile.TarFile, member: tarfile.TarInfo, fd: int, parent: Rel, base: str) -> None:
        rel = parent + [base]
        if member.isdir():
            if not _is_dir_at(fd, base):
                self._clear(fd, base, rel)
                os.mkdir(base, 0o700, dir_fd=fd)
            self._trie.make(rel).attrs = (member.mode & _KEPT_MODE_BITS, _mtime(member))
        elif member.isreg():
            self._clear(fd, base, rel)
            self.budget.disk(member.size, f"{self._label}: {member.name!r}")
            self._write_file(tar, member, fd, base)
        elif member.issym():
            self._check_name(member.linkname, "symlink target")
            self._clear(fd, base, rel)
            os.symlink(member.linkname, base, dir_fd=fd)
            os.utime(base, (_mtime(member),) * 2, dir_fd=fd, follow_symlinks=False)
        else:
            target_fd, target = self._hardlink_target(member)
            try:
                if target[1] != rel:
                    self._clear(fd, base, rel)
                    os.link(target[0], base, src_dir_fd=target_fd, dst_dir_fd=fd, follow_symlinks=False)
            finally:
                self._close(target_fd)
        self._trie.make(rel, self._layer).written = self._layer

    def _write_file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, fd: int, base: str) -> None:
        source = tar.extractfile(member)
        assert source is not None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(base, flags, 0o600, dir_fd=fd)
        with os.fdopen(descriptor, "wb") as target:
            while chunk := source.read(_COPY_CHUNK):
                target.write(chunk)
            target.flush()
            os.chmod(descriptor, member.mode & _KEPT_MODE_BITS)
            os.utime(descriptor, (_mtime(member),) * 2)

    def _check_name(self, name: str, kind: str) -> None:
        if "\0" in name:
            raise ImageError(f"{self._label}: {kind} {name!r} contains a NUL byte")
        if len(name) > MAX_NAME_BYTES:
            raise ImageError(f"{self._label}: {kind} {name[:60]!r}... is longer than {MAX_NAME_BYTES} bytes")

    def _member_parts(self, name: str, kind: str) -> list[str]:
        self._check_name(name, kind)
        if name.startswith("/"):
            raise ImageError(f"{self._label}: {kind} {name!r} is absolute: path escapes the root")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise ImageError(f"{self._label}: {kind} {name!r} contains '..': path escapes the root")
        return parts

    def _whiteout(self, parts: list[str], name: str) -> None:
        hidden = parts[-1][len(_WHITEOUT):]
        if hidden.startswith(_WHITEOUT):
            return  # other aufs metadata (.wh..wh.plnk, ...): nothing to apply
        if hidden in ("", ".", ".."):
            raise ImageError(f"{self._label}: whiteout {name!r} names no file: path escapes the root")
        opened = self._open_dir(parts[:-1], create=False, name=name)
        if opened is None:
            return  # nothing below to hide
        fd, parent = opened
        try:
            rel = parent + [hidden]
            node = self._trie.find(rel)
            if node is None or node.written != self._layer:
                self._clear(fd, hidden, rel)
        finally:
            self._close(fd)

    def _make_opaque(self, fd: int, directory: Rel) -> None:
        """Remove what lower layers put under ``directory``; keep this layer's.

        Directories this layer wrote into are visited too (their lower-layer
        entries go), one at a time from a list rather than by recursion.
        """
        pending: list[Rel] = [directory]
        while pending:
            rel = pending.pop()
            here = fd if rel is directory else self._open_real(rel)
            if here is None:
                continue
            try:
                node = self._trie.find(rel)
                children = node.children if node is not None and node.children else {}
                for child in os.listdir(here):
                    known = children.get(child)
                    if known is not None and self._layer in (known.written, known.under):
                        if _is_dir_at(here, child):
                            pending.append(rel + [child])
                    else:
                        self._clear(here, child, rel + [child])
            finally:
                if here != fd:
                    self._close(here)

    def _hardlink_target(self, member: tarfile.TarInfo) -> tuple[int, tuple[str, Rel]]:
        parts = self._member_parts(member.linkname, f"hardlink {member.name!r} to")
        if not parts:
            raise ImageError(f"{self._label}: hardlink {member.name!r} points at the root")
        opened = self._open_dir(parts[:-1], create=False, name=member.linkname)
        if opened is None or not _lexists_at(opened[0], parts[-1]):
            if opened is not None:
                self._close(opened[0])
            raise ImageError(f"{self._label}: hardlink {member.name!r} points at missing {member.linkname!r}")
        fd, parent = opened
        if _is_dir_at(fd, parts[-1]):
            self._close(fd)
            raise ImageError(f"{self._label}: hardlink {member.name!r} points at directory {member.linkname!r}")
        return fd, (parts[-1], parent + [parts[-1]])

    # -- paths ------------------------------------------------------------------

    def _close(self, fd: int) -> None:
        if fd != self._root_fd:
            os.close(fd)

    def _open_real(self, rel: Rel) -> int | None:
        """A descriptor for ``rel``, which names real directories only; None if it is gone."""
        fd = self._root_fd
        try:
            for part in rel:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                self._close(fd)
                fd = child
        except OSError:
            self._close(fd)
            return None
        return fd

    def _make_dir(self, parts: list[str], name: str) -> tuple[int, Rel]:
        """``_open_dir`` with ``create``: never None."""
        opened = self._open_dir(parts, create=True, name=name)
        assert opened is not None
        return opened

    def _open_dir(self, parts: list[str], *, create: bool, name: str) -> tuple[int, Rel] | None:
        """The real directory ``parts`` names, following symlinks only inside the root.

        Returns an open descriptor (close it with ``_close``) and the resolved
        path.  With ``create``, missing directories are made (and a
        non-directory in the way is replaced, as an upper layer would);
        without, None is returned when the directory does not exist.
        """
        resolved: Rel = []
        pending = list(reversed(parts))
        hops = 0
        fd = self._root_fd
        try:
            while pending:
                component = pending.pop()
                if component in ("", "."):
                    continue
                if component == "..":
                    if not resolved:
                        raise ImageError(
                            f"{self._label}: {name!r} goes through a symlink that points outside: path escapes the root"
                        )
                    parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
                    self._close(fd)
                    fd = parent
                    resolved.pop()
                    continue
                try:
                    child = os.open(component, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    child = -1
                if child < 0:
                    try:
                        mode = os.lstat(component, dir_fd=fd).st_mode
                    except FileNotFoundError:
                        mode = None
                    if mode is not None and stat.S_ISLNK(mode):
                        hops += 1
                        target = os.readlink(component, dir_fd=fd)
                        if target.startswith("/"):
                            shown = "/" + "/".join(resolved + [component])
                            raise ImageError(
                                f"{self._label}: {name!r} would be written through absolute symlink {shown} -> {target}:"
                                " path escapes the root"
                            )
                        if hops > _MAX_SYMLINK_HOPS:
                            raise ImageError(f"{self._label}: too many symlinks resolving {name!r}")
                        pending.extend(reversed(target.split("/")))
                        continue
                    if not create:
                        self._close(fd)
                        return None
                    if mode is not None and stat.S_ISDIR(mode):
                        child = os.open(component, _DIR_FLAGS, dir_fd=fd)  # say why it failed
                    elif mode is not None:
                        os.unlink(component, dir_fd=fd)  # a file where a directory must be
                    if child < 0:
                        self.budget.entry(self._label)
                        os.mkdir(component, 0o755, dir_fd=fd)
                        child = os.open(component, _DIR_FLAGS, dir_fd=fd)
                self._close(fd)
                fd = child
                resolved.append(component)
        except BaseException:
            self._close(fd)
            raise
        return fd, resolved

    def _clear(self, fd: int, name: str, rel: Rel) -> None:
        """Remove whatever is at ``name`` in ``fd`` (never following a symlink)."""
        try:
            mode = os.lstat(name, dir_fd=fd).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            remove_at(fd, name)
            self._trie.forget(rel)
        else:
            os.unlink(name, dir_fd=fd)

    @staticmethod
    def _set_dir_attributes(parent: int, name: str, attrs: tuple[int, float]) -> None:
        mode, mtime = attrs
        os.chmod(name, mode, dir_fd=parent)  # opened with O_NOFOLLOW just before: a directory
        os.utime(name, (mtime, mtime), dir_fd=parent, follow_symlinks=False)


def _is_dir_at(fd: int, name: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(name, dir_fd=fd).st_mode)
    except FileNotFoundError:
        return False


def _lexists_at(fd: int, name: str) -> bool:
    try:
        os.lstat(name, dir_fd=fd)
    except FileNotFoundError:
        return False
    return True


def _mtime(member: tarfile.TarInfo) -> float:
    """The member's time, or the epoch where a pax header gives one no filesystem stores."""
    value = member.mtime
    if not isinstance(value, (int, float)) or not math.isfinite(value) or abs(value) >= 1 << 62:
        return 0
    return value
