"""-v: a read-write volume written by the guest and read by the host, a :ro one refused even
after a guest remount, and a guest symlink to /etc that must not reach the host's /etc."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Tuple

import pytest

import cctui

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[cctui.Instance, Path, Path]]:
    rw = tmp_path_factory.mktemp("rw")
    ro = tmp_path_factory.mktemp("ro")
    (ro / "given.txt").write_bytes(b"from the host")
    with cctui.boot(volumes=[f"{rw}:/work", f"{ro}:/data:ro"]) as vm:
        yield vm, rw, ro


def test_rw_volume_written_by_guest_belongs_to_the_host_user(shared) -> None:
    vm, rw, _ = shared
    vm.command("/bin/sh", "-c", "mkdir /work/sub && echo guest-wrote > /work/sub/f.txt").run()
    made = rw / "sub" / "f.txt"
    assert made.read_bytes() == b"guest-wrote\n"
    assert made.stat().st_uid == os.getuid() and made.stat().st_gid == os.getgid()
    (rw / "from-host.txt").write_bytes(b"host-wrote")
    assert vm.command("cat", "/work/from-host.txt").output() == b"host-wrote"


def test_ro_volume_is_refused_even_after_a_guest_remount(shared) -> None:
    vm, _, ro = shared
    assert vm.command("cat", "/data/given.txt").output() == b"from the host"
    with pytest.raises(cctui.ExitError):
        vm.command("/bin/sh", "-c", "echo x > /data/new.txt").run()
    # The guest is root: it can remount read-write, and QEMU's readonly=on still refuses.
    vm.command("mount", "-o", "remount,rw", "/data").run()
    mounts = vm.command("cat", "/proc/mounts").output().decode().splitlines()
    assert any(line.split()[1] == "/data" and line.split()[3].startswith("rw,")
               for line in mounts), mounts
    with pytest.raises(cctui.ExitError) as info:
        vm.command("/bin/sh", "-c", "echo x > /data/new.txt").combined_output()
    assert b"Read-only file system" in info.value.output
    assert sorted(os.listdir(ro)) == ["given.txt"]


def test_guest_symlink_to_etc_does_not_reach_the_hosts_etc(shared) -> None:
    vm, rw, _ = shared
    name = f"cctui-escape-{os.urandom(6).hex()}"
    vm.command("/bin/sh", "-c", f"ln -s /etc /work/esc && echo pwned > /work/esc/{name}").run()
    assert os.readlink(rw / "esc") == "/etc"         # the link is on the host, as made
    assert not os.path.exists(f"/etc/{name}")        # but it resolved in the guest
    assert vm.command("cat", f"/etc/{name}").output() == b"pwned\n"   # the guest's overlay
