"""Find a guest kernel and the modules a host-root guest needs.

Preference: an explicit ``CCTUI_KERNEL``; the running kernel when its image and
modules are readable (as virtme-ng does); else a distribution kernel package
unpacked into the cache with ``apt-get download`` + ``dpkg -x`` (installing one
would change the user's boot menu).
"""
from __future__ import annotations

import glob
import lzma
import os
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import HypervisorUnavailable
from ..paths import cache_dir

# What the init needs: virtio transport, the console port, 9p root, overlay, vsock.
VSOCK_MODULES = ["vmw_vsock_virtio_transport"]
CORE_MODULES = ["virtio_console", "9p", "9pnet_virtio", "overlay"]
ROOT_MODULES = ["virtio_pci"] + CORE_MODULES + VSOCK_MODULES
META_PACKAGES = ["linux-image-amd64", "linux-image-generic"]


@dataclass
class Kernel:
    image: Path
    modules_dir: Path          # .../lib/modules/<release>
    release: str
    source: str                # how it was found, for `cctui doctor`
    builtin: frozenset = field(default_factory=frozenset)

    def module_paths(self) -> Dict[str, Path]:
        """Module name (with '_') -> .ko file."""
        found: Dict[str, Path] = {}
        for path in self.modules_dir.glob("kernel/**/*.ko*"):
            name = path.name.split(".ko")[0].replace("-", "_")
            found.setdefault(name, path)
        return found

    def resolve_modules(self, wanted: List[str] = ROOT_MODULES) -> List[Path]:
        """The .ko files for ``wanted`` and their dependencies, in load order."""
        paths = self.module_paths()
        order: List[Path] = []
        seen: set = set()

        def visit(name: str, chain: tuple) -> None:
            name = name.replace("-", "_")
            if name in seen or name in self.builtin:
                return
            if name in chain:
                raise HypervisorUnavailable(f"module dependency loop at {name}")
            path = paths.get(name)
            if path is None:
                raise HypervisorUnavailable(
                    f"kernel {self.release} has no module {name} (and it is not built in); "
                    "a generic distribution kernel is needed (the cloud flavour lacks 9p)")
            for dep in module_depends(read_module(path)):
                visit(dep, chain + (name,))
            seen.add(name)
            order.append(path)

        for name in wanted:
            visit(name, ())
        return order


def kernel_hz(kernel: Kernel) -> Optional[int]:
    """CONFIG_HZ from the config file distributions put beside the image, or None."""
    try:
        text = (kernel.image.parent / f"config-{kernel.release}").read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r"^CONFIG_HZ=(\d+)$", text, re.M)
    return int(match.group(1)) if match and 0 < int(match.group(1)) <= 10000 else None


def read_module(path: Path) -> bytes:
    """A module's ELF bytes, decompressed when the distribution compresses them."""
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".zst"):
        zstd = shutil.which("zstd")
        if not zstd:
            raise HypervisorUnavailable(f"{path} is zstd-compressed and zstd is not installed")
        return subprocess.run([zstd, "-dc", str(path)], check=True, capture_output=True).stdout
    if path.name.endswith(".gz"):
        import gzip
        return gzip.decompress(data)
    return data


def module_depends(elf: bytes) -> List[str]:
    """The ``depends=`` field of a module's .modinfo section."""
    match = re.search(rb"(?:^|\0)depends=([^\0]*)\0", elf)
    if not match or not match.group(1):
        return []
    return [d.decode() for d in match.group(1).split(b",") if d]


def _builtin(modules_dir: Path) -> frozenset:
    try:
        text = (modules_dir / "modules.builtin").read_text()
    except OSError:
        return frozenset()
    return frozenset(Path(line).name.split(".ko")[0].replace("-", "_")
                     for line in text.split())


def _kernel_from(image: Path, modules_dir: Path, source: str) -> Kernel:
    return Kernel(image, modules_dir, modules_dir.name, source, _builtin(modules_dir))


