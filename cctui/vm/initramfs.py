"""Build (and cache) the initramfs: busybox, the modules, an init, and the agent.

The init mounts the image root read-only (9p), puts a tmpfs overlay on top so
guest writes never reach the host, copies the agent into the overlay and
switch_roots into Python running the agent as PID 1.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import py_compile
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

import ptyprocess

import guest_pty_agent

from ..errors import HypervisorUnavailable
from ..paths import cache_dir
from . import cpio
from .guest_python import base_python, dynload_files, identity, shared_library, stripped
from .kernel import CORE_MODULES, VSOCK_MODULES, Kernel, read_module
from .network import GATEWAY, GUEST_ADDRESS, NAMESERVER
from .profile import BootProfile
from .stdlib_zip import stdlib_bundle

INIT_APPLETS = ["mkdir", "ln", "cat", "rm", "hostname"]   # called by name in the init
BUSYBOX_CANDIDATES = ["/bin/busybox", "/usr/bin/busybox"]
AGENT_PORT_NAME = "cctui.agent"
ROOT_TAG = "cctui-root"
IMAGE_TAG = "cctui-image"
IMAGE_MOUNT = "/.cctui/image"     # where an image's root appears in the guest

INIT_SCRIPT = r"""#!/bin/busybox sh
# cctui guest init: modules, 9p root + tmpfs overlay, then the agent as PID 1.
# T_* are the kernel's uptime at each step, for the agent's boot breakdown.
# mkdir, ln, cat, rm and hostname run inside this shell (busybox's NOFORK applets; the
# links in /bin serve a busybox built without them): an exec under TCG costs ms.
B=/bin/busybox
PATH=/bin
mkdir -p /proc /sys /dev /lower /rw /newroot
$B mount -t proc proc /proc
read T_INIT _ < /proc/uptime
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev
fail() { echo "cctui-init: $*" > /dev/ttyS0; $B sleep 1; $B poweroff -f; }
PY=/usr/bin/python3
IMAGE=""
NET=""
VOLS=""
CHANNEL="--virtio-port __PORT__"
SERIAL=/modules/order.serial
VSOCK=""
NETMODS=""
read -r CMDLINE < /proc/cmdline
for arg in $CMDLINE; do
  case "$arg" in
    cctui.python=*) PY="${arg#cctui.python=}" ;;
    cctui.vsock=*) CHANNEL="--vsock-port ${arg#cctui.vsock=}"; VSOCK=/modules/order.vsock; SERIAL="" ;;
    cctui.image=1) IMAGE=1 ;;
    cctui.net=1) NET=1; NETMODS=/modules/order.net ;;
    cctui.vol=*) VOLS="$VOLS ${arg#cctui.vol=}" ;;
  esac
done
load() {
  for m in $(cat "$@" 2>/dev/null); do
    $B insmod /modules/$m || fail "insmod $m failed"
  done
}
load /modules/order $SERIAL
# Lanes: the vsock modules load in the background while the root is mounted (only
# the agent's listen needs them; the init waits for them before starting it).
if [ -n "$VSOCK" ]; then
  if [ __LANES__ = 1 ]; then load $VSOCK & else load $VSOCK; fi
fi
[ -n "$NETMODS" ] && load $NETMODS
if [ -n "$NET" ]; then
  # QEMU's user-mode network, set statically (no DHCP wait): see cctui/vm/network.py.
  $B ip link set lo up
  $B ip addr add __ADDR__ dev eth0 || fail "no network device eth0"
  $B ip link set eth0 up
  $B ip route add default via __GW__ || fail "cannot add the default route"
fi
read T_MODULES _ < /proc/uptime
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose __TAG__ /lower \
  || fail "cannot mount the image root over 9p"
$B mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
$B mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot \
  || fail "cannot mount the overlay"
mkdir -p /newroot/.cctui /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run
if [ -f /py/binds ]; then
  # The interpreter's library from guest RAM instead of 9p (see guest_python.py).
  while read -r n path; do
    $B mount --bind "/py/$n" "/newroot$path" || echo "cctui-init: $path stays on 9p" > /dev/ttyS0
  done < /py/binds
fi
$B cp -a /agent /newroot/.cctui/agent
$B mount --move /proc /newroot/proc
$B mount --move /sys /newroot/sys
$B mount --move /dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
$B mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /newroot/dev/pts
ln -sf pts/ptmx /newroot/dev/ptmx 2>/dev/null
$B mount -t tmpfs tmpfs /newroot/dev/shm
$B mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
$B mount -t tmpfs -o mode=0755 tmpfs /newroot/run
if [ -n "$IMAGE" ]; then
  # The image's root: read-only 9p + its own tmpfs overlay; commands chroot into it
  # while the agent keeps running from the host root (the image needs no Python).
  I=/newroot__IMAGE__
  mkdir -p /imglower /imgrw $I
  $B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose __ITAG__ /imglower \
    || fail "cannot mount the image over 9p"
  $B mount -t tmpfs -o mode=0755 tmpfs /imgrw
  mkdir -p /imgrw/upper /imgrw/work
  $B mount -t overlay overlay -o lowerdir=/imglower,upperdir=/imgrw/upper,workdir=/imgrw/work $I \
    || fail "cannot mount the image overlay"
  mkdir -p $I/proc $I/sys $I/dev $I/tmp
  $B mount -t proc proc $I/proc
  $B mount -t sysfs sysfs $I/sys
  $B mount --rbind /newroot/dev $I/dev
  $B mount -t tmpfs -o mode=1777 tmpfs $I/tmp
