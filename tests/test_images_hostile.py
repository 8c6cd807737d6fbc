"""Hostile images: each case was reproduced against the unpacker before it was fixed.

Every failure must be an ImageError that names the bad part and leaves nothing
in the cache; every success must stay inside its root, keep no setuid bits,
special files or foreign owners, and fit the size and entry limits.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from cctui.images import ImageError, resolve_image
from cctui.images.cleanup import remove_tree
from helpers.images import (
    OCI_TAR,
    OCI_TAR_GZIP,
    base_layer,
    cache_is_empty,
    directory,
    docker_legacy_files,
    expect_error,
    file,
    image_config,
    layer,
    oci_files,
    tar_info,
    write_dir,
    write_tar,
)

DEEP = 1200  # deeper than Python's recursion limit, shallower than PATH_MAX


def oci_with(layers: list[tuple[str, bytes]], uncompressed: list[bytes] | None = None) -> dict[str, bytes]:
    files, _ = oci_files(layers, image_config(uncompressed if uncompressed is not None else [d for _, d in layers]))
    return files


def rewrite_index(files: dict[str, bytes], change: object) -> dict[str, bytes]:
    """Apply ``change`` to index.json's first manifest entry (or replace the whole index)."""
    index = json.loads(files["index.json"])
    if callable(change):
        change(index)
    else:
        index = change
    files["index.json"] = json.dumps(index).encode() if not isinstance(index, bytes) else index
    return files


# -- 1. malformed metadata: an ImageError naming the part, never AttributeError/RecursionError --


def _set_entry(key: str, value: object):
    def change(index: dict) -> None:
        index["manifests"][0][key] = value
    return change


NESTED = b"[" * 100_000 + b"]" * 100_000

BAD_INDEXES = {
    "annotations-string": (_set_entry("annotations", "x"), r"index.json entry 0: annotations is not a JSON object"),
    "annotations-list": (_set_entry("annotations", ["x"]), r"index.json entry 0: annotations is not a JSON object"),
    "platform-string": (_set_entry("platform", "linux/amd64"), r"index.json entry 0: platform is not a JSON object"),
    "index-nested": (NESTED, r"index.json is nested too deeply"),
    "index-list": ([{"manifests": []}], r"index.json is not a JSON object"),
}


@pytest.mark.parametrize(("change", "message"), BAD_INDEXES.values(), ids=BAD_INDEXES.keys())
def test_malformed_index(tmp_path: Path, change: object, message: str) -> None:
    files = rewrite_index(oci_with([(OCI_TAR, base_layer())]), change)
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", message)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (json.dumps({"rootfs": "layers"}).encode(), r"image config: rootfs is not a JSON object"),
        (NESTED, r"image config is nested too deeply"),
    ],
    ids=["rootfs-string", "config-nested"],
)
def test_malformed_config(tmp_path: Path, config: bytes, message: str) -> None:
    files, _ = oci_files([(OCI_TAR, base_layer())], config)
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", message)


def test_nested_docker_manifest(tmp_path: Path) -> None:
    files, _ = docker_legacy_files()
    files["manifest.json"] = NESTED
    expect_error(write_tar(files, tmp_path / "saved.tar"), tmp_path / "cache", "manifest.json is nested too deeply")


def test_nul_in_a_docker_config_name(tmp_path: Path) -> None:
    files, _ = docker_legacy_files()
    entries = json.loads(files["manifest.json"])
    entries[0]["Config"] = "config\u0000.json"
    files["manifest.json"] = json.dumps(entries).encode()
    expect_error(write_dir(files, tmp_path / "saved"), tmp_path / "cache", "contains a NUL byte")


# -- 2. blobs that are not regular files ------------------------------------------------


@pytest.mark.timeout(60)
def test_docker_layer_symlinked_to_dev_zero(tmp_path: Path) -> None:
    files, _ = docker_legacy_files()
    saved = write_dir(files, tmp_path / "saved")
    name = json.loads(files["manifest.json"])[0]["Layers"][0]
    (saved / name).unlink()
    (saved / name).symlink_to("/dev/zero")
    expect_error(saved, tmp_path / "cache", "symlink that leads outside")


@pytest.mark.timeout(60)
def test_layer_blob_that_is_a_fifo(tmp_path: Path) -> None:
    files = oci_with([(OCI_TAR, base_layer())])
    layout = write_dir(files, tmp_path / "layout")
    blob = layout / f"blobs/sha256/{hashlib.sha256(base_layer()).hexdigest()}"
    blob.unlink()
    os.mkfifo(blob)
    expect_error(layout, tmp_path / "cache", r"layer 1 .*is not a regular file")


