"""Parsing of -v HOST_DIR:GUEST_DIR[:ro] and the QEMU/kernel arguments it makes; no VM."""
from __future__ import annotations

from pathlib import Path

import pytest

from cctui.vm.volumes import Volume, VolumeError, parse_volume, parse_volumes


def test_volume_forms(tmp_path: Path) -> None:
    assert parse_volume(f"{tmp_path}:/work") == Volume(str(tmp_path), "/work", False)
    assert parse_volume(f"{tmp_path}:/data/:ro") == Volume(str(tmp_path), "/data", True)
    assert parse_volume(f"{tmp_path}:/d:rw").read_only is False
    rw, ro = Volume(str(tmp_path), "/w"), Volume(str(tmp_path), "/r", True)
    assert rw.cmdline(0) == "cctui.vol=cctui-vol0:/w:rw"
    assert ro.cmdline(1) == "cctui.vol=cctui-vol1:/r:ro"
    assert ro.qemu_args(1, "pci") == [
        "-fsdev", f"local,id=vol1,path={tmp_path},security_model=none,multidevs=remap,readonly=on",
        "-device", "virtio-9p-pci,fsdev=vol1,mount_tag=cctui-vol1"]
    assert "readonly" not in rw.qemu_args(0, "pci")[1]


def test_bad_volumes_name_the_bad_part(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    cases = {
        f"{tmp_path}/missing:/w": "'" + f"{tmp_path}/missing" + "' does not exist",
        f"{tmp_path}/file:/w": "is not a directory",
        f"{tmp_path}:work": "guest path 'work' is not absolute",
        f"{tmp_path}:/w:rx": "expected HOST_DIR:GUEST_DIR[:ro]",
        f"{tmp_path}": "expected HOST_DIR:GUEST_DIR[:ro]",
        ":/w": "host directory is empty",
        f"{tmp_path}:/a b": "guest path '/a b' may hold only",
        f"{tmp_path}:/a/../etc": "no '..'",
        f"{tmp_path}:/": "guest root cannot be a volume",
    }
    for spec, message in cases.items():
        with pytest.raises(VolumeError) as info:
            parse_volume(spec)
        assert message in str(info.value), (spec, str(info.value))


def test_a_guest_path_used_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VolumeError, match="used twice"):
        parse_volumes([f"{tmp_path}:/w", f"{tmp_path}:/w/:ro"])


def test_a_comma_in_the_host_path_is_escaped_for_qemu(tmp_path: Path) -> None:
    odd = tmp_path / "a,b c"
    odd.mkdir()
    fsdev = parse_volume(f"{odd}:/w").qemu_args(0, "pci")[1]
    assert f"path={tmp_path}/a,,b c,security_model=none" in fsdev


def test_cctui_run_reports_bad_values_before_booting(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from cctui.cli import main
    assert main(["run", "-v", f"{tmp_path}/nope:/w", "--", "true"]) == 125
    assert f"host directory '{tmp_path}/nope' does not exist" in capsys.readouterr().err
    assert main(["run", "-p", "8080:http", "--", "true"]) == 125
    assert "guest port 'http'" in capsys.readouterr().err
    assert main(["run", "--net=restrict", "-v", f"{tmp_path}:rel", "--", "true"]) == 125
    assert "guest path 'rel' is not absolute" in capsys.readouterr().err