fi
R=/newroot
[ -n "$IMAGE" ] && R=$I
if [ -n "$NET" ]; then
  # The root's resolv.conf may be a link into the host's /run: replace it in the overlay.
  for r in /newroot $R; do
    rm -f $r/etc/resolv.conf; mkdir -p $r/etc
    echo "nameserver __DNS__" > $r/etc/resolv.conf
  done
fi
for v in $VOLS; do
  # TAG:GUEST_DIR:ro|rw, mounted where commands run (the image root when there is one).
  tag=${v%%:*}; rest=${v#*:}; dir=${rest%:*}; mode=${rest##*:}
  mkdir -p "$R$dir"
  $B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,$mode "$tag" "$R$dir" \
    || fail "cannot mount the volume $dir"
done
hostname cctui
wait     # the background module lane
[ -x "/newroot$PY" ] || fail "no python at $PY in the image root"
export PYTHONPATH=/.cctui/agent:/.cctui/agent/stdlib.zip PYTHONDONTWRITEBYTECODE=1 HOME=/root
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
read T_MOUNTS _ < /newroot/proc/uptime
AGENT="import sys; from guest_pty_agent.__main__ import main; sys.exit(main())"
# -c, not -m: runpy would first import importlib.util, contextlib and warnings.
exec $B switch_root /newroot "$PY" -S -c "$AGENT" --init $CHANNEL \
  --boot-marks "init=$T_INIT,modules=$T_MODULES,mounts=$T_MOUNTS"
"""


def find_busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        if os.path.exists(candidate):
            return Path(candidate)
    raise HypervisorUnavailable("busybox not found: install busybox-static")


def _package_sources(package) -> List[Tuple[str, Path, bytes]]:
    """(name inside the initramfs, path, source) for every .py file of a package."""
    root = Path(package.__file__).parent
    return [(f"{root.name}/{path.relative_to(root)}", path, path.read_bytes())
            for path in sorted(root.rglob("*.py"))]


def _bytecode(path: Path, relative: str) -> Optional[bytes]:
    """An unchecked-hash pyc of ``path``, or None if it does not compile.

    The guest runs the agent with this same interpreter (``base_python``), so
    bytecode compiled here is valid there, and needs no matching mtimes.
    Compiling under TCG would cost the guest a few hundred ms per boot.
    """
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "x.pyc")
        try:
            py_compile.compile(str(path), cfile=target, dfile=relative, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        except py_compile.PyCompileError:
            return None
        return Path(target).read_bytes()


SERIAL_MODULES = ["virtio_console"]      # the virtio-serial agent port's driver


def _core_names(profile: BootProfile) -> List[str]:
    """With module lanes, virtio_console is left to the virtio-serial transport."""
    bus = "virtio_mmio" if profile.microvm else "virtio_pci"
    if profile.module_lanes and profile.lean_modules:
        return [bus] + [m for m in CORE_MODULES if m not in SERIAL_MODULES]
    return [bus] + CORE_MODULES


def module_lists(kernel: Kernel, profile: BootProfile) -> Tuple[List[Path], List[Path]]:
    """(always loaded, loaded only with vsock): lean profiles skip vsock on virtio-serial."""
    bus = "virtio_mmio" if profile.microvm else "virtio_pci"
    everything = kernel.resolve_modules([bus] + CORE_MODULES + VSOCK_MODULES)
    if not profile.lean_modules:
        return everything, []
    core = kernel.resolve_modules(_core_names(profile))
    serial = serial_modules(kernel, profile)
    return core, [p for p in everything if p not in core and p not in serial]


def serial_modules(kernel: Kernel, profile: BootProfile) -> List[Path]:
    """Loaded only on virtio-serial (with module lanes): vsock boots skip them."""
    if not (profile.module_lanes and profile.lean_modules):
        return []
    bus = "virtio_mmio" if profile.microvm else "virtio_pci"
    core = kernel.resolve_modules(_core_names(profile))
    return [p for p in kernel.resolve_modules([bus] + SERIAL_MODULES) if p not in core]


NET_MODULES = ["virtio_net"]


def net_modules(kernel: Kernel, profile: BootProfile) -> List[Path]:
    """The NIC's modules (virtio_net and its deps), loaded only with --net: the
    modules every boot loads (module_lists) are left out of this list."""
    core, vsock = module_lists(kernel, profile)
    bus = "virtio_mmio" if profile.microvm else "virtio_pci"
    loaded = set(core) | set(vsock) | set(serial_modules(kernel, profile))
    return [p for p in kernel.resolve_modules([bus] + CORE_MODULES + NET_MODULES)
            if p not in loaded]


def _extensions(paths: List[str]) -> List[Tuple[str, bytes]]:
    """The agent's extension modules, stripped, for the top of its PYTHONPATH (where
    the interpreter finds them before lib-dynload). Without strip: none."""
    found = []
    for path in paths:
        data = stripped(Path(path))
        if data is not None:
            found.append((os.path.basename(path), data))
    return found


def _library_entries(library: Path) -> List[tuple]:
    """libpython, stripped, and the line that has the init bind-mount it at its path."""
    data = stripped(library)
    if data is None or "\n" in str(library) or " " in str(library):
        return []
    return [("dir", "py"), ("file", "py/0", data, 0o755),
            ("file", "py/binds", f"0 {library}\n".encode(), 0o644)]


def initramfs_for(kernel: Kernel, profile: Optional[BootProfile] = None) -> Path:
    """The cached initramfs for this kernel, agent version and profile, built when missing.

    The cache key is cheap (sources, init, kernel, interpreter, profile); resolving
    the modules and compiling the agent happen only when the image is built.
    """
    profile = profile or BootProfile()
    busybox = find_busybox()
    sources = _package_sources(guest_pty_agent) + _package_sources(ptyprocess)
    init = (INIT_SCRIPT.replace("__TAG__", ROOT_TAG).replace("__PORT__", AGENT_PORT_NAME)
            .replace("__ITAG__", IMAGE_TAG).replace("__IMAGE__", IMAGE_MOUNT)
            .replace("__ADDR__", GUEST_ADDRESS).replace("__GW__", GATEWAY)
            .replace("__DNS__", NAMESERVER)
            .replace("__LANES__", "1" if profile.module_lanes else "0"))
    python = base_python()
    digest = hashlib.sha256()
    digest.update(init.encode())
    digest.update(str(busybox.stat().st_size).encode())
    digest.update(f"{kernel.image}|{kernel.modules_dir}|{sys.implementation.cache_tag}".encode())
    digest.update(f"{python}|{sys.version}|{profile}".encode())
    library = shared_library()
    # Rebuilt when the host's Python changes: its binary, libpython, lib-dynload.
    digest.update(repr(identity([Path(python)] + ([library] if library else [])
                                + dynload_files())).encode())
    for name, _, source in sources:
        digest.update(name.encode() + source)
    suffix = ".cpio" if profile.raw_initramfs else ".cpio.gz"
    target = cache_dir() / "initramfs" / f"{kernel.release}-{digest.hexdigest()[:16]}{suffix}"
    if target.exists():
        return target
    modules, vsock_modules = module_lists(kernel, profile)
    nic_modules = net_modules(kernel, profile)
    agent_files: List[Tuple[str, bytes]] = []
    for name, path, source in sources:
        agent_files.append((name, source))
        pyc = _bytecode(path, name)
        if pyc is not None:
            agent_files.append((importlib.util.cache_from_source(name), pyc))
    python_entries: List[tuple] = []
    if profile.stdlib_zip or profile.agent_extensions:
        roots = [str(Path(str(p.__file__)).parent.parent) for p in (guest_pty_agent, ptyprocess)]
        bundle = stdlib_bundle(python, roots)
        if bundle is not None and profile.stdlib_zip:
            agent_files.append(("stdlib.zip", bundle[0]))
        if bundle is not None and profile.agent_extensions:
            agent_files += _extensions(bundle[1])
    if profile.python_files and library is not None:
        python_entries = _library_entries(library)
    entries: List[tuple] = [("dir", "bin"), ("dir", "modules"), ("dir", "agent"),
                            ("file", "bin/busybox", busybox.read_bytes(), 0o755),
                            ("link", "bin/sh", "busybox"),
                            *[("link", f"bin/{a}", "busybox") for a in INIT_APPLETS],
                            ("file", "init", init.encode(), 0o755)] + python_entries
    written = set()
    for order_name, paths in (("order", modules), ("order.serial", serial_modules(kernel, profile)),
                              ("order.vsock", vsock_modules), ("order.net", nic_modules)):
        order = []
        for path in paths:
            name = path.name.split(".ko")[0] + ".ko"
            if name not in written:
                written.add(name)
                entries.append(("file", f"modules/{name}", read_module(path), 0o644))
            order.append(name)
        entries.append(("file", f"modules/{order_name}", "".join(o + "\n" for o in order).encode(),
                        0o644))
    dirs = set()
    for name, data in agent_files:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "agent/" + "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                entries.append(("dir", d))
        entries.append(("file", f"agent/{name}", data, 0o644))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    raw = cpio.build(entries)
    tmp.write_bytes(raw if profile.raw_initramfs else gzip.compress(raw, compresslevel=1))
    os.replace(tmp, target)
    for old in target.parent.glob(f"{kernel.release}-*.cpio*"):
        if old != target and old.stat().st_mtime < target.stat().st_mtime - 86400:
            old.unlink(missing_ok=True)
    return target