def test_symlink_inside_the_image_is_followed(tmp_path: Path) -> None:
    """docker save links a duplicate layer.tar to the first copy: that stays allowed."""
    files, _ = docker_legacy_files()
    saved = write_dir(files, tmp_path / "saved")
    first = json.loads(files["manifest.json"])[0]["Layers"][0]
    (saved / "dup").mkdir()
    shutil.move(saved / first, saved / "dup/layer.tar")
    (saved / first).symlink_to(os.path.relpath(saved / "dup/layer.tar", (saved / first).parent))
    assert (resolve_image(saved, tmp_path / "cache").rootfs / "bin/busybox").exists()


def test_tarball_member_that_is_a_device(tmp_path: Path) -> None:
    files, _ = docker_legacy_files()
    name = json.loads(files["manifest.json"])[0]["Layers"][0]
    path = tmp_path / "saved.tar"
    with tarfile.open(path, "w") as tar:
        for member, data in files.items():
            if member == name:
                tar.addfile(tar_info(member, tarfile.CHRTYPE, 0o666, devmajor=1, devminor=5))
            else:
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    expect_error(path, tmp_path / "cache", r"layer 1 .*is not a regular file")


# -- 3. deep members cost one step per component ------------------------------------------


PATH_CALLS = ("lstat", "stat", "open", "mkdir", "rmdir", "unlink", "readlink", "symlink", "link", "chmod", "utime", "chown")


def test_deep_member_cost_is_linear_in_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path bytes handed to the kernel grow with the name, not with its square."""
    name = "d/" * DEEP + "f"
    files = oci_with([(OCI_TAR, layer(file(name, b"deep")))])
    layout = write_dir(files, tmp_path / "layout")
    import cctui.images.rootfs as rootfs_module

    counted = {"bytes": 0}

    def counting(function):
        def wrapper(*args, **kwargs):
            if args and isinstance(args[0], (str, bytes, os.PathLike)):
                counted["bytes"] += len(os.fsencode(args[0]))
            return function(*args, **kwargs)
        return wrapper

    for call in PATH_CALLS:
        monkeypatch.setattr(rootfs_module.os, call, counting(getattr(os, call)))
    image = resolve_image(layout, tmp_path / "cache")
    monkeypatch.undo()
    assert counted["bytes"] < 20 * len(name), counted
    with open(image.rootfs / name, "rb") as deep:  # 1200 levels still fit PATH_MAX here
        assert deep.read() == b"deep"
    remove_tree(tmp_path / "cache")  # pytest's own cleanup (shutil.rmtree) cannot


# -- 4. limits on size and entries ----------------------------------------------------------


def zeros_layer(size: int) -> bytes:
    info = tarfile.TarInfo("zeros")
    info.size = size
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed:
        with tarfile.open(fileobj=compressed, mode="w|") as tar:
            tar.addfile(info, _Zeros(size))
    return buffer.getvalue()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def bomb_image(tmp_path: Path, size: int = 64 << 20) -> Path:
    compressed = zeros_layer(size)
    uncompressed = gzip.decompress(compressed)
    return write_dir(oci_with([(OCI_TAR_GZIP, compressed)], [uncompressed]), tmp_path / "layout")


def test_gzip_bomb_stops_at_max_bytes(tmp_path: Path) -> None:
    layout = bomb_image(tmp_path)
    with pytest.raises(ImageError, match=r"the limit of 16777216 bytes \(raise it with max_bytes= or CCTUI_IMAGE_MAX_BYTES\)"):
        resolve_image(layout, tmp_path / "cache", max_bytes=16 << 20)
    assert cache_is_empty(tmp_path / "cache")


def test_zeros_after_the_tar_count_too(tmp_path: Path) -> None:
    """Nothing is written, but decompressing 64 MiB after the tar's end is work the cap stops."""
    padded = layer(file("small", b"x")) + bytes(64 << 20)
    compressed = gzip.compress(padded, mtime=0)
    layout = write_dir(oci_with([(OCI_TAR_GZIP, compressed)], [padded]), tmp_path / "layout")
    with pytest.raises(ImageError, match=r"the uncompressed layers exceed the limit of 16777216 bytes"):
        resolve_image(layout, tmp_path / "cache", max_bytes=16 << 20)
    assert cache_is_empty(tmp_path / "cache")


