"""Removing an unpacked tree, however deep and whatever modes a layer left.

``shutil.rmtree`` recurses once per level and builds full paths, so a tree a
few thousand directories deep fails with RecursionError or ENAMETOOLONG, and
a directory left without write permission stops it.  Here the walk holds one
directory descriptor at a time (moving up through ``..``), never builds a path
longer than one name, and gives each directory rwx for its owner before
emptying it.
"""

from __future__ import annotations

import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove ``path`` (a tree, a file or a symlink); a missing path is fine."""
    path = os.fspath(path)
    parent = os.open(os.path.dirname(os.path.abspath(path)), _DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        remove_at(parent, os.path.basename(os.path.abspath(path)))
    finally:
        os.close(parent)


def remove_at(dir_fd: int, name: str) -> None:
    """Remove ``name`` inside the directory ``dir_fd``, never following a symlink."""
    try:
        mode = os.lstat(name, dir_fd=dir_fd).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    current = _enter(dir_fd, name)
    # One list of subdirectories still to remove per level, and the names of
    # the directories between ``name`` and ``current``.
    pending: list[list[str]] = [_empty_files(current)]
    names: list[str] = []
    try:
        while pending:
            if pending[-1]:
                child = pending[-1].pop()
                try:
                    entered = _enter(current, child)
                except FileNotFoundError:
                    continue
                os.close(current)
                current = entered
                names.append(child)
                pending.append(_empty_files(current))
                continue
            pending.pop()
            if not names:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=current)
            os.close(current)
            current = parent
            os.rmdir(names.pop(), dir_fd=current)
    finally:
        os.close(current)
    os.rmdir(name, dir_fd=dir_fd)


def _enter(dir_fd: int, name: str) -> int:
    """Open a subdirectory after making it searchable and writable for us."""
    try:
        os.chmod(name, 0o700, dir_fd=dir_fd, follow_symlinks=True)  # lstat/O_NOFOLLOW keep it a directory
    except PermissionError:
        pass  # not ours; the open or the unlinks will say so
    return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _empty_files(dir_fd: int) -> list[str]:
    """Unlink every non-directory here; return the subdirectories' names."""
    directories = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                directories.append(entry.name)
            else:
                try:
                    os.unlink(entry.name, dir_fd=dir_fd)
                except FileNotFoundError:
                    pass
    return directories
