"""Turning an image argument into an unpacked root filesystem, cached by digest."""

from __future__ import annotations

import gzip
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .config import ImageConfig
from .digests import HashingReader, check_digest, parse_digest
from .cleanup import remove_tree
from .errors import ImageError
from .limits import Budget, Limits
from .mediatypes import sniff_compression
from .plan import ImagePlan, LayerRef, read_plan
from .rootfs import RootfsWriter
from .sources import CORRUPT_ERRORS, DirSource, Source, TarSource
from .tarstream import MeteredStream, members

_ROOTFS_MARKERS = ("bin", "usr", "etc")
_IMAGE_MARKERS = ("oci-layout", "index.json", "manifest.json")
_TEMP_NAME = re.compile(r"\.tmp-.*-(\d+)-[^-]*")


@dataclass
class Image:
    """A root filesystem on disk and the defaults its commands start with."""

    rootfs: Path
    config: ImageConfig
    digest: str | None  # what the unpacked tree is cached under; None for a rootfs directory used in place


def resolve_image(
    arg: str | os.PathLike[str],
    cache_dir: Path,
    *,
    max_bytes: int | None = None,
    max_entries: int | None = None,
) -> Image:
    """Make ``arg`` (OCI layout dir or tarball, docker save tarball, rootfs dir) usable.

    Images are unpacked once into ``cache_dir/<algorithm>-<hex>/rootfs`` and
    reused by later calls; a failed unpack leaves nothing in ``cache_dir``.
    ``max_bytes`` and ``max_entries`` cap what one unpack may produce (see
    ``limits``: defaults 16 GiB and 1,000,000, or CCTUI_IMAGE_MAX_BYTES and
    CCTUI_IMAGE_MAX_ENTRIES).  Raises ImageError naming ``arg`` and the problem.
    """
    try:
        limits = Limits.choose(max_bytes, max_entries)
        return _resolve(Path(arg), Path(cache_dir), limits)
    except ImageError as exc:
        raise ImageError(f"image {os.fspath(arg)}: {exc}") from exc.__cause__


def _resolve(path: Path, cache_dir: Path, limits: Limits) -> Image:
    if not path.exists():
        raise ImageError("no such file or directory")
    source: Source
    if path.is_dir():
        if not any((path / marker).exists() for marker in _IMAGE_MARKERS):
            if any((path / marker).is_dir() for marker in _ROOTFS_MARKERS):
                return Image(path.resolve(), ImageConfig(), None)
            raise ImageError(
                "not an image: a directory with neither an OCI layout (oci-layout, index.json), "
                "a docker save manifest.json, nor a root filesystem (bin/, usr/ or etc/)"
            )
        source = DirSource(path)
    elif path.is_file():
        source = TarSource(path, limits)
    else:
        raise ImageError("not a directory and not a regular file")
    with source:
        plan = read_plan(source)
        return _unpack_cached(source, plan, cache_dir, limits)


def _unpack_cached(source: Source, plan: ImagePlan, cache_dir: Path, limits: Limits) -> Image:
    algorithm, encoded = parse_digest(plan.key, "image")
    entry = cache_dir / f"{algorithm}-{encoded}"
    if entry.is_dir():
        return Image(entry / "rootfs", plan.config, plan.key)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_temps(cache_dir)
    temp = Path(tempfile.mkdtemp(prefix=f".tmp-{algorithm}-{encoded[:16]}-{os.getpid()}-", dir=cache_dir))
    try:
        rootfs = temp / "rootfs"
        rootfs.mkdir(mode=0o755)
        writer = RootfsWriter(rootfs, Budget(limits))
        for layer in plan.layers:
            _apply_layer(source, layer, writer)
        writer.finish()
        (temp / "image-config.json").write_bytes(plan.config_raw)
        (temp / "config.json").write_text(plan.config.to_json())
        temp.chmod(0o755)
        try:
            os.rename(temp, entry)
        except OSError:
            if not entry.is_dir():
                raise
            _remove_quietly(temp)  # another process unpacked the same image first
    except BaseException:
        _remove_quietly(temp)  # the unpack's own error is the one to report
        raise
    return Image(entry / "rootfs", plan.config, plan.key)


def _remove_quietly(path: Path) -> None:
    try:
        remove_tree(path)
    except OSError:
        pass  # swept by a later resolve once this process is gone


def _remove_abandoned_temps(cache_dir: Path) -> None:
    """Remove unpack directories left by processes that died mid-unpack."""
    for child in cache_dir.iterdir():
        match = _TEMP_NAME.fullmatch(child.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except (ProcessLookupError, OverflowError):
            _remove_quietly(child)  # a leftover that cannot go must not stop this unpack
        except PermissionError:
            pass  # alive, someone else's


def _apply_layer(source: Source, layer: LayerRef, writer: RootfsWriter) -> None:
    """Stream one layer blob into the tree, checking both of its digests."""
    algorithm = parse_digest(layer.digest, layer.label)[0] if layer.digest else "sha256"
    with source.open(layer.name, layer.label) as raw:
        stored = HashingReader(raw, algorithm, layer.label, layer.size)
        try:
            head = stored.read(4) if layer.compression is None else b""
            compression = sniff_compression(head) if layer.compression is None else layer.compression
            replay = _Replay(head, stored)
            uncompressed = HashingReader(_decompressor(replay, compression, layer.label), "sha256", layer.label)
            metered = MeteredStream(uncompressed, writer.budget, layer.label)  # type: ignore[arg-type]
            with tarfile.open(fileobj=metered, mode="r|") as tar:  # type: ignore[call-overload]
                writer.apply(members(tar, metered), tar, layer.label)
            while metered.read(1 << 20):  # the rest counts too: zeros after the tar can be a bomb
                pass
            stored.drain()
        except CORRUPT_ERRORS + (gzip.BadGzipFile,) as exc:
            raise ImageError(f"{layer.label}: corrupt or truncated layer: {exc}") from exc
    if layer.digest is not None:
        check_digest(layer.label, layer.digest, stored.digest)
    if layer.size is not None and stored.size != layer.size:
        raise ImageError(f"size mismatch for {layer.label}: descriptor says {layer.size}, blob has {stored.size}")
    if layer.diff_id is not None:
        check_digest(f"uncompressed {layer.label} (diff_id)", layer.diff_id, uncompressed.digest)


class _Replay:
    """A stream whose first bytes were already read to sniff the compression."""

    def __init__(self, head: bytes, rest: HashingReader):
        self._head = head
        self._rest = rest

    def read(self, n: int | None = -1) -> bytes:
        if not self._head:
            return self._rest.read(n)
        if n is None or n < 0:
            data, self._head = self._head + self._rest.read(), b""
            return data
        data, self._head = self._head[:n], self._head[n:]
        return data


def _decompressor(stream: _Replay, compression: str, label: str) -> BinaryIO:
    if compression == "":
        return stream  # type: ignore[return-value]
    if compression == "gzip":
        # typeshed wants seek() on fileobj, which a GzipFile that only reads never calls
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[call-overload]
    if compression == "zstd":
        try:
            from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+
        except ImportError:
            raise ImageError(f"{label} is zstd-compressed and this Python has no zstd support (3.14+ has)") from None
        return zstd.ZstdFile(stream)  # type: ignore[no-any-return]
    raise ImageError(f"{label}: unknown compression {compression!r}")