def test_max_bytes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = bomb_image(tmp_path)
    monkeypatch.setenv("CCTUI_IMAGE_MAX_BYTES", "16M")
    with pytest.raises(ImageError, match="limit of 16777216 bytes"):
        resolve_image(layout, tmp_path / "cache")
    assert cache_is_empty(tmp_path / "cache")
    monkeypatch.setenv("CCTUI_IMAGE_MAX_BYTES", "lots")
    with pytest.raises(ImageError, match="CCTUI_IMAGE_MAX_BYTES='lots' is not a positive number"):
        resolve_image(layout, tmp_path / "cache")
    assert resolve_image(layout, tmp_path / "cache", max_bytes=128 << 20).rootfs.joinpath("zeros").stat().st_size == 64 << 20


@pytest.mark.skipif(shutil.which("tar") is None, reason="needs GNU tar to write a sparse member")
def test_sparse_member_counts_at_its_full_size(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with open(tmp_path / "src/sparse", "wb") as handle:
        handle.truncate(1 << 30)
    subprocess.run(["tar", "--sparse", "--format=gnu", "-C", str(tmp_path / "src"), "-cf", str(tmp_path / "l.tar"), "sparse"], check=True)
    data = (tmp_path / "l.tar").read_bytes()
    assert len(data) < 1 << 20
    layout = write_dir(oci_with([(OCI_TAR, data)]), tmp_path / "layout")
    with pytest.raises(ImageError, match=r"unpacks to more than the limit of 67108864 bytes"):
        resolve_image(layout, tmp_path / "cache", max_bytes=64 << 20)
    assert cache_is_empty(tmp_path / "cache")


def test_too_many_members(tmp_path: Path) -> None:
    many = layer(*[file(f"f{i}", b"") for i in range(2000)])
    layout = write_dir(oci_with([(OCI_TAR, many)]), tmp_path / "layout")
    with pytest.raises(ImageError, match=r"more than the limit of 500 entries .*max_entries= or CCTUI_IMAGE_MAX_ENTRIES"):
        resolve_image(layout, tmp_path / "cache", max_entries=500)
    assert cache_is_empty(tmp_path / "cache")
    resolve_image(layout, tmp_path / "cache", max_entries=5000)


def test_implicit_directories_count_as_entries(tmp_path: Path) -> None:
    layout = write_dir(oci_with([(OCI_TAR, layer(file("a/" * 600 + "f", b"")))]), tmp_path / "layout")
    with pytest.raises(ImageError, match="more than the limit of 500 entries"):
        resolve_image(layout, tmp_path / "cache", max_entries=500)
    assert cache_is_empty(tmp_path / "cache")


def test_too_many_members_in_the_image_tarball(tmp_path: Path) -> None:
    files, _ = docker_legacy_files()
    files.update({f"junk/{i}": b"" for i in range(1000)})
    with pytest.raises(ImageError, match="the image tarball: the image has more than the limit of 500 entries"):
        resolve_image(write_tar(files, tmp_path / "saved.tar"), tmp_path / "cache", max_entries=500)


def test_huge_pax_header_is_refused(tmp_path: Path) -> None:
    info = tarfile.TarInfo("x")
    info.pax_headers = {"comment": "x" * (4 << 20)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b""))
    layout = write_dir(oci_with([(OCI_TAR, buffer.getvalue())]), tmp_path / "layout")
    expect_error(layout, tmp_path / "cache", r"layer 1 .*a tar header is larger than 1048576 bytes")


def test_memory_per_member_is_bounded(tmp_path: Path) -> None:
    """tarfile's own member list is not kept (it cost ~700 bytes a member); ~150 remain."""
    count = 15_000
    members = layer(*[file(f"d{i % 40}/file-{i:06}", b"") for i in range(count)])
    layout = write_dir(oci_with([(OCI_TAR, members)]), tmp_path / "layout")
    tracemalloc.start()
    try:
        resolve_image(layout, tmp_path / "cache")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 300 * count, f"{peak} bytes for {count} members"


# -- 5. no setuid/setgid, no owners from the image ------------------------------------------


