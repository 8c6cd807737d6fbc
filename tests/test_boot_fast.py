"""The boot-speed levers without a VM: PVH extraction, the profile, the boot marks."""
from __future__ import annotations

import lzma
import math
import os
import struct
from pathlib import Path

import pytest

from cctui.agent_frames import boot_marks as host_marks
from cctui.errors import HypervisorUnavailable
from cctui.vm import pvh
from cctui.vm.boot_files import boot_files
from cctui.vm.profile import FAST_APPEND, KERNEL_TRIM, QBOOT, BootProfile
from cctui.vm.qemu import QemuConfig
from guest_pty_agent import boot_marks as guest_marks


def _elf(notes: bytes, load_end: int = 0x2000000) -> bytes:
    """A minimal 64-bit ELF: one PT_LOAD ending at ``load_end`` and one PT_NOTE."""
    phoff, phnum = 64, 2
    notes_at = phoff + 56 * phnum
    header = (b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
              + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, phoff, 0, 0, 64, 56,
                            phnum, 64, 0, 0))
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0x1000000, 0, load_end - 0x1000000, 0x1000)
    note = struct.pack("<IIQQQQQQ", 4, 4, notes_at, 0, 0, len(notes), len(notes), 4)
    return header + load + note + notes


def _note(name: bytes, ntype: int, desc: bytes) -> bytes:
    padded = name + b"\0" * (-len(name) % 4)
    return struct.pack("<III", len(name), len(desc), ntype) + padded + desc + b"\0" * (-len(desc) % 4)


PVH_NOTES = _note(b"Xen\0", 6, b"linux\0") + _note(b"Xen\0", 18, struct.pack("<Q", 0x1000850))


def test_pvh_entry_is_read_from_the_xen_note() -> None:
    assert pvh.pvh_entry(_elf(PVH_NOTES)) == 0x1000850


@pytest.mark.parametrize("notes", [
    _note(b"Xen\0", 6, b"linux\0"),                 # Xen notes, but no PHYS32_ENTRY
    _note(b"GNU\0", 18, struct.pack("<Q", 1)),      # type 18 under another owner
    _note(b"Xen\0", 18, b"\1\2"),                   # a descriptor of the wrong size
])
def test_no_pvh_entry_without_a_proper_note(notes: bytes) -> None:
    assert pvh.pvh_entry(_elf(notes)) is None


def test_truncated_or_foreign_files_have_no_entry() -> None:
    whole = _elf(PVH_NOTES)
    for cut in range(0, len(whole), 7):
        assert pvh.pvh_entry(whole[:cut]) is None
    assert pvh.pvh_entry(b"MZ" + bytes(200)) is None
    huge_notes = struct.pack("<III", 4, 0xFFFFFFF0, 18) + b"Xen\0"
    assert pvh.pvh_entry(_elf(huge_notes)) is None


def _bzimage(payload: bytes) -> bytes:
    """Setup code, the XZ stream, and trailing bytes, as a bzImage lays them out."""
    return b"\xeb\x3cHdrS" + bytes(500) + lzma.compress(payload, format=lzma.FORMAT_XZ) + b"\0" * 64


def test_extract_finds_the_elf_in_the_xz_payload() -> None:
    elf = _elf(PVH_NOTES)
    assert pvh.extract_vmlinux(_bzimage(elf)) == elf
    # A false XZ magic before the real stream is skipped.
    assert pvh.extract_vmlinux(pvh.XZ_MAGIC + b"garbage" + _bzimage(elf)) == elf


