"""Bad input against a real VM: each gets a clear error and nothing hangs."""
from __future__ import annotations

import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import cctui
from cctui import Context
from helpers.wait import wait_until

pytestmark = pytest.mark.vm    # boots a real VM: `-m "not vm"` skips the slow tier


def test_missing_executable_raises_at_start(vm: cctui.Instance) -> None:
    cmd = vm.command("no-such-program-xyz", "arg")
    with pytest.raises(cctui.ExecutableNotFound) as info:
        cmd.start()
    assert "no-such-program-xyz" in str(info.value)
    assert cmd.exit_code() == -1


def test_not_executable_file(vm: cctui.Instance) -> None:
    vm.write_file("/root/not-exec.sh", b"#!/bin/sh\necho hi\n", 0o644)
    with pytest.raises(cctui.StartFailed) as info:
        vm.command("/root/not-exec.sh").start()
    assert "not-exec.sh" in str(info.value)


def test_missing_directory(vm: cctui.Instance) -> None:
    with pytest.raises(cctui.DirectoryNotFound) as info:
        vm.command("ls").set_dir("/does/not/exist").run()
    assert "/does/not/exist" in str(info.value)


def test_non_zero_exit_keeps_stderr(vm: cctui.Instance) -> None:
    with pytest.raises(cctui.ExitError) as info:
        vm.command("sh", "-c", "echo partial; echo bad thing >&2; exit 3").output()
    assert info.value.exit_code == 3
    assert info.value.output == b"partial\n"
    assert info.value.stderr == b"bad thing\n"


def test_killed_by_signal_is_128_plus_n(vm: cctui.Instance) -> None:
    cmd = vm.command("sh", "-c", "kill -TERM $$; sleep 5")
    with pytest.raises(cctui.ExitError) as info:
        cmd.run()
    assert info.value.signal == 15
    assert cmd.exit_code() == 128 + 15


def test_timeout_kills_the_process_group(vm: cctui.Instance) -> None:
    ctx, cancel = Context.with_timeout(Context.background(), 1.0)
    started = time.monotonic()
    cmd = vm.command_context(ctx, "sh", "-c", "sleep 300 & sleep 301; echo never")
    with pytest.raises(cctui.Timeout):
        cmd.output()
    cancel()
    assert time.monotonic() - started < 15
    assert cmd.exit_code() == 128 + 9
    # The background child died with its group: no sleep 300 is left.
    left = vm.command("sh", "-c", "ps -eo args | grep '^sleep 30[01]' || true").output()
    assert left == b""


def test_cancel_from_another_thread(vm: cctui.Instance) -> None:
    ctx, cancel = Context.with_cancel(Context.background())
    cmd = vm.command_context(ctx, "sleep", "300")
    cmd.start()
    threading.Timer(0.3, cancel).start()
    with pytest.raises(cctui.Canceled):
        cmd.wait()


def test_context_already_done_fails_start(vm: cctui.Instance) -> None:
    ctx, cancel = Context.with_cancel(Context.background())
    cancel()
    with pytest.raises(cctui.Canceled):
        vm.command_context(ctx, "true").run()


def test_fifty_commands_in_parallel(vm: cctui.Instance) -> None:
    def one(i: int) -> bytes:
        return vm.command("sh", "-c", f"sleep 0.$(({i} % 5)); echo command-{i}").output()

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    assert results == [f"command-{i}\n".encode() for i in range(50)]


class _CountingSink:
    """A writer that keeps a count, not the bytes."""

    def __init__(self) -> None:
        self.count = 0
        self.last = b""

    def write(self, data: bytes) -> int:
        self.count += len(data)
        self.last = data[-16:]
        return len(data)


def test_100_mb_of_output_keeps_host_memory_bounded(vm: cctui.Instance) -> None:
    """100 MB through a streaming sink: peak RSS must grow by less than 64 MiB.

    The bound holds because the agent may only have one window (256 KiB) in
    flight per exec; without flow control the host would buffer what it cannot
    process as fast as the guest produces it.
    """
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    sink = _CountingSink()
    vm.command("head", "-c", "100000000", "/dev/zero").set_stdout(sink).run()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert sink.count == 100_000_000
    assert (after - before) < 64 * 1024, f"peak RSS grew by {(after - before) // 1024} MiB"


def test_slow_pipe_reader_pauses_the_guest(vm: cctui.Instance) -> None:
    """A reader that takes nothing leaves at most one window buffered on the host."""
    cmd = vm.command("head", "-c", "50000000", "/dev/zero")
    out = cmd.stdout_pipe()
    cmd.start()
    buffered = lambda: sum(len(c) for c in list(out._chunks))  # noqa: E731
    wait_until(lambda: buffered() >= 192 * 1024, 30, what="the window to fill")
    # The guest keeps producing, but nothing more may arrive until we read.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert buffered() <= 256 * 1024
        time.sleep(0.05)
    total = 0
    while True:
        chunk = out.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    cmd.wait()
    assert total == 50_000_000


def test_an_instance_keeps_only_its_live_commands(vm: cctui.Instance) -> None:
    """A long session runs many commands: exited ones are not held forever."""
    done = [vm.command("true") for _ in range(30)]
    for cmd in done:
        cmd.run()
    sleeper = vm.command("sleep", "2")
    sleeper.start()
    live = vm._core.commands
    assert sleeper._core in live
    assert not any(cmd._core in live for cmd in done)
    sleeper.wait()
