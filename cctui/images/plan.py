"""Reading what an image is made of, before any layer is touched.

An OCI layout (index.json -> manifest -> config + layers) and a legacy
``docker save`` archive (manifest.json -> config file + layer tars) both become
one ``ImagePlan``: the digest to cache under, the config, and the layers in
order with what each must hash to.  Everything cheap is checked here (media
types, config and manifest digests) so a bad image fails before unpacking.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import dataclass

from . import mediatypes
from .config import ImageConfig
from .digests import check_digest, digest_of, parse_digest
from .errors import ImageError
from .sources import Source

_MAX_INDEX_DEPTH = 4
_ARCHITECTURES = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
    "i386": "386", "i686": "386", "armv7l": "arm", "ppc64le": "ppc64le",
    "s390x": "s390x", "riscv64": "riscv64",
}


@dataclass
class LayerRef:
    """One layer to apply: where it is and what it must hash to."""

    name: str  # path inside the source
    label: str  # how errors name it: "layer 2 (sha256:...)"
    compression: str | None  # "", "gzip", "zstd"; None: sniff (legacy docker save)
    digest: str | None  # of the blob as stored
    size: int | None  # of the blob as stored
    diff_id: str | None  # of the uncompressed tar


@dataclass
class ImagePlan:
    key: str  # the digest the unpacked image is cached under
    config_raw: bytes
    config: ImageConfig
    layers: list[LayerRef]


def read_plan(source: Source) -> ImagePlan:
    if source.has("oci-layout") or source.has("index.json"):
        return _read_oci_layout(source)
    if source.has("manifest.json"):
        return _read_docker_archive(source)
    raise ImageError(
        "not an image: missing manifest (no index.json of an OCI layout and no manifest.json of a docker save)"
    )


def _load_json(raw: bytes, what: str) -> object:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageError(f"{what} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise ImageError(f"{what} is nested too deeply to be image metadata") from None


def _blob_name(digest: str, what: str) -> str:
    algorithm, encoded = parse_digest(digest, what)
    return f"blobs/{algorithm}/{encoded}"


def _descriptor(value: object, what: str) -> tuple[str, str, int]:
    if not isinstance(value, dict):
        raise ImageError(f"{what}: descriptor is not a JSON object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str):
        raise ImageError(f"{what}: descriptor has no mediaType")
    digest = value.get("digest")
    parse_digest(digest, what)
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageError(f"{what}: descriptor has no valid size")
    return media_type, digest, size  # type: ignore[return-value]


def _read_blob(source: Source, digest: str, size: int, what: str) -> bytes:
    raw = source.read_bytes(_blob_name(digest, what), f"{what} blob {digest}")
    algorithm, _ = parse_digest(digest, what)
    check_digest(what, digest, digest_of(raw, algorithm))
    if len(raw) != size:
        raise ImageError(f"size mismatch for {what}: descriptor says {size}, blob has {len(raw)}")
    return raw


def _read_oci_layout(source: Source) -> ImagePlan:
    if not source.has("index.json"):
        raise ImageError("OCI layout has no index.json (missing manifest)")
    index = _load_json(source.read_bytes("index.json", "index.json"), "index.json")
    media_type, digest, size = _pick_manifest(index, "index.json")
    for _ in range(_MAX_INDEX_DEPTH):
        what = "manifest" if media_type in mediatypes.MANIFESTS else "index"
        if media_type not in mediatypes.MANIFESTS | mediatypes.INDEXES:
            raise ImageError(f"unknown media type {media_type!r} for the manifest {digest}")
        raw = _read_blob(source, digest, size, what)
        document = _load_json(raw, f"{what} {digest}")
        if not isinstance(document, dict):
            raise ImageError(f"{what} {digest} is not a JSON object")
        declared = document.get("mediaType")
        if declared is not None and declared != media_type:
            raise ImageError(f"{what} {digest} says its media type is {declared!r}, its descriptor says {media_type!r}")
        if media_type in mediatypes.MANIFESTS:
            return _plan_from_manifest(source, document, digest)
        media_type, digest, size = _pick_manifest(document, f"index {digest}")
    raise ImageError("indexes nested too deeply")


def _pick_manifest(index: object, what: str) -> tuple[str, str, int]:
    """The one image an index stands for: the only one, or the one for this machine."""
    if not isinstance(index, dict):
        raise ImageError(f"{what} is not a JSON object")
    if not isinstance(index.get("manifests"), list):
        raise ImageError(f"{what} has no manifests list (missing manifest)")
    candidates: dict[str, tuple[tuple[str, str, int], dict[str, object]]] = {}
    for position, entry in enumerate(index["manifests"]):
        descriptor = _descriptor(entry, f"{what} entry {position}")
        annotations = _optional_object(entry, "annotations", f"{what} entry {position}")
        platform_info = _optional_object(entry, "platform", f"{what} entry {position}")
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        candidates.setdefault(descriptor[1], (descriptor, platform_info))
    if not candidates:
        raise ImageError(f"{what} lists no image (missing manifest)")
    if len(candidates) == 1:
        return next(iter(candidates.values()))[0]
    arch = _ARCHITECTURES.get(platform.machine().lower(), platform.machine().lower())
    for descriptor, platform_info in candidates.values():
        if platform_info.get("os") == "linux" and platform_info.get("architecture") == arch:
            return descriptor
    raise ImageError(f"{what} lists {len(candidates)} images and none is for linux/{arch}; give an archive of one image")


def _optional_object(entry: dict[str, object], key: str, what: str) -> dict[str, object]:
    value = entry.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImageError(f"{what}: {key} is not a JSON object")
    return value


def _plan_from_manifest(source: Source, manifest: object, manifest_digest: str) -> ImagePlan:
    if not isinstance(manifest, dict):
        raise ImageError(f"manifest {manifest_digest} is not a JSON object")
    if "config" not in manifest:
        raise ImageError(f"manifest {manifest_digest} has no config (missing config)")
    config_type, config_digest, config_size = _descriptor(manifest["config"], "config")
    if config_type not in mediatypes.CONFIGS:
        raise ImageError(f"unknown media type {config_type!r} for the image config")
    layers_json = manifest.get("layers")
    if not isinstance(layers_json, list):
        raise ImageError(f"manifest {manifest_digest} has no layers list")
    layers = []
    for position, entry in enumerate(layers_json, start=1):
        media_type, digest, size = _descriptor(entry, f"layer {position}")
        label = f"layer {position} ({digest})"
        if media_type not in mediatypes.LAYERS:
            raise ImageError(f"unknown media type {media_type!r} for {label}")
        layers.append(LayerRef(_blob_name(digest, label), label, mediatypes.LAYERS[media_type], digest, size, None))
    config_raw = _read_blob(source, config_digest, config_size, "config")
    config_document = _load_json(config_raw, "image config")
    _attach_diff_ids(layers, config_document, required=False)
    return ImagePlan(manifest_digest, config_raw, ImageConfig.from_image_config(config_document), layers)


def _attach_diff_ids(layers: list[LayerRef], config_document: object, required: bool) -> None:
    """Take from the config what each uncompressed layer must hash to."""
    if not isinstance(config_document, dict):
        raise ImageError("image config is not a JSON object")
    rootfs = config_document.get("rootfs")
    if rootfs is not None and not isinstance(rootfs, dict):
        raise ImageError("image config: rootfs is not a JSON object")
    diff_ids = rootfs.get("diff_ids") if rootfs is not None else None
    if diff_ids is None:
        if required:
            raise ImageError("image config has no rootfs.diff_ids to verify the layers with")
        return
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
        count = len(diff_ids) if isinstance(diff_ids, list) else "no list of"
        raise ImageError(f"image config lists {count} diff_ids but the manifest has {len(layers)} layers")
    for layer, diff_id in zip(layers, diff_ids):
        parse_digest(diff_id, f"diff_id of {layer.label}")
        layer.diff_id = diff_id


_DIGEST_NAMED = re.compile(r"(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?")


def _read_docker_archive(source: Source) -> ImagePlan:
    """A ``docker save`` archive from before Docker 25 (no OCI layout inside)."""
    entries = _load_json(source.read_bytes("manifest.json", "manifest.json"), "manifest.json")
    if not isinstance(entries, list) or not entries:
        raise ImageError("manifest.json lists no image (missing manifest)")
    if len(entries) > 1:
        raise ImageError(f"manifest.json lists {len(entries)} images; give an archive of one image")
    entry = entries[0]
    if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
        raise ImageError("manifest.json names no Config (missing config)")
    layer_names = entry.get("Layers")
    if not isinstance(layer_names, list) or not all(isinstance(name, str) for name in layer_names):
        raise ImageError("manifest.json has no Layers list")
    config_name = entry["Config"]
    config_raw = source.read_bytes(config_name, "config")
    config_digest = digest_of(config_raw)
    named = _DIGEST_NAMED.fullmatch(config_name)
    if named:
        check_digest(f"config {config_name}", f"sha256:{named.group(1)}", config_digest)
    layers = []
    for position, name in enumerate(layer_names, start=1):
        named = _DIGEST_NAMED.fullmatch(name)
        digest = f"sha256:{named.group(1)}" if named and name.startswith("blobs/") else None
        layers.append(LayerRef(name, f"layer {position} ({name})", None, digest, None, None))
    config_document = _load_json(config_raw, "image config")
    _attach_diff_ids(layers, config_document, required=True)
    return ImagePlan(config_digest, config_raw, ImageConfig.from_image_config(config_document), layers)
