"""A VM's life: configured entrypoint, exec replacing init, death from outside, orphans."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import cctui
import cctui.paths
from helpers.processes import alive
from helpers.wait import wait_until

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier


def test_entrypoint_and_cmd_then_exec_replaces_init() -> None:
    with cctui.boot(entrypoint=["/bin/echo", "EP"], cmd=["default-cmd"]) as vm:
        assert vm.entrypoint_command().output() == b"EP default-cmd\n"
        assert vm.entrypoint_command("a", "b").output() == b"EP a b\n"
        qemu = vm.qemu_pid
        assert qemu and alive(qemu)
        status = vm.exec("/bin/sh", "-c", "exit 7")
        assert status == 7
        assert vm.state == "stopped"
        wait_until(lambda: not alive(qemu), 15, what="QEMU to exit after the init command")
        with pytest.raises(cctui.NotRunning):
            vm.command("true").run()


def test_vm_killed_from_outside_fails_pending_calls_promptly() -> None:
    vm = cctui.boot()
    try:
        cmd = vm.command("sleep", "300")
        cmd.start()
        qemu = vm.qemu_pid
        assert qemu is not None
        os.kill(qemu, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(cctui.NotRunning) as info:
            cmd.wait()
        assert time.monotonic() - started < 10
        assert "killed by signal 9" in str(info.value)
        with pytest.raises(cctui.NotRunning):
            vm.command("echo", "hi").output()
        assert vm.state == "failed"
    finally:
        vm.close()
    with pytest.raises(cctui.AlreadyClosed):
        vm.command("true").run()


def test_closed_instance_refuses_commands() -> None:
    vm = cctui.boot()
    assert vm.command("echo", "ok").output() == b"ok\n"
    assert vm.hypervisor_status() == "running"          # QEMU's own view, over QMP
    qemu = vm.qemu_pid
    vm.close()
    assert vm.state == "stopped"
    assert qemu is not None and not alive(qemu)
    with pytest.raises(cctui.AlreadyClosed):
        vm.command("true").start()
    vm.close()  # closing twice is harmless


def test_no_orphan_qemu_after_sigkill_of_python(tmp_path) -> None:
    script = tmp_path / "booter.py"
    script.write_text(textwrap.dedent("""
        import sys, cctui
        vm = cctui.boot()
        print(vm.qemu_pid, vm.aio._backend.machine.qemu.config.state_dir, flush=True)
        sys.stdin.read()
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        pid_text, state_dir = proc.stdout.readline().split()
        qemu = int(pid_text)
        assert alive(qemu) and os.path.isdir(state_dir)
        proc.kill()
        proc.wait()
        wait_until(lambda: not alive(qemu), 10, what="QEMU to die with its parent")
        # The killed process could not clean up; the next VM's set-up sweeps it.
        assert os.path.isdir(state_dir)
        fresh = cctui.paths.new_state_dir()
        assert not os.path.exists(state_dir)
        os.remove(fresh / "owner.pid")
        fresh.rmdir()
    finally:
        proc.kill()


def test_failed_boot_says_why_and_keeps_the_console_log() -> None:
    with pytest.raises(cctui.NotRunning) as info:
        cctui.boot(memory_mb=40)            # too little memory for the kernel to start
    message = str(info.value)
    assert "QEMU exited" in message and "\x1b" not in message
    log = message.rsplit("console log: ", 1)[1].rstrip(")")
    assert os.path.getsize(log) > 0
