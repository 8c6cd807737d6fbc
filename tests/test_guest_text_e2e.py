"""The real app under a pty, a hostile guest in a real VM: every byte the app
writes to the user's terminal is read, and none of the guest's control
sequences is among them, while the guest's text is still shown (escaped).
"""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ptyprocess
import pyte
import pytest

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parent.parent
ROWS, COLS = 48, 160

# The guest sees the host root read-only, this file included, except where the
# guest mounts its own tmpfs (/tmp, /run, /dev/shm): a checkout there is copied
# to /var/tmp for the test.
GUEST_SCRIPT = ROOT / "tests" / "data" / "hostile_guest.sh"
_GUEST_OWN_TMPFS = ("/tmp/", "/run/", "/dev/shm/")


def guest_visible_script(tmp_dirs: list) -> Path:
    if not str(GUEST_SCRIPT).startswith(_GUEST_OWN_TMPFS):
        return GUEST_SCRIPT
    tmp_dirs.append(tempfile.mkdtemp(dir="/var/tmp", prefix="cctui-e2e-"))
    copy = Path(tmp_dirs[-1]) / GUEST_SCRIPT.name
    shutil.copyfile(GUEST_SCRIPT, copy)
    return copy

# What Textual itself writes: CSI sequences and OSC 22 (the pointer's shape).
_APP_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\]22;[a-z-]*\x07)")
_ANY_ESCAPE = re.compile(r"\x1b")
_C1 = re.compile("[\x80-\x9f]")


class HostTerminal:
    """The user's terminal: the app's raw output, and a pyte screen of it."""

    def __init__(self, proc: ptyprocess.PtyProcess) -> None:
        self.proc = proc
        self.raw = bytearray()
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)

    def read_until(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; screen:\n" + self.text())
            ready, _, _ = select.select([self.proc.fd], [], [], min(left, 1.0))
            if ready:
                try:
                    data = os.read(self.proc.fd, 1 << 16)
                except OSError:
                    raise AssertionError("the app ended; screen:\n" + self.text())
                self.raw += data
                self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(self.screen.display)


@pytest.fixture(scope="module")
def host_terminal(tmp_path_factory):
    home = tmp_path_factory.mktemp("config")
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS),
               XDG_CONFIG_HOME=str(home),     # a server of its own: ended below
               CCTUI_SOCKET_DIR=tempfile.mkdtemp(prefix="cctui-e2e-sock-"))
    tmp_dirs: list = []
    proc = ptyprocess.PtyProcess.spawn(
        [sys.executable, "-m", "cctui", "tui", "--", "sh", str(guest_visible_script(tmp_dirs))],
        cwd=str(ROOT), env=env, dimensions=(ROWS, COLS))
    term = HostTerminal(proc)
    try:
        yield term
    finally:
        proc.kill(signal.SIGTERM)
        try:
            proc.wait()
        except ptyprocess.PtyProcessError:
            pass
        # the TUI is a client: its session (and VM) live in the server until ended
        subprocess.run([sys.executable, "-m", "cctui", "kill-server"], env=env, timeout=60,
                       capture_output=True)
        for path in tmp_dirs + [env["CCTUI_SOCKET_DIR"]]:
            shutil.rmtree(path, ignore_errors=True)


def test_guest_text_is_shown_escaped_and_never_reaches_the_host_terminal(host_terminal):
    term = host_terminal
    term.read_until(lambda: "ready" in term.text() and "d␛]2;PWN" in term.text(), 240,
                    "the guest's prompt and its cwd in the panel")
    term.proc.write(b"\x02e")                      # ctrl+b e: the environment panel
    term.read_until(lambda: "EVIL" in term.text(), 30, "the environment panel")
    shown = term.text()
    # The guest's text is there, its controls made visible ...
    assert "d␛]2;PWN␇␛[7777;7777H[/x]" in shown          # cwd panel (markup kept as text)
    assert re.search("T\ufffd?7777;7777H\\[/b\\]", shown)     # the pane's title (C1 shown or dropped)
    assert "␛]52;c;QUJD␇[/x]\ufffd" in shown               # the environment panel
    # ... and every escape sequence the app wrote is one of Textual's own.
    out = term.raw.decode("utf-8", "replace")
    last = out.rfind("\x1b")
    if last >= 0 and re.fullmatch(r"\x1b(\[[0-?]*[ -/]*)?", out[last:]):
        out = out[:last]                          # read while the app was mid-sequence
    assert not _C1.search(out), "an 8-bit control reached the host terminal"
    foreign = [out[m.start():m.start() + 24] for m in _ANY_ESCAPE.finditer(out)
               if not _APP_SEQUENCE.match(out, m.start())]
    assert foreign == []
    assert "\x1b[7777" not in out
    assert "\x1b]52" not in out and "\x1b]2;" not in out and "\x1bP" not in out