def running_kernel() -> Optional[Kernel]:
    release = platform.release()
    image = Path(f"/boot/vmlinuz-{release}")
    modules = Path(f"/lib/modules/{release}")
    if image.exists() and os.access(image, os.R_OK) and (modules / "kernel").is_dir():
        return _kernel_from(image, modules, f"the running kernel ({release})")
    return None


def cached_kernels() -> List[Kernel]:
    found = []
    for image in sorted(glob.glob(str(cache_dir() / "kernels" / "*" / "boot" / "vmlinuz-*"))):
        root = Path(image).parents[1]
        release = Path(image).name[len("vmlinuz-"):]
        modules = root / "lib" / "modules" / release
        if modules.is_dir():
            found.append(_kernel_from(Path(image), modules, f"cached package in {root}"))
    return found


def find_kernel() -> Kernel:
    """The kernel to boot, or HypervisorUnavailable saying how to get one."""
    explicit = os.environ.get("CCTUI_KERNEL")
    if explicit:
        image = Path(explicit)
        modules = Path(os.environ.get("CCTUI_KERNEL_MODULES", ""))
        if not image.exists() or not modules.is_dir():
            raise HypervisorUnavailable(
                "CCTUI_KERNEL needs CCTUI_KERNEL_MODULES=/path/lib/modules/<release> beside it")
        return _kernel_from(image, modules, "CCTUI_KERNEL")
    kernel = running_kernel()
    if kernel is not None:
        try:
            kernel.resolve_modules()
            return kernel
        except HypervisorUnavailable:
            pass
    cached = cached_kernels()
    if cached:
        return cached[-1]
    raise HypervisorUnavailable(
        "no guest kernel: the running kernel's image is not readable and none is cached; "
        "run `cctui fetch-kernel` (uses apt-get download, installs nothing)")


def _apt_depends(package: str) -> List[str]:
    out = subprocess.run(["apt-cache", "depends", package], capture_output=True, text=True)
    return re.findall(r"Depends: (linux-(?:image|modules)[^\s<>]+)", out.stdout)


def fetch_kernel(log=print) -> Kernel:
    """Download a distribution kernel package and unpack it into the cache."""
    if not shutil.which("apt-get") or not shutil.which("dpkg"):
        raise HypervisorUnavailable("fetching a kernel needs apt-get and dpkg (Debian/Ubuntu)")
    for meta in META_PACKAGES:
        deps = _apt_depends(meta)
        images = [d for d in deps if d.startswith("linux-image-")]
        if images:
            break
    else:
        raise HypervisorUnavailable(f"apt knows none of {META_PACKAGES}; run apt-get update")
    package = images[0]
    # Ubuntu splits modules into linux-modules(-extra)-<release> packages.
    release = package[len("linux-image-"):]
    extra = [p for p in (f"linux-modules-{release}", f"linux-modules-extra-{release}")
             if subprocess.run(["apt-cache", "show", p], capture_output=True).returncode == 0]
    dest = cache_dir() / "kernels" / package
    if dest.exists():
        shutil.rmtree(dest)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        for pkg in [package] + extra:
            log(f"downloading {pkg} (apt-get download, nothing is installed)")
            done = subprocess.run(["apt-get", "download", "-q", pkg], cwd=tmp,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise HypervisorUnavailable(f"apt-get download {pkg} failed: {done.stderr.strip()}")
        unpack = Path(tmp) / "root"
        for deb in glob.glob(os.path.join(tmp, "*.deb")):
            subprocess.run(["dpkg", "-x", deb, str(unpack)], check=True)
        # Usr-merged packages put modules under usr/lib.
        if (unpack / "usr" / "lib" / "modules").is_dir() and not (unpack / "lib").exists():
            (unpack / "lib").symlink_to("usr/lib")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.rename(unpack, dest)
    kernels = [k for k in cached_kernels() if str(k.image).startswith(str(dest))]
    if not kernels:
        raise HypervisorUnavailable(f"{package} unpacked but holds no vmlinuz")
    kernel = kernels[0]
    kernel.resolve_modules()
    log(f"kernel {kernel.release} ready in {dest}")
    return kernel
