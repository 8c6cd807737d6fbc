"""-v and --net with an image: the volume and resolv.conf are where the image's commands
run (its root), not only in the host root the agent runs from."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import cctui
from helpers.images import BUSYBOX

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier


def test_volume_and_resolver_inside_an_image_root(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_bytes(BUSYBOX.read_bytes())
    (root / "bin" / "busybox").chmod(0o755)
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "etc").mkdir()
    (root / "etc" / "resolv.conf").symlink_to("../run/resolv.conf")   # as many images ship it
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_bytes(b"host file")
    with cctui.boot(image=str(root), net=True, volumes=[f"{shared}:/mnt/shared"]) as vm:
        sh = ["/bin/busybox", "sh", "-c"]
        assert vm.command(*sh, "busybox cat /mnt/shared/in.txt").output() == b"host file"
        vm.command(*sh, "echo from-image > /mnt/shared/out.txt").run()
        assert vm.command(*sh, "busybox cat /etc/resolv.conf").output() == b"nameserver 10.0.2.3\n"
    assert (shared / "out.txt").read_bytes() == b"from-image\n"
    assert (shared / "out.txt").stat().st_uid == os.getuid()
    assert os.readlink(root / "etc" / "resolv.conf") == "../run/resolv.conf"   # image untouched
