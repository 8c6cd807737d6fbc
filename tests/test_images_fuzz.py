"""Fuzz tier for the image unpacker: generated hostile archives and metadata.

Each example is an image built here, from hostile tar members (``..``,
absolute names, symlinks and hardlinks out of the root, whiteouts, devices,
FIFOs, deep paths, odd modes and owners), damaged compression, or random JSON
in place of the index, manifest or config.  The unpacker must either fail
with an ImageError and leave nothing in the cache, or produce a tree that
stays inside its root, holds only directories, regular files and symlinks,
no setuid/setgid bit, and nothing owned by anyone but us.

Run with ``pytest -m fuzz tests/test_images_fuzz.py``; examples are few and
each has a deadline, so the tier stays in the tens of seconds.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import stat
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from cctui.images import ImageError, resolve_image
from cctui.images.cleanup import remove_tree
from helpers.images import OCI_TAR, OCI_TAR_GZIP, base_layer, descriptor, sha256, write_dir, write_tar

pytestmark = pytest.mark.fuzz

FUZZ = settings(
    max_examples=int(os.environ.get("CCTUI_FUZZ_EXAMPLES", "40")),  # raise it for a deeper run
    deadline=10_000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIMITS = {"max_bytes": 4 << 20, "max_entries": 5_000}
ESCAPE_MARK = "cctui-fuzz-escaped"

# -- members -------------------------------------------------------------------------------

PLAIN = st.sampled_from(["a", "b", "c", ".", "", "é", "\udcff", "x" * 255, ".wh.a", ".wh.b", ".wh..wh..opq"])
HOSTILE = st.sampled_from([ESCAPE_MARK, "..", ".wh.", ".wh..", "x" * 256])
PLAIN_NAMES = st.lists(PLAIN, min_size=1, max_size=6).map("/".join)
HOSTILE_NAMES = st.one_of(
    st.lists(st.one_of(PLAIN, HOSTILE), min_size=1, max_size=6).map("/".join),
    PLAIN_NAMES.map(lambda name: "/" + name),
    st.sampled_from(["/", "/tmp/" + ESCAPE_MARK, "../" + ESCAPE_MARK]),
)
DEEP = st.integers(1, 700).map(lambda depth: "a/" * depth + "f")
# One member in twenty is hostile and one is deep, so that images still unpack often
# enough for their trees to be checked.
NAMES = st.integers(0, 19).flatmap(lambda n: HOSTILE_NAMES if n == 0 else DEEP if n == 1 else PLAIN_NAMES)
KINDS = st.sampled_from(
    [tarfile.REGTYPE, tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
     tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.CONTTYPE]
)


@st.composite
def members(draw: Callable[..., Any]) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(draw(NAMES))
    info.type = draw(KINDS)
    info.mode = draw(st.integers(0, 0o7777))
    info.uid = draw(st.integers(0, 70_000))
    info.gid = draw(st.integers(0, 70_000))
    info.mtime = draw(st.integers(0, 1 << 33))
    data = None
    if info.type in (tarfile.REGTYPE, tarfile.CONTTYPE):
        data = draw(st.binary(max_size=64))
        info.size = len(data)
    elif info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = draw(st.one_of(NAMES, st.just("/"), st.just("../../..")))
    elif info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, draw(st.sampled_from([3, 5, 8]))
    return info, data


def tar_bytes(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


@st.composite
def layers(draw: Callable[..., Any]) -> tuple[str, bytes, bytes]:
    """(media type, blob, uncompressed tar): plain, gzip, or damaged gzip."""
    try:
        plain = tar_bytes(draw(st.lists(members(), max_size=12)))
    except (ValueError, UnicodeEncodeError, tarfile.TarError):
        assume(False)  # a name tarfile itself cannot write
        raise
    how = draw(st.sampled_from(["plain", "plain", "gzip", "gzip", "truncated", "flipped"]))
    if how == "plain":
        return OCI_TAR, plain, plain
    blob = gzip.compress(plain, mtime=0)
    if how == "truncated":
        blob = blob[: draw(st.integers(0, max(0, len(blob) - 1)))]
    elif how == "flipped":
        position = draw(st.integers(0, len(blob) - 1))
        blob = blob[:position] + bytes([blob[position] ^ draw(st.integers(1, 255))]) + blob[position + 1:]
    return OCI_TAR_GZIP, blob, plain


# -- images ---------------------------------------------------------------------------------


def oci_layout(layer_list: list[tuple[str, bytes, bytes]], mutate: Callable[[str, dict], None] | None = None) -> dict[str, bytes]:
    """An OCI layout; ``mutate(part, document)`` may spoil a document before it is hashed."""
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["A=1"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(plain) for _, _, plain in layer_list]},
    }
    if mutate:
        mutate("config", config)
    config_raw = json.dumps(config).encode()
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config_raw),
        "layers": [descriptor(kind, blob) for kind, blob, _ in layer_list],
    }
    if mutate:
        mutate("manifest", manifest)
    manifest_raw = json.dumps(manifest).encode()
    index: dict[str, Any] = {
        "schemaVersion": 2,
        "manifests": [descriptor("application/vnd.oci.image.manifest.v1+json", manifest_raw)],
    }
    if mutate:
        mutate("index", index)
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": json.dumps(index).encode()}
    for data in [manifest_raw, config_raw] + [blob for _, blob, _ in layer_list]:
        files["blobs/sha256/" + sha256(data).split(":")[1]] = data
    return files


def check_outcome(build: Callable[[Path], Path]) -> None:
    """Resolve the image; accept a clean ImageError or a tree that is safe to keep."""
    top = Path(tempfile.mkdtemp(prefix="cctui-fuzz-"))
    try:
        cache = top / "cache"
        try:
            image = resolve_image(build(top), cache, **LIMITS)  # type: ignore[arg-type]
        except ImageError as exc:
            reason = re.sub(r"\(sha256:\w+\)|'[^']*'|\d+", "_", str(exc).split(": ", 1)[-1])
            event("ImageError: " + reason[:50])  # see them with --hypothesis-show-statistics
            assert not cache.exists() or not any(cache.iterdir()), list(cache.iterdir())
        else:
            event("unpacked")
            check_tree(image.rootfs)
        assert not any(ESCAPE_MARK in name for name in os.listdir(top))
        assert not os.path.lexists("/tmp/" + ESCAPE_MARK)
    finally:
        remove_tree(top)


def check_tree(root: Path) -> None:
    """Walk without following links: only dirs, files and symlinks, ours, no set-id bits."""
    pending = [str(root)]
    real_root = os.path.realpath(root)
    while pending:
        directory = pending.pop()
        assert os.path.realpath(directory).startswith(real_root)
        with os.scandir(directory) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                assert stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode), entry.path
                assert not info.st_mode & (stat.S_ISUID | stat.S_ISGID), entry.path
                assert info.st_uid == os.geteuid(), entry.path
                if stat.S_ISDIR(info.st_mode):
                    pending.append(entry.path)


# -- the fuzz tests -----------------------------------------------------------------------------


@FUZZ
@given(st.lists(layers(), min_size=1, max_size=3), st.booleans())
def test_fuzz_layers(layer_list: list[tuple[str, bytes, bytes]], as_tarball: bool) -> None:
    files = oci_layout([(OCI_TAR, base_layer(), base_layer())] + layer_list)
    check_outcome(lambda top: write_tar(files, top / "image.tar") if as_tarball else write_dir(files, top / "layout"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = {
    "index": ["manifests", "mediaType", "schemaVersion", ("manifests", 0), ("manifests", 0, "digest"),
              ("manifests", 0, "size"), ("manifests", 0, "mediaType"), ("manifests", 0, "platform"),
              ("manifests", 0, "annotations")],
    "manifest": ["config", "layers", "mediaType", ("config", "digest"), ("config", "size"), ("config", "mediaType"),
                 ("layers", 0), ("layers", 0, "digest"), ("layers", 0, "size"), ("layers", 0, "mediaType")],
    "config": ["config", "rootfs", ("rootfs", "diff_ids"), ("rootfs", "diff_ids", 0), ("config", "Env"),
               ("config", "Cmd"), ("config", "Entrypoint"), ("config", "User"), ("config", "WorkingDir")],
}


def _replace(document: dict, path: str | tuple, value: object) -> None:
    keys = (path,) if isinstance(path, str) else path
    target: Any = document
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value


@FUZZ
@given(st.sampled_from(sorted(FIELDS)), st.data(), JSON, st.booleans())
def test_fuzz_metadata(part: str, data: st.DataObject, value: object, whole: bool) -> None:
    field = data.draw(st.sampled_from(FIELDS[part]))

    def mutate(which: str, document: dict) -> None:
        if which != part:
            return
        if whole:
            document.clear()
            if isinstance(value, dict):
                document.update(value)
            else:
                document["_"] = value
        else:
            _replace(document, field, value)

    files = oci_layout([(OCI_TAR, base_layer(), base_layer())], mutate)
    check_outcome(lambda top: write_dir(files, top / "layout"))


@FUZZ
@given(st.sampled_from(["index.json", "manifest.json"]), st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_fuzz_raw_top_document(name: str, raw: bytes) -> None:
    files = oci_layout([(OCI_TAR, base_layer(), base_layer())])
    if name == "manifest.json":
        del files["index.json"], files["oci-layout"]
    files[name] = raw
    check_outcome(lambda top: write_tar(files, top / "image.tar"))