def test_extract_refuses_non_elf_payloads_and_plain_files() -> None:
    assert pvh.extract_vmlinux(_bzimage(b"not a kernel" * 100)) is None
    assert pvh.extract_vmlinux(b"no xz here" * 100) is None


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CCTUI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_pvh_kernel_is_extracted_once_and_cached(cache: Path) -> None:
    image = cache / "vmlinuz-test"
    image.write_bytes(_bzimage(_elf(PVH_NOTES)))
    first = pvh.pvh_kernel(image)
    assert first is not None and first.read_bytes() == _elf(PVH_NOTES)
    first.write_bytes(_elf(PVH_NOTES) + b"marker")     # a second call must not rebuild
    assert pvh.pvh_kernel(image) == first and first.read_bytes().endswith(b"marker")
    os.utime(first, (1, 1))                            # old enough to be cleaned up
    image.write_bytes(_bzimage(_elf(PVH_NOTES, 0x3000000)))   # a new kernel: a new file
    os.utime(image, ns=(1, 1))
    second = pvh.pvh_kernel(image)
    assert second is not None and second != first and not first.exists()
    assert pvh.load_end(second) == 0x3000000


def test_a_kernel_without_pvh_falls_back(cache: Path) -> None:
    image = cache / "vmlinuz-nopvh"
    image.write_bytes(_bzimage(_elf(_note(b"Xen\0", 6, b"linux\0"))))
    assert pvh.pvh_kernel(image) is None
    assert pvh.pvh_kernel(image) is None                # the negative result is cached
    assert not list((cache / "cache" / "vmlinux").glob("*.elf"))


def test_profile_parsing() -> None:
    assert BootProfile.parse("") == BootProfile()
    assert BootProfile.parse("-pvh").pvh is False and BootProfile.parse("-pvh").qboot is True
    cumulative = BootProfile.parse("baseline,+pvh,+fast-append")
    assert cumulative == BootProfile(**{**{f: False for f in BootProfile.__dataclass_fields__},
                                        "pvh": True, "fast_append": True})
    with pytest.raises(HypervisorUnavailable, match="unknown lever"):
        BootProfile.parse("+warp_drive")


def _argv(profile: BootProfile) -> list:
    config = QemuConfig(kernel=Path("k"), initrd=Path("i"), state_dir=Path("/tmp/s"),
                        profile=profile)
    return config.argv("qemu")


def test_levers_reach_the_qemu_command_line() -> None:
    fast, base = _argv(BootProfile()), _argv(BootProfile.baseline())
    append = fast[fast.index("-append") + 1].split()
    assert all(p in append for p in FAST_APPEND + KERNEL_TRIM)
    assert not any(p in base[base.index("-append") + 1].split() for p in FAST_APPEND + KERNEL_TRIM)
    assert "rodata=off" in KERNEL_TRIM
    untrimmed = _argv(BootProfile.parse("-kernel_trim"))
    assert not any(p in untrimmed[untrimmed.index("-append") + 1].split() for p in KERNEL_TRIM)
    assert ("-bios" in fast) == QBOOT.exists() and "-bios" not in base


def test_host_keeps_only_plausible_boot_marks() -> None:
    marks = host_marks({"init": 1.5, "modules": 2, "mounts": -1, "python": math.nan,
                        "ready": True, "evil": 3.0})
    assert marks == {"init": 1.5, "modules": 2.0}
    assert host_marks({"init": 10 ** 400, "ready": "1"}) == {}
    assert host_marks([1, 2]) == {} and host_marks(None) == {}


def test_guest_reads_init_marks_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guest_marks, "MARKS", {})
    guest_marks.add_from_arg("init=1.25,modules=x,=3,mounts=2.5," + "a=1," * 100)
    assert guest_marks.MARKS["init"] == 1.25 and guest_marks.MARKS["mounts"] == 2.5
    assert "modules" not in guest_marks.MARKS and len(guest_marks.MARKS) <= guest_marks.MAX_MARKS
    guest_marks.mark("init")                             # the init's value is kept
    assert guest_marks.MARKS["init"] == 1.25


