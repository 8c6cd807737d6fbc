"""The guest's serial console (and QEMU's stderr) as kept for a failed boot's
message: capped in bytes with the tail kept, and printable when shown.

No VM: a stand-in qemu-system-x86_64 floods its console and exits.
"""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from cctui.errors import HypervisorUnavailable
from cctui.vm.console import CONSOLE_LOG_CAP, ConsoleLog
from cctui.vm.qemu import QemuConfig, QemuProcess

HOSTILE = ("\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J\x1b[31mred\x1b[0m \x9b6n\x07\x00bell\x7f"
           "\u202eevil\r\n")


def _shown_safely(text: str) -> None:
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text), repr(text)
    assert "\u202e" not in text


def test_the_log_keeps_only_its_tail() -> None:
    log = ConsoleLog(cap=1000)
    for i in range(5000):
        log.feed(f"line {i}\n".encode())
    assert len(log.data) == 1000 and log.data.endswith(b"line 4999\n")
    assert log.total > 30_000
    assert log.tail(2) == "line 4998 | line 4999"


def test_the_tail_is_printable_and_short() -> None:
    log = ConsoleLog()
    log.feed(b"booting\r\n" + HOSTILE.encode() + b"x" * 100_000 + b"\r\n" + HOSTILE.encode())
    tail = log.tail(3)
    _shown_safely(tail)
    assert "red" in tail and "bell" in tail
    assert len(tail) < 1000


def test_a_panic_hides_its_register_dump() -> None:
    log = ConsoleLog()
    log.feed(b"VFS: unable to mount root\r\nKernel panic - not syncing: no init\r\n"
             b"RIP: 0010:panic+0x1\r\nRSP: 0018:ffff\r\n")
    assert log.tail(2) == "VFS: unable to mount root | Kernel panic - not syncing: no init"


FAKE_QEMU = r'''#!{python}
import os, sys
args = sys.argv[1:]
serial = args[args.index("-serial") + 1]
out = open(serial[5:], "wb") if serial.startswith("file:") else sys.stdout.buffer
line = {hostile!r}.encode()
for _ in range(40_000):
    out.write(line)
out.write(b"the last line\r\n")
out.flush()
sys.stderr.write("qemu: " + {hostile!r} * 2000 + "\n")
sys.exit(1)
'''


def test_a_flooding_guest_cannot_grow_the_kept_console(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "qemu-system-x86_64"
    fake.write_text(FAKE_QEMU.format(python=sys.executable, hostile=HOSTILE))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    state = tmp_path / "state"
    state.mkdir()

    async def scenario() -> tuple:
        qemu = QemuProcess(QemuConfig(kernel=tmp_path / "k", initrd=tmp_path / "i",
                                      state_dir=state))
        with pytest.raises(HypervisorUnavailable) as info:
            await qemu.start()
        return qemu, str(info.value)

    qemu, message = asyncio.run(asyncio.wait_for(scenario(), 30))
    written = 40_000 * len(HOSTILE.encode())
    kept_on_disk = sum(p.stat().st_size for p in state.rglob("*") if p.is_file())
    assert kept_on_disk + len(qemu.console.data) <= CONSOLE_LOG_CAP + 64 * 1024 < written
    assert qemu.console.total >= written
    assert qemu.console_tail(1) == "the last line"
    assert message.startswith("QEMU exited (exit status 1)")
    _shown_safely(message)
    assert len(message) < 1500
