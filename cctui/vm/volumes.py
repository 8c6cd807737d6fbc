"""Shared folders: ``-v HOST_DIR:GUEST_DIR[:ro]`` as 9p shares mounted by the guest init.

QEMU's 9p ``security_model=none``: QEMU creates files with its own credentials,
i.e. those of the host user who ran cctui, and ignores a guest's chown that the
host would refuse, so a guest-made file belongs to that user on the host (and
nothing is written into host files' xattrs, as ``mapped-xattr`` would; and
``passthrough`` needs QEMU to run as root to chown). ``:ro`` is ``readonly=on``
on the fsdev: QEMU refuses writes even when the guest remounts read-write.
QEMU confines 9p paths to the shared directory (symlinks resolve in the guest).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable, List, Union

from ..errors import Error

# The guest path travels on the kernel command line to the init's shell: a plain
# charset keeps it one word there (no spaces, quotes, commas or colons).
GUEST_PATH = re.compile(r"^/[A-Za-z0-9._@+/-]*$")
TAG_PREFIX = "cctui-vol"


class VolumeError(Error):
    """A -v value that cannot be used (names the bad part)."""


@dataclass(frozen=True)
class Volume:
    host_dir: str
    guest_dir: str
    read_only: bool = False

    def cmdline(self, index: int) -> str:
        """The init's word for it: ``cctui.vol=TAG:GUEST_DIR:ro|rw``."""
        return f"cctui.vol={TAG_PREFIX}{index}:{self.guest_dir}:{'ro' if self.read_only else 'rw'}"

    def qemu_args(self, index: int, bus: str) -> List[str]:
        name = f"vol{index}"
        path = self.host_dir.replace(",", ",,")          # QEMU's escape for a comma in a value
        fsdev = (f"local,id={name},path={path},security_model=none,multidevs=remap"
                 + (",readonly=on" if self.read_only else ""))
        return ["-fsdev", fsdev,
                "-device", f"virtio-9p-{bus},fsdev={name},mount_tag={TAG_PREFIX}{index}"]

    def __str__(self) -> str:
        """The -v spelling, parsed back to an equal Volume."""
        return f"{self.host_dir}:{self.guest_dir}:{'ro' if self.read_only else 'rw'}"


def parse_volume(spec: str) -> Volume:
    """``HOST_DIR:GUEST_DIR[:ro|:rw]``; the host directory must exist."""
    parts = spec.split(":")
    mode = "rw"
    if len(parts) == 3:
        mode = parts.pop()
    if len(parts) != 2 or mode not in ("ro", "rw"):
        raise VolumeError(f"-v {spec!r}: expected HOST_DIR:GUEST_DIR[:ro]")
    host, guest = parts
    if not host:
        raise VolumeError(f"-v {spec!r}: the host directory is empty")
    host_dir = os.path.realpath(os.path.expanduser(host))
    if not os.path.isdir(host_dir):
        raise VolumeError(f"-v {spec!r}: host directory {host!r} does not exist"
                          if not os.path.exists(host_dir)
                          else f"-v {spec!r}: host path {host!r} is not a directory")
    if not guest.startswith("/"):
        raise VolumeError(f"-v {spec!r}: guest path {guest!r} is not absolute")
    if not GUEST_PATH.match(guest) or "/../" in guest + "/" or "/./" in guest + "/":
        raise VolumeError(f"-v {spec!r}: guest path {guest!r} may hold only letters, digits "
                          "and . _ @ + - / (no '..')")
    guest = guest.rstrip("/") or "/"
    if guest == "/":
        raise VolumeError(f"-v {spec!r}: the guest root cannot be a volume")
    return Volume(host_dir, guest, mode == "ro")


def parse_volumes(specs: Iterable[Union[str, Volume]]) -> List[Volume]:
    volumes = [v if isinstance(v, Volume) else parse_volume(v) for v in specs]
    seen = set()
    for v in volumes:
        if v.guest_dir in seen:
            raise VolumeError(f"-v: guest path {v.guest_dir!r} is used twice")
        seen.add(v.guest_dir)
    return volumes
