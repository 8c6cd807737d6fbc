"""Applying layer tars to a directory, the way overlayfs would stack them.

Every path is resolved one component at a time under the root: ``..``,
absolute member names and writes through a symlink that leaves the root (any
absolute symlink, or a relative one that climbs above the root) are refused,
so a layer can only ever write inside the directory it is unpacked into.
Whiteouts follow the OCI layer spec: ``.wh.NAME`` removes NAME from lower
layers, ``.wh..wh..opq`` hides everything lower layers put in its directory;
neither hides what the same layer adds.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile

from .errors import ImageError

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_MAX_SYMLINK_HOPS = 40

Rel = tuple[str, ...]  # a path under the root, every component real (no symlinks)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove a tree even where a layer left directories without write permission."""
    if os.path.islink(path):
        os.unlink(path)
        return
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        return
    except OSError:
        _make_removable(os.fspath(path))
        shutil.rmtree(path)


def _make_removable(top: str) -> None:
    """Give the owner rwx on every directory, so a non-root user can empty them."""
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            os.chmod(directory, 0o700)
            entries = list(os.scandir(directory))
        except OSError:
            continue
        pending.extend(entry.path for entry in entries if entry.is_dir(follow_symlinks=False))


class RootfsWriter:
    """Unpacks layers, in order, into one root directory."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = os.fspath(root)
        self._as_root = os.geteuid() == 0
        # Directory attributes are set once all layers are in: a read-only
        # directory must stay writable until nothing more goes into it.
        self._directories: dict[Rel, tarfile.TarInfo] = {}
        self._written: set[Rel] = set()
        self._ancestors: set[Rel] = set()
        self._label = ""

    # -- public -----------------------------------------------------------------

    def apply(self, tar: tarfile.TarFile, label: str) -> None:
        """Apply one layer; ``label`` names the layer in errors."""
        self._written = set()
        self._ancestors = set()
        self._label = label
        for member in tar:
            try:
                self._apply_member(tar, member)
            except ImageError:
                raise
            except OSError as exc:
                raise ImageError(f"{label}: cannot unpack {member.name!r}: {exc}") from exc

    def finish(self) -> None:
        """Set the directories' modes, owners and times, deepest first."""
        for rel in sorted(self._directories, key=len, reverse=True):
            path = self._path(rel)
            if os.path.isdir(path) and not os.path.islink(path):
                self._set_attributes(path, self._directories[rel])

    # -- members ----------------------------------------------------------------

    def _apply_member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = self._member_parts(member.name, "path")
        if not parts:
            return  # the root itself
        base = parts[-1]
        if base == _OPAQUE:
            directory = self._resolve_dir(parts[:-1], create=True, name=member.name)
            assert directory is not None
            self._make_opaque(directory)
            if directory:
                self._mark_written(directory)
            return
        if base.startswith(_WHITEOUT):
            self._whiteout(parts, member.name)
            return
        parent = self._resolve_dir(parts[:-1], create=True, name=member.name)
        assert parent is not None
        rel = parent + (base,)
        path = self._path(rel)
        if member.isdir():
            if not self._is_real_dir(path):
                self._clear(rel)
                os.mkdir(path, 0o700)
            self._directories[rel] = member
        elif member.isreg():
            self._clear(rel)
            source = tar.extractfile(member)
            assert source is not None
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(descriptor, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
            self._set_attributes(path, member)
        elif member.issym():
            self._clear(rel)
            os.symlink(member.linkname, path)
            self._set_attributes(path, member)
        elif member.islnk():
            target = self._hardlink_target(member)
            if target != rel:
                self._clear(rel)
                os.link(self._path(target), path, follow_symlinks=False)
        elif member.isfifo():
            self._clear(rel)
            os.mkfifo(path, 0o600)
            self._set_attributes(path, member)
        else:
            return  # device nodes (the guest has devtmpfs) and unknown types are skipped
        self._mark_written(rel)

    def _member_parts(self, name: str, kind: str) -> list[str]:
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
        parent = self._resolve_dir(parts[:-1], create=False, name=name)
        if parent is None:
            return  # nothing below to hide
        rel = parent + (hidden,)
        if rel not in self._written:
            self._clear(rel)

    def _make_opaque(self, directory: Rel) -> None:
        """Remove what lower layers put under ``directory``; keep this layer's."""
        for child in os.listdir(self._path(directory)):
            rel = directory + (child,)
            if rel in self._written or rel in self._ancestors:
                if self._is_real_dir(self._path(rel)):
                    self._make_opaque(rel)
            else:
                self._clear(rel)

    def _hardlink_target(self, member: tarfile.TarInfo) -> Rel:
        parts = self._member_parts(member.linkname, f"hardlink {member.name!r} to")
        if not parts:
            raise ImageError(f"{self._label}: hardlink {member.name!r} points at the root")
        parent = self._resolve_dir(parts[:-1], create=False, name=member.linkname)
        target = None if parent is None else parent + (parts[-1],)
        if target is None or not os.path.lexists(self._path(target)):
            raise ImageError(f"{self._label}: hardlink {member.name!r} points at missing {member.linkname!r}")
        if self._is_real_dir(self._path(target)):
            raise ImageError(f"{self._label}: hardlink {member.name!r} points at directory {member.linkname!r}")
        return target

    # -- paths ------------------------------------------------------------------

    def _path(self, rel: Rel) -> str:
        return os.path.join(self.root, *rel)

    @staticmethod
    def _is_real_dir(path: str) -> bool:
        try:
            return stat.S_ISDIR(os.lstat(path).st_mode)
        except FileNotFoundError:
            return False

    def _resolve_dir(self, parts: list[str], *, create: bool, name: str) -> Rel | None:
        """The real directory ``parts`` names, following symlinks only inside the root.

        With ``create``, missing directories are made (and a non-directory in
        the way is replaced, as an upper layer would); without, None is
        returned when the directory does not exist.
        """
        resolved: list[str] = []
        pending = list(reversed(parts))
        hops = 0
        while pending:
            component = pending.pop()
            if component in ("", "."):
                continue
            if component == "..":
                if not resolved:
                    raise ImageError(f"{self._label}: {name!r} goes through a symlink that points outside: path escapes the root")
                resolved.pop()
                continue
            path = self._path(tuple(resolved) + (component,))
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                if not create:
                    return None
                os.mkdir(path, 0o755)
                resolved.append(component)
                continue
            if stat.S_ISLNK(mode):
                hops += 1
                target = os.readlink(path)
                shown = "/" + "/".join(resolved + [component])
                if target.startswith("/"):
                    raise ImageError(
                        f"{self._label}: {name!r} would be written through absolute symlink {shown} -> {target}: path escapes the root"
                    )
                if hops > _MAX_SYMLINK_HOPS:
                    raise ImageError(f"{self._label}: too many symlinks resolving {name!r}")
                pending.extend(reversed(target.split("/")))
                continue
            if not stat.S_ISDIR(mode):
                if not create:
                    return None
                os.unlink(path)
                os.mkdir(path, 0o755)
            resolved.append(component)
        return tuple(resolved)

    def _clear(self, rel: Rel) -> None:
        """Remove whatever is at ``rel`` (never following a symlink)."""
        path = self._path(rel)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            remove_tree(path)
            depth = len(rel)
            for directory in [d for d in self._directories if d[:depth] == rel]:
                del self._directories[directory]
        else:
            os.unlink(path)

    def _mark_written(self, rel: Rel) -> None:
        self._written.add(rel)
        for end in range(len(rel)):
            self._ancestors.add(rel[:end])

    def _set_attributes(self, path: str, member: tarfile.TarInfo) -> None:
        symlink = member.issym()
        if self._as_root:
            os.chown(path, member.uid, member.gid, follow_symlinks=False)
        if not symlink:
            os.chmod(path, member.mode & 0o7777)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
