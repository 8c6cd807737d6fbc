"""The boot levers in a real VM: what boots, the guest's marks, the doctor's table."""
from __future__ import annotations

import zipfile

import pytest

import cctui
from cctui.cli import main as cli_main
from cctui.vm.profile import KERNEL_TRIM, QBOOT

pytestmark = pytest.mark.vm    # boots real VMs: `-m "not vm"` skips the slow tier


def _qemu_argv(pid: int) -> list:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def test_default_boot_uses_the_levers_and_reports_its_marks() -> None:
    with cctui.boot() as vm:
        assert vm.qemu_pid is not None
        argv = _qemu_argv(vm.qemu_pid)
        assert argv[argv.index("-kernel") + 1].endswith(".elf")          # PVH vmlinux
        assert ("-bios" in argv) == QBOOT.exists()
        assert argv[argv.index("-initrd") + 1].endswith(".cpio")          # not gzipped
        assert vm._core.session is not None
        marks = vm._core.session.hello["boot"]
        names = ["init", "modules", "mounts", "python", "ready"]
        assert list(marks) == names
        assert all(marks[a] <= marks[b] for a, b in zip(names, names[1:]))
        zipped = vm.command("cat", "/.cctui/agent/stdlib.zip").output()
        with zipfile.ZipFile(__import__("io").BytesIO(zipped)) as zf:
            assert "json/__init__.pyc" in zf.namelist()
        # The vsock modules are loaded only when the VM's transport is vsock.
        modules = vm.command("cat", "/proc/modules").output().decode()
        assert "9pnet_virtio" in modules
        assert ("vmw_vsock_virtio_transport" in modules) == (vm.transport != "virtio-serial")
        # Module lanes: virtio_console only for the virtio-serial transport.
        assert ("virtio_console" in modules) == (vm.transport == "virtio-serial")
        append = argv[argv.index("-append") + 1].split()
        assert all(p in append for p in KERNEL_TRIM)
        # The agent greeted before importing ptyprocess; its first tty command still runs.
        on_a_pty = vm.command("tty")
        on_a_pty._core.set_tty(24, 80, reports=False)
        assert b"/dev/pts/" in on_a_pty.output()


def test_baseline_profile_still_boots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCTUI_BOOT", "baseline")
    with cctui.boot() as vm:
        assert vm.qemu_pid is not None
        argv = _qemu_argv(vm.qemu_pid)
        assert "vmlinuz" in argv[argv.index("-kernel") + 1] and "-bios" not in argv
        assert vm.command("echo", "up").output() == b"up\n"


def test_doctor_boot_prints_the_breakdown(capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["doctor", "--boot"]) == 0
    out = capsys.readouterr().out
    for phase in ("firmware, kernel load", "kernel to init", "modules", "mounts",
                  "Python start", "agent ready", "total"):
        assert phase in out
    assert "no boot marks" not in out


def test_microvm_boots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCTUI_BOOT", "+microvm")
    with cctui.boot() as vm:
        assert vm.qemu_pid is not None
        argv = _qemu_argv(vm.qemu_pid)
        assert argv[argv.index("-machine") + 1] == "microvm"
        loaded = [line.split()[0] for line in vm.command("cat", "/proc/modules").output().decode().splitlines()]
        assert "virtio_mmio" in loaded and "virtio_pci" not in loaded
        assert vm.command("ls", "/usr/bin/python3").output() == b"/usr/bin/python3\n"


def test_python_files_lever_serves_libpython_and_extensions_from_ram(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCTUI_BOOT", "+python_files,+agent_extensions")
    with cctui.boot() as vm:
        mounts = vm.command("cat", "/proc/self/mountinfo").output().decode()
        assert any("libpython" in line.split()[4] and " rootfs " in line
                   for line in mounts.splitlines())
        maps = vm.command("cat", "/proc/1/maps").output().decode()
        assert "/.cctui/agent/select.cpython" in maps
        assert vm.command("sh", "-c", "echo ok").output() == b"ok\n"