def test_setuid_setgid_dropped_sticky_kept_owner_ignored(tmp_path: Path) -> None:
    suid = tar_info("bin/suid", tarfile.REGTYPE, 0o4755, size=1, uid=4242, gid=4343)
    sgid_dir = tar_info("srv/shared", tarfile.DIRTYPE, 0o2775, uid=4242, gid=4343)
    sticky = tar_info("tmp", tarfile.DIRTYPE, 0o1777)
    link = tar_info("bin/link", tarfile.SYMTYPE, 0o777, linkname="suid", uid=4242, gid=4343)
    data = layer((suid, b"x"), (sgid_dir, None), (sticky, None), (link, None), directory("usr"))
    image = resolve_image(write_dir(oci_with([(OCI_TAR, data)]), tmp_path / "layout"), tmp_path / "cache")
    root = image.rootfs
    assert stat.S_IMODE((root / "bin/suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "srv/shared").stat().st_mode) == 0o775
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    for path in (root / "bin/suid", root / "srv/shared", root / "bin/link"):
        owner = path.lstat()
        assert (owner.st_uid, owner.st_gid) == (os.geteuid(), os.getegid()), path


def test_fifos_and_devices_are_not_made(tmp_path: Path) -> None:
    data = layer(
        (tar_info("dev/null", tarfile.CHRTYPE, 0o666, devmajor=1, devminor=3), None),
        (tar_info("run/fifo", tarfile.FIFOTYPE, 0o644), None),
        directory("usr"),
    )
    image = resolve_image(write_dir(oci_with([(OCI_TAR, data)]), tmp_path / "layout"), tmp_path / "cache")
    assert not os.path.lexists(image.rootfs / "dev/null")
    assert not os.path.lexists(image.rootfs / "run/fifo")


# -- 6. deep trees are removed, and leftovers never block a resolve ---------------------------


def deep_then_escape() -> bytes:
    return layer(*[directory("d/" * i) for i in range(1, DEEP)], file("d/" * DEEP + "f", b"x"), file("../escaped", b"x"))


def test_failed_deep_unpack_leaves_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expect_error(write_dir(oci_with([(OCI_TAR, deep_then_escape())]), tmp_path / "bad"), cache, "path escapes the root")
    good = resolve_image(write_dir(oci_with([(OCI_TAR, base_layer())]), tmp_path / "good"), cache)
    assert (good.rootfs / "bin/busybox").exists()


def make_deep(top: Path, depth: int) -> None:
    """A tree ``depth`` levels deep, built by descriptor (its full path is past PATH_MAX)."""
    top.mkdir(parents=True)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("level-of-a-deep-tree", dir_fd=fd)
            child = os.open("level-of-a-deep-tree", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.close(os.open("file", os.O_WRONLY | os.O_CREAT, 0o000, dir_fd=fd))
        os.chmod(fd, 0o500)
    finally:
        os.close(fd)


def test_deep_leftover_from_a_dead_process_is_swept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    make_deep(cache / ".tmp-sha256-0123456789abcdef-999999999-xyz/rootfs", 2000)
    image = resolve_image(write_dir(oci_with([(OCI_TAR, base_layer())]), tmp_path / "good"), cache)
    assert [p.name for p in cache.iterdir()] == [image.rootfs.parent.name]


def test_leftover_that_cannot_be_removed_does_not_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cctui.images.resolve as resolve_module

    cache = tmp_path / "cache"
    stuck = cache / ".tmp-sha256-0123456789abcdef-999999999-xyz"
    (stuck / "rootfs").mkdir(parents=True)
    real = resolve_module.remove_tree

    def refuse(path: object) -> None:
        if Path(os.fspath(path)) == stuck:  # type: ignore[arg-type]
            raise PermissionError(13, "simulated", str(path))
        real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(resolve_module, "remove_tree", refuse)
    image = resolve_image(write_dir(oci_with([(OCI_TAR, base_layer())]), tmp_path / "good"), cache)
    assert (image.rootfs / "bin/busybox").exists()


def test_deep_image_unpacks_and_is_removable(tmp_path: Path) -> None:
    data = layer(*[directory("d/" * i, 0o555) for i in range(1, DEEP)], file("d/" * DEEP + "f", b"x"))
    image = resolve_image(write_dir(oci_with([(OCI_TAR, data)]), tmp_path / "layout"), tmp_path / "cache")
    assert stat.S_IMODE((image.rootfs / "d/d/d").stat().st_mode) == 0o555
    remove_tree(image.rootfs.parent)
    assert cache_is_empty(tmp_path / "cache")
