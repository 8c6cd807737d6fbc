"""Images built in tests: tar layers, OCI layouts, ``docker save`` tarballs, and the
check that a refused image leaves nothing behind in the cache."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from cctui.images import ImageError, resolve_image

BUSYBOX = Path("/bin/busybox")
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = {
    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=hello from the image"],
    "WorkingDir": "/srv/app",
    "User": "1000:1000",
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ['echo "$GREETING"'],
}


def tar_info(name: str, kind: bytes, mode: int, **fields: object) -> tarfile.TarInfo:
    """A member header with a fixed mtime, so the same layer always has the same digest."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 1_700_000_000
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def file(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    return tar_info(name, tarfile.REGTYPE, mode, size=len(data)), data


def directory(name: str, mode: int = 0o755) -> tuple[tarfile.TarInfo, None]:
    return tar_info(name, tarfile.DIRTYPE, mode), None


def symlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    return tar_info(name, tarfile.SYMTYPE, 0o777, linkname=target), None


def hardlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    return tar_info(name, tarfile.LNKTYPE, 0o644, linkname=target), None


def layer(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def base_layer() -> bytes:
    executable = BUSYBOX.read_bytes() if BUSYBOX.exists() else b"#!/bin/sh\necho not busybox\n"
    return layer(
        directory("bin"),
        file("bin/busybox", executable, 0o755),
        symlink("bin/sh", "busybox"),
        hardlink("bin/ls", "bin/busybox"),
        directory("etc"),
        file("etc/motd", b"base motd\n"),
        file("etc/remove-me", b"deleted by layer 2\n"),
        directory("etc/app", 0o750),
        file("etc/app/old-a", b"hidden by the opaque dir\n"),
        directory("etc/app/sub"),
        file("etc/app/sub/old-b", b"hidden too\n"),
        directory("srv/app"),
        file("srv/app/data", b"app data\n", 0o640),
        directory("usr/bin"),
        symlink("usr/bin/env", "/bin/busybox"),
    )


def top_layer() -> bytes:
    return layer(
        file("etc/.wh.remove-me", b""),
        directory("etc/app", 0o750),
        file("etc/app/.wh..wh..opq", b""),
        file("etc/app/new", b"from layer 2\n"),
        file("etc/motd", b"layer 2 motd\n", 0o600),
        file("etc/same-layer", b"a whiteout in the same layer does not hide me\n"),
        file("etc/.wh.same-layer", b""),
    )


def image_config(layers_uncompressed: list[bytes], config: dict | None = None) -> bytes:
    document = {
        "architecture": "amd64",
        "os": "linux",
        "config": CONFIG if config is None else config,
        "rootfs": {"type": "layers", "diff_ids": [sha256(data) for data in layers_uncompressed]},
    }
    return json.dumps(document).encode()


def descriptor(media_type: str, data: bytes) -> dict:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def blob_name(data: bytes) -> str:
    return "blobs/sha256/" + hashlib.sha256(data).hexdigest()


def oci_files(
    layers: list[tuple[str, bytes]] | None = None,
    config: bytes | None = None,
    config_media_type: str = "application/vnd.oci.image.config.v1+json",
) -> tuple[dict[str, bytes], str]:
    """The files of an OCI layout (name -> bytes) and the manifest digest."""
    if layers is None:
        layers = [(OCI_TAR, base_layer()), (OCI_TAR_GZIP, gzip.compress(top_layer(), mtime=0))]
    if config is None:
        uncompressed = [gzip.decompress(data) if "gzip" in kind else data for kind, data in layers]
        config = image_config(uncompressed)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor(config_media_type, config),
            "layers": [descriptor(kind, data) for kind, data in layers],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [descriptor("application/vnd.oci.image.manifest.v1+json", manifest)],
    }
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": json.dumps(index).encode()}
    for data in [manifest, config] + [data for _, data in layers]:
        files[blob_name(data)] = data
    return files, sha256(manifest)


def docker_legacy_files(layers: list[bytes] | None = None, config: bytes | None = None) -> tuple[dict[str, bytes], str]:
    """A pre-Docker-25 ``docker save``: manifest.json, <hex>.json, <id>/layer.tar."""
    layers = [base_layer(), top_layer()] if layers is None else layers
    config = image_config(layers) if config is None else config
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_names = [f"{hashlib.sha256(data).hexdigest()}/layer.tar" for data in layers]
    files = {"manifest.json": json.dumps([{"Config": config_name, "RepoTags": ["test:latest"], "Layers": layer_names}]).encode()}
    files[config_name] = config
    for name, data in zip(layer_names, layers):
        files[name] = data
    return files, sha256(config)


def write_dir(files: dict[str, bytes], root: Path) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def write_tar(files: dict[str, bytes], path: Path, compress: bool = False) -> Path:
    with tarfile.open(path, "w:gz" if compress else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def cache_is_empty(cache: Path) -> bool:
    return not cache.exists() or not any(cache.iterdir())


def expect_error(image: Path, cache: Path, message: str) -> ImageError:
    with pytest.raises(ImageError, match=message) as caught:
        resolve_image(image, cache)
    assert str(image) in str(caught.value)
    assert cache_is_empty(cache), list(cache.iterdir())
    return caught.value
