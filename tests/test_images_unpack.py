"""Unpacking images built here: OCI layout dir and tarball, docker save, rootfs dirs, bad images."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from cctui.images import Image, ImageConfig, entrypoint_argv, resolve_image
from helpers.images import (
    BUSYBOX,
    CONFIG,
    OCI_TAR,
    OCI_TAR_GZIP,
    base_layer,
    blob_name,
    cache_is_empty,
    directory,
    docker_legacy_files,
    expect_error,
    file,
    hardlink,
    image_config,
    layer,
    oci_files,
    sha256,
    symlink,
    top_layer,
    write_dir,
    write_tar,
)



# -- good images ---------------------------------------------------------------------


def check_unpacked(image: Image) -> None:
    root = image.rootfs
    assert root.is_dir()
    busybox = root / "bin/busybox"
    if BUSYBOX.exists():
        assert busybox.read_bytes() == BUSYBOX.read_bytes()
    assert stat.S_IMODE(busybox.stat().st_mode) == 0o755
    assert os.readlink(root / "bin/sh") == "busybox"
    assert (root / "bin/ls").stat().st_ino == busybox.stat().st_ino
    assert os.readlink(root / "usr/bin/env") == "/bin/busybox"
    # layer 2 overrode, deleted and made opaque
    assert (root / "etc/motd").read_bytes() == b"layer 2 motd\n"
    assert stat.S_IMODE((root / "etc/motd").stat().st_mode) == 0o600
    assert not (root / "etc/remove-me").exists()
    assert sorted(os.listdir(root / "etc/app")) == ["new"]
    assert stat.S_IMODE((root / "etc/app").stat().st_mode) == 0o750
    assert (root / "etc/same-layer").exists()
    assert (root / "srv/app/data").read_bytes() == b"app data\n"
    assert stat.S_IMODE((root / "srv/app/data").stat().st_mode) == 0o640
    assert not list(root.rglob(".wh.*"))
    assert image.config == ImageConfig(
        env=CONFIG["Env"], working_dir="/srv/app", user="1000:1000", entrypoint=["/bin/sh", "-c"], cmd=['echo "$GREETING"']
    )


def test_oci_layout_directory(tmp_path: Path) -> None:
    files, digest = oci_files()
    image = resolve_image(write_dir(files, tmp_path / "layout"), tmp_path / "cache")
    assert image.digest == digest
    assert image.rootfs == tmp_path / "cache" / digest.replace(":", "-") / "rootfs"
    check_unpacked(image)


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "tar.gz"])
def test_oci_layout_tarball(tmp_path: Path, compress: bool) -> None:
    files, digest = oci_files()
    image = resolve_image(str(write_tar(files, tmp_path / "image.tar", compress)), tmp_path / "cache")
    assert image.digest == digest
    check_unpacked(image)


def test_docker_save_legacy_tarball(tmp_path: Path) -> None:
    files, config_digest = docker_legacy_files()
    image = resolve_image(write_tar(files, tmp_path / "saved.tar"), tmp_path / "cache")
    assert image.digest == config_digest
    check_unpacked(image)


def test_docker_save_with_oci_layout_inside(tmp_path: Path) -> None:
    """Docker 25+ writes an OCI layout plus a manifest.json whose paths are blobs."""
    layers = [(OCI_TAR, base_layer()), (OCI_TAR, top_layer())]
    files, digest = oci_files(layers)
    config_name = next(name for name, data in files.items() if b'"rootfs"' in data)
    files["manifest.json"] = json.dumps(
        [{"Config": config_name, "RepoTags": ["test:latest"], "Layers": [blob_name(data) for _, data in layers]}]
    ).encode()
    image = resolve_image(write_tar(files, tmp_path / "saved.tar"), tmp_path / "cache")
    assert image.digest == digest
    check_unpacked(image)


def test_second_resolve_reuses_the_cache(tmp_path: Path) -> None:
    files, _ = oci_files()
    layout = write_dir(files, tmp_path / "layout")
    first = resolve_image(layout, tmp_path / "cache")
    (first.rootfs / "sentinel").write_text("unpacked once")
    second = resolve_image(layout, tmp_path / "cache")
    assert second.rootfs == first.rootfs
    assert (second.rootfs / "sentinel").read_text() == "unpacked once"
    assert second.config == first.config
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.rootfs.parent.name]


def test_abandoned_unpack_is_swept(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    abandoned = cache / ".tmp-sha256-0123456789abcdef-999999999-xyz"
    (abandoned / "rootfs").mkdir(parents=True)
    files, _ = oci_files()
    resolve_image(write_dir(files, tmp_path / "layout"), cache)
    assert not abandoned.exists()


def test_rootfs_directory_used_in_place(tmp_path: Path) -> None:
    rootfs = tmp_path / "debootstrapped"
    (rootfs / "usr/bin").mkdir(parents=True)
    image = resolve_image(str(rootfs), tmp_path / "cache")
    assert image.rootfs == rootfs.resolve()
    assert image.config == ImageConfig()
    assert image.digest is None
    assert cache_is_empty(tmp_path / "cache")


def test_config_without_config_section(tmp_path: Path) -> None:
    base = base_layer()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha256(base)]}})
    files, _ = oci_files([(OCI_TAR, base)], config.encode())
    image = resolve_image(write_dir(files, tmp_path / "layout"), tmp_path / "cache")
    assert image.config == ImageConfig()


def test_index_picks_this_machines_platform(tmp_path: Path) -> None:
    import platform as host

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(host.machine(), host.machine())
    files, digest = oci_files()
    index = json.loads(files["index.json"])
    ours = index["manifests"][0]
    other = dict(ours, digest=sha256(b"not there"), platform={"os": "linux", "architecture": "mips"})
    index["manifests"] = [other, dict(ours, platform={"os": "linux", "architecture": arch})]
    files["index.json"] = json.dumps(index).encode()
    assert resolve_image(write_dir(files, tmp_path / "layout"), tmp_path / "cache").digest == digest


# -- bad images: each names its problem and leaves nothing in the cache -----------------



def test_truncated_tarball(tmp_path: Path) -> None:
    files, _ = oci_files()
    whole = write_tar(files, tmp_path / "whole.tar").read_bytes()
    # cut inside the base layer's blob, which follows index.json, the manifest and the config
    cut = whole.index(base_layer()[:512]) + 4096
    (tmp_path / "cut.tar").write_bytes(whole[:cut])
    expect_error(tmp_path / "cut.tar", tmp_path / "cache", "corrupt or truncated")


def test_truncated_gzipped_tarball(tmp_path: Path) -> None:
    files, _ = oci_files()
    whole = write_tar(files, tmp_path / "whole.tar.gz", compress=True).read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    expect_error(tmp_path / "cut.tar.gz", tmp_path / "cache", "corrupt or truncated")


def test_corrupt_layer_inside_a_good_tarball(tmp_path: Path) -> None:
    garbage = b"\x1f\x8b" + os.urandom(2000)
    files, _ = oci_files([(OCI_TAR_GZIP, garbage)], image_config([b""]))
    expect_error(write_tar(files, tmp_path / "image.tar"), tmp_path / "cache", "layer 1 .*corrupt or truncated layer")


def test_file_that_is_not_a_tarball(tmp_path: Path) -> None:
    (tmp_path / "image.tar").write_bytes(os.urandom(3000))
    expect_error(tmp_path / "image.tar", tmp_path / "cache", "not a readable tar archive")


def test_missing_config(tmp_path: Path) -> None:
    files, _ = oci_files()
    config_name = next(name for name, data in files.items() if b'"rootfs"' in data)
    del files[config_name]
    expect_error(write_tar(files, tmp_path / "image.tar"), tmp_path / "cache", "missing config blob sha256:")


def test_missing_config_in_docker_save(tmp_path: Path) -> None:
    files, _ = docker_legacy_files()
    del files[next(name for name in files if name.endswith(".json") and name != "manifest.json")]
    expect_error(write_tar(files, tmp_path / "saved.tar"), tmp_path / "cache", "missing config")


def test_missing_manifest_blob(tmp_path: Path) -> None:
    files, digest = oci_files()
    del files["blobs/sha256/" + digest.split(":")[1]]
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", "missing manifest blob")


def test_missing_manifest_in_tarball(tmp_path: Path) -> None:
    files, _ = docker_legacy_files()
    del files["manifest.json"]
    expect_error(write_tar(files, tmp_path / "saved.tar"), tmp_path / "cache", "missing manifest")


def test_missing_layer_blob(tmp_path: Path) -> None:
    files, _ = oci_files()
    del files[blob_name(base_layer())]
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", "missing layer 1")


def test_unknown_layer_media_type(tmp_path: Path) -> None:
    files, _ = oci_files([(OCI_TAR, base_layer()), ("application/x-strange-layer", top_layer())])
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", "unknown media type 'application/x-strange-layer'")


def test_unknown_config_media_type(tmp_path: Path) -> None:
    files, _ = oci_files(config_media_type="application/vnd.cncf.helm.config.v1+json")
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", "unknown media type 'application/vnd.cncf.helm.config")


def test_layer_digest_mismatch(tmp_path: Path) -> None:
    files, _ = oci_files()
    name = blob_name(base_layer())
    files[name] = layer(file("etc/motd", b"tampered\n"), *[file(f"pad{i}", b"x" * 100) for i in range(3)])
    expect_error(write_tar(files, tmp_path / "image.tar"), tmp_path / "cache", "digest mismatch for layer 1")


def test_config_digest_mismatch(tmp_path: Path) -> None:
    files, _ = oci_files()
    config_name = next(name for name, data in files.items() if b'"rootfs"' in data)
    files[config_name] = files[config_name].replace(b"1000:1000", b"0000:0000")
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", "digest mismatch for config")


def test_docker_save_diff_id_mismatch(tmp_path: Path) -> None:
    files, _ = docker_legacy_files(config=image_config([base_layer(), layer(file("other", b"x"))]))
    expect_error(write_tar(files, tmp_path / "saved.tar"), tmp_path / "cache", r"digest mismatch for uncompressed layer 2 .*diff_id")


ESCAPES = {
    "dotdot": [file("../escaped", b"x")],
    "nested-dotdot": [directory("etc"), file("etc/../../escaped", b"x")],
    "absolute": [file("/tmp/escaped-absolute", b"x")],
    "absolute-symlink": [symlink("out", "/tmp"), file("out/escaped", b"x")],
    "relative-symlink": [directory("a"), symlink("a/up", "../.."), file("a/up/escaped", b"x")],
    "symlink-chain": [symlink("one", "two"), symlink("two", "/"), file("one/escaped", b"x")],
    "hardlink-dotdot": [hardlink("passwd", "../../etc/passwd")],
    "hardlink-absolute": [hardlink("passwd", "/etc/passwd")],
    "hardlink-through-symlink": [symlink("hostetc", "/etc"), hardlink("passwd", "hostetc/passwd")],
}


@pytest.mark.parametrize("members", ESCAPES.values(), ids=ESCAPES.keys())
def test_path_escape(tmp_path: Path, members: list) -> None:
    bad = layer(*members)
    files, _ = oci_files([(OCI_TAR, base_layer()), (OCI_TAR, bad)])
    (tmp_path / "inside").mkdir()
    expect_error(write_dir(files, tmp_path / "inside" / "layout"), tmp_path / "inside" / "cache", "path escapes the root")
    assert not list(tmp_path.rglob("escaped*"))
    assert not Path("/tmp/escaped").exists() and not Path("/tmp/escaped-absolute").exists()


def test_absolute_symlink_from_a_lower_layer_is_not_written_through(tmp_path: Path) -> None:
    lower = layer(symlink("data", "/var/lib"))
    upper = layer(file("data/escaped", b"x"))
    files, _ = oci_files([(OCI_TAR, lower), (OCI_TAR, upper)])
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", r"layer 2 .*absolute symlink /data -> /var/lib")


def test_empty_directory_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    expect_error(tmp_path / "empty", tmp_path / "cache", "not an image")


def test_missing_path(tmp_path: Path) -> None:
    expect_error(tmp_path / "nowhere", tmp_path / "cache", "no such file or directory")


def test_bad_config_types(tmp_path: Path) -> None:
    base = base_layer()
    config = image_config([base], {"Entrypoint": "/bin/sh -c"})
    files, _ = oci_files([(OCI_TAR, base)], config)
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", "Entrypoint is not a list of strings")


# -- entrypoint semantics ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("entrypoint", "cmd", "args", "expected"),
    [
        (["/bin/app"], ["--serve"], [], ["/bin/app", "--serve"]),  # no args: ENTRYPOINT + CMD
        (["/bin/app"], ["--serve"], ["--verbose"], ["/bin/app", "--verbose"]),  # args replace CMD
        (["/bin/app"], [], [], ["/bin/app"]),
        ([], ["ls", "-l"], [], ["ls", "-l"]),  # CMD alone
        ([], ["ls", "-l"], ["echo", "hi"], ["echo", "hi"]),  # args replace CMD
        ([], [], [], ["/bin/sh"]),  # neither: the shell
        ([], [], ["echo", "hi"], ["echo", "hi"]),  # neither, with args: the args
    ],
)
def test_entrypoint_argv(entrypoint: list[str], cmd: list[str], args: list[str], expected: list[str]) -> None:
    config = ImageConfig(entrypoint=entrypoint, cmd=cmd)
    assert entrypoint_argv(config, args, "/bin/sh") == expected


def test_docker_save_extracted_into_a_directory(tmp_path: Path) -> None:
    files, config_digest = docker_legacy_files()
    image = resolve_image(write_dir(files, tmp_path / "saved"), tmp_path / "cache")
    assert image.digest == config_digest
    check_unpacked(image)


def test_read_only_directory_takes_later_files_and_keeps_its_mode(tmp_path: Path) -> None:
    lower = layer(directory("ro", 0o555), file("ro/first", b"1"), directory("usr"))
    upper = layer(directory("ro", 0o555), file("ro/second", b"2"))
    files, _ = oci_files([(OCI_TAR, lower), (OCI_TAR, upper)])
    image = resolve_image(write_dir(files, tmp_path / "layout"), tmp_path / "cache")
    assert sorted(os.listdir(image.rootfs / "ro")) == ["first", "second"]
    assert stat.S_IMODE((image.rootfs / "ro").stat().st_mode) == 0o555


def test_failed_unpack_with_read_only_directories_leaves_nothing(tmp_path: Path) -> None:
    lower = layer(directory("ro", 0o555), file("ro/first", b"1"))
    upper = layer(file("ro/../../escaped", b"x"))
    files, _ = oci_files([(OCI_TAR, lower), (OCI_TAR, upper)])
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", "path escapes the root")


def test_zstd_layer_without_zstd_support(tmp_path: Path) -> None:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("this Python reads zstd layers")
    blob = b"\x28\xb5\x2f\xfd" + os.urandom(100)
    files, _ = oci_files([("application/vnd.oci.image.layer.v1.tar+zstd", blob)], image_config([b""]))
    expect_error(write_dir(files, tmp_path / "layout"), tmp_path / "cache", "zstd-compressed and this Python has no zstd support")


def test_error_after_the_last_layer_still_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a finished tree, read-only directories and all, is removed when the rename fails."""
    import cctui.images.resolve as resolve_module

    def failing_rename(source: object, target: object) -> None:
        raise OSError("simulated rename failure")

    lower = layer(directory("ro", 0o555), directory("ro/deeper", 0o500), file("ro/deeper/f", b"1", 0o400))
    files, _ = oci_files([(OCI_TAR, lower)])
    monkeypatch.setattr(resolve_module.os, "rename", failing_rename)
    with pytest.raises(OSError, match="simulated rename failure"):
        resolve_image(write_dir(files, tmp_path / "layout"), tmp_path / "cache")
    assert cache_is_empty(tmp_path / "cache")


def test_relative_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    """usrmerge: lib -> usr/lib; a later layer writing lib/x lands in usr/lib/x."""
    lower = layer(directory("usr/lib"), symlink("lib", "usr/lib"))
    upper = layer(file("lib/libx.so", b"x"), file("usr/lib/.wh.gone", b""))
    files, _ = oci_files([(OCI_TAR, lower), (OCI_TAR, upper)])
    image = resolve_image(write_dir(files, tmp_path / "layout"), tmp_path / "cache")
    assert os.readlink(image.rootfs / "lib") == "usr/lib"
    assert (image.rootfs / "usr/lib/libx.so").read_bytes() == b"x"