def test_small_memory_boots_the_old_way(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PVH loads the kernel where it runs: a VM too small for it gets the bzImage."""
    image = cache / "vmlinuz-big"
    image.write_bytes(_bzimage(_elf(PVH_NOTES, 0x4a00000)))
    monkeypatch.setattr("cctui.vm.boot_files.initramfs_for", lambda kernel, profile: cache / "i")

    class FakeKernel:
        pass
    kernel = FakeKernel()
    kernel.image = image  # type: ignore[attr-defined]
    kernel.release = "test"  # type: ignore[attr-defined]
    big = boot_files(kernel, 1024, BootProfile())          # type: ignore[arg-type]
    small = boot_files(kernel, 64, BootProfile())          # type: ignore[arg-type]
    assert big.profile.pvh and big.image.suffix == ".elf"
    assert small.image == image and not small.profile.pvh and not small.profile.qboot


def test_breakdown_splits_the_boot_at_the_guest_marks() -> None:
    from cctui.vm.breakdown import breakdown
    marks = {"init": 2.0, "modules": 2.5, "mounts": 2.75, "python": 3.5, "ready": 4.0}
    result = breakdown(called=100.0, returned=105.5, qemu_started=100.25, marks=marks)
    rows = {name: seconds for name, seconds, _ in result.rows}
    assert rows == {"host set-up": 0.25, "firmware, kernel load": 1.25, "kernel to init": 2.0,
                    "modules": 0.5, "mounts": 0.25, "Python start": 0.75, "agent ready": 0.5}
    assert sum(rows.values()) == result.total == 5.5
    assert "agent ready" in result.table()


def test_breakdown_skips_marks_that_go_backwards() -> None:
    from cctui.vm.breakdown import breakdown
    result = breakdown(0.0, 10.0, 1.0, {"init": 3.0, "modules": 2.0, "ready": 5.0})
    rows = {name: seconds for name, seconds, _ in result.rows}
    assert "modules" not in rows and rows["agent ready"] == 2.0
    assert sum(rows.values()) == result.total


def test_process_start_is_on_the_boottime_clock() -> None:
    import subprocess
    import sys
    from cctui.vm.breakdown import boottime, process_start
    before = boottime()
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        started = process_start(child.pid)
        assert started is not None and before - 0.02 <= started <= boottime() + 0.02
    finally:
        child.communicate(b"")
    assert process_start(child.pid) is None


def test_naive_reference_is_the_plain_launch() -> None:
    from cctui.vm.naive import NAIVE_INIT, naive_argv
    argv = naive_argv(Path("/k/vmlinuz"), Path("/i.cpio.gz"), "tcg")
    assert "-bios" not in argv and argv[argv.index("-machine") + 1] == "q35"
    assert argv[argv.index("-kernel") + 1] == "/k/vmlinuz"
    assert b"poweroff -f" in NAIVE_INIT


HEAVY = ("typing", "dataclasses", "inspect", "argparse", "socket", "traceback", "ast")


def test_agent_start_up_imports_nothing_heavy() -> None:
    """Each of these costs the guest tenths of a second under TCG before it is ready."""
    import subprocess
    import sys
    import guest_pty_agent
    import ptyprocess
    roots = [str(Path(str(m.__file__)).parent.parent) for m in (guest_pty_agent, ptyprocess)]
    code = ("import sys\n"
            "import guest_pty_agent.__main__, guest_pty_agent.agent, guest_pty_agent.session\n"
            "import guest_pty_agent.transport, guest_pty_agent.power\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": os.pathsep.join(roots)}, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("argv, expected", [
    (["--virtio-port", "p", "--init", "--boot-marks", "init=1"], ("p", None, None, True, "init=1")),
    (["--fd", "5"], (None, None, 5, False, "")),
    (["--vsock-port", "7", "--init"], (None, 7, None, True, "")),
])
def test_agent_command_line(argv: list, expected: tuple) -> None:
    from guest_pty_agent.__main__ import _parse
    args = _parse(argv)
    assert (args.virtio_port, args.vsock_port, args.fd, args.init, args.boot_marks) == expected


@pytest.mark.parametrize("argv", [[], ["--fd"], ["--fd", "x"], ["--fd", "1", "--vsock-port", "2"],
                                  ["--what"]])
def test_agent_command_line_errors(argv: list, capsys: pytest.CaptureFixture) -> None:
    from guest_pty_agent.__main__ import _parse
    with pytest.raises(SystemExit) as info:
        _parse(argv)
    assert info.value.code == 2 and "usage:" in capsys.readouterr().err


def test_microvm_uses_virtio_mmio_devices_and_tells_the_tsc_rate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cctui.vm.qemu.host_tsc_khz", lambda: 2596148)
    argv = _argv(BootProfile(microvm=True))
    assert argv[argv.index("-machine") + 1] == "microvm" and "-bios" not in argv
    devices = [argv[i + 1] for i, a in enumerate(argv) if a == "-device"]
    assert any(d.startswith("virtio-serial-device") for d in devices)
    assert any(d.startswith("virtio-9p-device") for d in devices)
    assert not any("-pci" in d for d in devices)
    append = argv[argv.index("-append") + 1].split()
    assert "tsc_early_khz=2596148" in append
    q35 = _argv(BootProfile(tsc=False))
    assert "virtio-serial-pci,id=vser0" in q35 and "-fsdev" in q35
    assert not any(p.startswith("tsc") for p in q35[q35.index("-append") + 1].split())


def test_tsc_rate_comes_only_from_a_host_that_knows_it(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    import builtins
    from cctui.vm import qemu
    real_open = builtins.open
    text = {"v": ""}

    def fake_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if path == "/proc/cpuinfo":
            target = tmp_path / "cpuinfo"
            target.write_text(text["v"])
            return real_open(target, *args, **kwargs)
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", fake_open)
    text["v"] = "cpu MHz\t\t: 2596.148\nflags\t\t: fpu tsc constant_tsc tsc_known_freq\n"
    assert qemu.host_tsc_khz() == 2596148
    text["v"] = "cpu MHz\t\t: 1200.000\nflags\t\t: fpu tsc constant_tsc\n"   # a scaling clock
    assert qemu.host_tsc_khz() is None


def test_microvm_loads_virtio_mmio_instead_of_pci() -> None:
    from cctui.vm.initramfs import module_lists

    class FakeKernel:
        def resolve_modules(self, wanted: list) -> list:
            return [Path(f"{name}.ko") for name in wanted]
    core, vsock = module_lists(FakeKernel(), BootProfile(microvm=True))  # type: ignore[arg-type]
    names = [p.stem for p in core]
    assert "virtio_mmio" in names and "virtio_pci" not in names
    assert [p.stem for p in vsock] == ["vmw_vsock_virtio_transport"]
    core, vsock = module_lists(FakeKernel(), BootProfile.baseline())  # type: ignore[arg-type]
    assert "virtio_pci" in [p.stem for p in core] and vsock == []


def test_tcg_boots_skip_delay_calibration_with_the_tsc_rate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cctui.vm.qemu.host_tsc_khz", lambda: 2596148)
    config = QemuConfig(kernel=Path("k"), initrd=Path("i"), state_dir=Path("/tmp/s"),
                        kernel_hz=250)
    append = config.argv("qemu")[config.argv("qemu").index("-append") + 1].split()
    assert {"tsc_early_khz=2596148", "tsc=reliable", "lpj=10384592"} <= set(append)
    config.accel = "kvm"                       # KVM has kvm-clock: nothing of this
    append = config.argv("qemu")[config.argv("qemu").index("-append") + 1].split()
    assert not any(p.startswith(("tsc", "lpj")) for p in append)


def test_kernel_hz_comes_from_the_config_beside_the_image(tmp_path: Path) -> None:
    from cctui.vm.kernel import Kernel, kernel_hz
    image = tmp_path / "vmlinuz-6.1.0-test"
    kernel = Kernel(image, tmp_path, "6.1.0-test", "test")
    assert kernel_hz(kernel) is None
    (tmp_path / "config-6.1.0-test").write_text("# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n")
    assert kernel_hz(kernel) == 250
    (tmp_path / "config-6.1.0-test").write_text("CONFIG_HZ=0\n")
    assert kernel_hz(kernel) is None


LAZY = ("ptyprocess", "shutil", "bz2", "lzma", "glob")

_HELLO_THEN_TTY = r"""
import json, os, selectors, socket, sys
import guest_pty_agent.__main__, guest_pty_agent.transport, guest_pty_agent.power
from guest_pty_agent import execs
from guest_pty_agent.loop import Loop
from guest_pty_agent.session import Session
from guest_pty_agent.validate import start_spec
host, guest = socket.socketpair()
session = Session(guest.fileno(), Loop())          # pushes the HELLO
session._on_channel(selectors.EVENT_WRITE)         # writes it
hello = host.recv(65536)
at_hello = [m for m in LAZY if m in sys.modules]
env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
pipes = execs.spawn(start_spec({"argv": ["true"], "env": env}))
after_pipes = [m for m in LAZY if m in sys.modules]
tty = execs.spawn(start_spec({"argv": ["true"], "env": env, "tty": True}))
os.waitpid(pipes.pid, 0)
os.waitpid(tty.pid, 0)
print(json.dumps({"at_hello": at_hello, "after_pipes": after_pipes,
                  "after_tty": "ptyprocess" in sys.modules, "hello_bytes": len(hello)}))
"""


def test_agent_says_hello_before_importing_ptyprocess() -> None:
    """Readiness does not wait for what only a tty command needs: ptyprocess (shutil,
    bz2, lzma) is imported by the first tty START, and a pipe command never needs it."""
    import json
    import subprocess
    import sys
    import guest_pty_agent
    import ptyprocess
    roots = [str(Path(str(m.__file__)).parent.parent) for m in (guest_pty_agent, ptyprocess)]
    done = subprocess.run([sys.executable, "-S", "-c", f"LAZY = {LAZY!r}\n" + _HELLO_THEN_TTY],
                          capture_output=True, text=True, check=True, timeout=120,
                          env={"PYTHONPATH": os.pathsep.join(roots), "PATH": os.environ["PATH"]})
    result = json.loads(done.stdout)
    assert result["hello_bytes"] > 0
    assert result["at_hello"] == [] and result["after_pipes"] == []
    assert result["after_tty"] is True


def test_vsock_listener_does_not_import_socket() -> None:
    """The listener uses _socket: socket.py's enum building costs the guest a tenth
    of a second or more before the HELLO under TCG."""
    import subprocess
    import sys
    import guest_pty_agent
    code = ("import sys\n"
            "from guest_pty_agent.transport import TransportError, VsockTransport\n"
            "try:\n"
            "    VsockTransport(40123)\n"
            "except TransportError:\n"
            "    pass                  # no vsock on this host: the import is what counts\n"
            "print('socket' in sys.modules, '_socket' in sys.modules)")
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          check=True, timeout=60,
                          env={"PYTHONPATH": str(Path(str(guest_pty_agent.__file__)).parent.parent)})
    assert done.stdout.split() == ["False", "True"]


def test_a_broken_ptyprocess_is_a_clear_start_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lazy import's failure reaches the START that needed it, not a crash."""
    from guest_pty_agent import execs
    from guest_pty_agent.protocol import OTHER
    from guest_pty_agent.validate import start_spec

    def broken() -> None:
        raise RuntimeError("ptyprocess is broken")
    monkeypatch.setattr(execs, "pty_class", broken)
    spec = start_spec({"argv": ["true"], "env": {"PATH": "/usr/bin:/bin"}, "tty": True})
    with pytest.raises(execs.StartError) as info:
        execs.spawn(spec)
    assert info.value.kind == OTHER and "ptyprocess is broken" in str(info.value)


class _NamesKernel:
    """resolve_modules as names only (no dependencies): what the lists are made of."""

    def resolve_modules(self, wanted: list) -> list:
        return [Path(f"{name}.ko") for name in wanted]


def test_module_lanes_leave_virtio_console_to_virtio_serial() -> None:
    from cctui.vm.initramfs import module_lists, net_modules, serial_modules
    kernel = _NamesKernel()
    core, vsock = module_lists(kernel, BootProfile())  # type: ignore[arg-type]
    names = [p.stem for p in core]
    assert "virtio_console" not in names and {"9p", "overlay", "virtio_pci"} <= set(names)
    assert [p.stem for p in serial_modules(kernel, BootProfile())] == ["virtio_console"]  # type: ignore[arg-type]
    assert [p.stem for p in vsock] == ["vmw_vsock_virtio_transport"]
    assert [p.stem for p in net_modules(kernel, BootProfile())] == ["virtio_net"]  # type: ignore[arg-type]
    off = BootProfile.parse("-module_lanes")
    core, _ = module_lists(kernel, off)  # type: ignore[arg-type]
    assert "virtio_console" in [p.stem for p in core] and serial_modules(kernel, off) == []  # type: ignore[arg-type]


def _cpio_files(data: bytes) -> dict:
    """name -> content of a newc archive (what the kernel unpacks), bounded by its size."""
    files, at = {}, 0
    while at + 110 <= len(data):
        fields = [int(data[at + 6 + 8 * i:at + 14 + 8 * i], 16) for i in range(13)]
        size, namesize = fields[6], fields[11]
        name = data[at + 110:at + 110 + namesize - 1].decode()
        at += 110 + namesize
        at += -at % 4
        files[name] = data[at:at + size]
        at += size + (-size % 4)
        if name == "TRAILER!!!":
            break
    return files


BOOT_FILES_PROFILE = BootProfile(python_files=True, agent_extensions=True)


@pytest.fixture(scope="module")
def built_initramfs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The default profile's initramfs for the host kernel, built once in a private cache."""
    from cctui.vm.initramfs import initramfs_for
    from cctui.vm.kernel import find_kernel
    try:
        kernel = find_kernel()          # from the usual cache: fetched once per machine
    except HypervisorUnavailable as exc:
        pytest.skip(f"no kernel to build an initramfs for: {exc}")
    os.environ["CCTUI_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        path = initramfs_for(kernel, BOOT_FILES_PROFILE)
        return {"path": path, "files": _cpio_files(path.read_bytes()), "kernel": kernel}
    finally:
        os.environ.pop("CCTUI_CACHE_DIR", None)


def test_initramfs_carries_libpython_and_the_agents_extension_modules(built_initramfs: dict) -> None:
    from cctui.vm.guest_python import shared_library
    files = built_initramfs["files"]
    library = shared_library()
    if library is None:
        pytest.skip("a static Python: no libpython to carry")
    index, _, target = files["py/binds"].decode().strip().partition(" ")
    assert target == str(library)
    carried = files[f"py/{index}"]
    assert carried[:4] == b"\x7fELF" and len(carried) < library.stat().st_size   # stripped
    for name in ("math", "select", "_socket", "_json"):
        assert any(n.startswith(f"agent/{name}.cpython") and n.endswith(".so") for n in files)
    init = files["init"].decode()
    assert 'mount --bind "/py/$n" "/newroot$path"' in init
    assert "load $VSOCK &" in init and "\nwait" in init
    # The agent starts with -c (runpy's imports before its first line are skipped).
    assert '"$PY" -S -c "$AGENT"' in init and "-m guest_pty_agent" not in init
    # Applets run in the init's shell, by name: links in /bin for a busybox without NOFORK.
    from cctui.vm.initramfs import INIT_APPLETS
    for applet in INIT_APPLETS:
        assert f"$B {applet} " not in init and files[f"bin/{applet}"] == b"busybox"


def test_initramfs_is_rebuilt_when_the_hosts_python_changes(
        built_initramfs: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cctui.vm import initramfs
    monkeypatch.setenv("CCTUI_CACHE_DIR", str(built_initramfs["path"].parent.parent))
    assert initramfs.initramfs_for(built_initramfs["kernel"], BOOT_FILES_PROFILE) == built_initramfs["path"]
    extension = tmp_path / "new.cpython-311-x86_64-linux-gnu.so"
    extension.write_bytes(b"one")
    real = initramfs.dynload_files
    monkeypatch.setattr(initramfs, "dynload_files", lambda: real() + [extension])
    first = initramfs.initramfs_for(built_initramfs["kernel"], BOOT_FILES_PROFILE)
    assert first != built_initramfs["path"]
    extension.write_bytes(b"an upgrade")
    assert initramfs.initramfs_for(built_initramfs["kernel"], BOOT_FILES_PROFILE) != first
