"""One pane's guest command and its terminal model (no widgets here).

Output from the guest is buffered, then fed to the model and acknowledged in
slices once per frame (``pump``): the ack is the flow-control credit, so a
flooding command waits for the pane to keep up instead of growing host memory
or starving the other panes.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Callable, Dict, List, Optional, Sequence

from ..errors import Error
from ..guest_text import LABEL_LIMIT, printable, printable_env
from ..states import StrState, Transitions
from ..terminal import TerminalModel
from .command_end import wait_for_exit
from .slice_pacer import SlicePacer
from .typing_priority import TypingPriority

log = logging.getLogger(__name__)
FRAME_BUDGET = 0.008        # seconds of emulation per pane per frame
# Output a guest may send ahead of the pane: one frame's worth of a flood. The
# model lays out only the last screenful of a flood, so big gulps are cheap,
# and 16 panes still hold at most 32 MiB of unprocessed output.
OUTPUT_WINDOW = 2 << 20
# While another pane is typed in (see typing_priority): the guest pauses this
# pane's flood within 32 KiB and the echo gets the CPU (measured under TCG: echo
# p99 30 ms at 32 KiB, 41 ms at 64 KiB, 47-100+ ms at the full window).
YIELD_WINDOW = 32 * 1024
COMMAND_LIMIT = 32          # a process name: the agent sends at most 16 characters


class PaneState(StrState):
    """A pane's command: starting -> running -> exited | failed; a rerun starts again."""

    STARTING = "starting"   # waiting for its VM, or START sent
    RUNNING = "running"
    EXITED = "exited"
    FAILED = "failed"       # could not start, the VM went away, or a bug below


_P = PaneState
TRANSITIONS = Transitions("PaneProcess", {
    _P.STARTING: frozenset({_P.STARTING, _P.RUNNING, _P.FAILED}),   # the first run starts from here
    _P.RUNNING: frozenset({_P.EXITED, _P.FAILED}),
    _P.EXITED: frozenset({_P.STARTING, _P.FAILED}),
    _P.FAILED: frozenset({_P.STARTING, _P.FAILED}),      # VM lost, then the run's own error
})


class PaneProcess:
    """One pane's command. States: see PaneState; only this class changes them."""

    def __init__(self, instance, argv: Optional[Sequence[str]], rows: int, cols: int,
                 on_change: Callable[["PaneProcess"], None],
                 on_output: Callable[[], None],
                 priority: Optional[TypingPriority] = None) -> None:
        self.instance = instance
        # No argv: the image's entrypoint, decided at start (an image's config
        # is only known once its VM has booted).
        self._explicit = bool(argv)
        self.argv: List[str] = list(argv) if argv else list(instance.entrypoint_argv(()))
        self.rows, self.cols = max(1, rows), max(1, cols)
        self.model = self._new_model()
        self.cmd = None
        self._state = PaneState.STARTING
        self._error = ""
        self._cwd = ""
        self._env: Dict[str, str] = {}
        self.fg_pid: Optional[int] = None
        self._current_command = ""
        self._pending: deque = deque()
        self._pending_len = 0
        self._pacer = SlicePacer()
        self.received = 0               # output bytes over the pane's life (benchmarks)
        self._on_change = on_change
        self._on_output = on_output
        self.runs = 0
        self.yielding = False
        self.last_input = 0.0           # monotonic time of the user's last key into this pane
        self._priority = priority
        if priority is not None:
            priority.add(self)

    def _new_model(self) -> TerminalModel:
        return TerminalModel(self.rows, self.cols, scrollback=10_000, on_reply=self._reply)

    @property
    def title(self) -> str:
        """The command as a user thinks of it: ``env K=V ... prog args`` shows ``prog args``.

        An image's entrypoint is the image author's text: made printable too."""
        argv = self.argv
        if argv and argv[0].rsplit("/", 1)[-1] == "env":
            rest = argv[1:]
            while rest and ("=" in rest[0] or rest[0].startswith("-")):
                rest = rest[1:]
            argv = rest or argv
        return printable(" ".join(argv), LABEL_LIMIT)

    @property
    def guest_title(self) -> str:
        """The title the guest program set (OSC 0/2), safe to show."""
        return printable(self.model.title, LABEL_LIMIT)

    @property
    def state(self) -> PaneState:
        return self._state

    def _enter(self, state: PaneState, error: str = "") -> None:
        TRANSITIONS.check(self._state, state)
        self._state = state
        self.error = error

    # Guest-chosen facts pass through guest_text on the way in, so every widget
    # that shows them (title bar, panels, VM tree) gets printable, capped text.
    @property
    def error(self) -> str:
        return self._error

    @error.setter
    def error(self, text: object) -> None:
        self._error = printable(text, LABEL_LIMIT)

    @property
    def cwd(self) -> str:
        return self._cwd

    @cwd.setter
    def cwd(self, path: object) -> None:
        self._cwd = printable(path)

    @property
    def current_command(self) -> str:
        """The foreground process's name (tmux's ``pane_current_command``), or ""."""
        return self._current_command

    @current_command.setter
    def current_command(self, name: object) -> None:
        self._current_command = printable(name, COMMAND_LIMIT) if name else ""

    @property
    def running_label(self) -> str:
        """``bash: running pyenv`` while the foreground process is not the command itself
        (a slow rc file, a program started from the shell), else ""."""
        cmd = self.cmd
        own = cmd.pid if cmd is not None else None
        if (self._state is not PaneState.RUNNING or not self._current_command
                or self.fg_pid is None or own is None or self.fg_pid == own):
            return ""
        argv0 = self.title.split(" ", 1)[0].rsplit("/", 1)[-1]
        return f"{argv0}: running {self._current_command}"

    @property
    def env(self) -> Dict[str, str]:
        return self._env

    @env.setter
    def env(self, env: Dict[str, str]) -> None:
        self._env = printable_env(env)

    # -- lifetime --------------------------------------------------------------
    def boot_progress(self, detail: str, seconds: float) -> None:
        """While the VM boots, the pane tells what it is doing (replaced once the command runs)."""
        if self._state is PaneState.STARTING:
            self._notice(f"{self.instance.name}: {detail} ({seconds:.1f}s)", dim=True)

    async def start(self) -> None:
        self.runs += 1
        self._enter(PaneState.STARTING)
        self.model = self._new_model()
        self._pending.clear()
        self._pending_len = 0
        self._changed()
        if not self._explicit:
            self.argv = list(self.instance.entrypoint_argv(()))
        cmd = self.instance.command(self.argv[0], *self.argv[1:]).set_tty(self.rows, self.cols)
        cmd.set_window(self.window)
        cmd.set_output_handler(self._output)
        cmd.on_report = self._report
        self.cmd = cmd
        self.env = cmd.env
        self.cwd = cmd.dir or ""
        self.fg_pid, self.current_command = None, ""    # the last run's are stale
        try:
            await cmd.start()
        except Error as exc:
            self._enter(PaneState.FAILED, str(exc))
            self._notice(f"cannot start {self.title}: {exc}")
            self._changed()
            return
        if self._state is not PaneState.STARTING:     # the VM went while START was on its way
            return
        self._enter(PaneState.RUNNING)
        self._changed()
        error = await wait_for_exit(cmd)
        if error is not None:
            self._enter(PaneState.FAILED, str(error))
            self._notice(str(error))
            self._changed()
            return
        if self._state is PaneState.RUNNING:          # not already failed by vm_lost
            self._enter(PaneState.EXITED)
            self._changed()

    async def rerun(self) -> None:
        """Run the same command again in this pane (after it exited)."""
        if self._state in (PaneState.RUNNING, PaneState.STARTING):
            return
        await self.start()

    def vm_lost(self, reason: str) -> None:
        """The VM under this pane is gone: say so in the pane itself."""
        if self._state in (PaneState.RUNNING, PaneState.STARTING):
            self._enter(PaneState.FAILED, reason)
            self._notice(f"the VM {self.instance.name} stopped: {reason}")
            self._changed()

    def crashed(self, reason: str) -> None:
        """A bug below ended this run (the app caught it to stay up): show the pane failed."""
        self._enter(PaneState.FAILED, reason)

    # -- exit facts ---------------------------------------------------------------
    @property
    def exit_status(self):
        return self.cmd.exit_status if self.cmd is not None else None

    @property
    def duration(self) -> Optional[float]:
        if self.cmd is None or self.cmd.started_at is None:
            return None
        end = self.cmd.ended_at or time.time()
        return end - self.cmd.started_at

    # -- I/O ----------------------------------------------------------------------
    def _output(self, data: bytes) -> None:
        self.received += len(data)
        self._pending.append(data)
        self._pending_len += len(data)
        self._on_output()

    @property
    def has_pending(self) -> bool:
        return self._pending_len > 0

    def pump(self, budget: float = FRAME_BUDGET) -> bool:
        """Feed and lay out buffered output for about ``budget`` seconds; True if some is left.

        Each slice is processed (``flush``) before the next, so the time spent
        here is bounded and a flooding pane cannot stall the app's other panes;
        what is left stays un-acked, which pauses the guest command.  A slice is
        sized by time as well as bytes: by the rate this pane's output was
        emulated at lately (see :class:`SlicePacer`), so a hostile stream that
        emulates 50 times slower than text takes a 50 times smaller slice.
        """
        pacer = self._pacer
        start = time.monotonic()
        deadline = start + budget
        while self._pending:
            left = max(0.0, deadline - start)
            pacer.start()
            size = pacer.slice_size(True, left)
            fed = 0
            while self._pending and fed < size:     # many 64 KiB frames, one layout
                chunk = self._pending.popleft()
                size = pacer.admit(chunk, size, fed, left)
                if fed + len(chunk) > size:
                    self._pending.appendleft(chunk[size - fed:])
                    chunk = chunk[:size - fed]
                self.model.feed(chunk)
                fed += len(chunk)
            self._pending_len -= fed
            self.model.flush()
            now = time.monotonic()
            pacer.measured(fed, now - start)
            if self.cmd is not None:
                self.cmd.ack(fed)
            if now >= deadline:
                break
            start = now
        return bool(self._pending)

    @property
    def window(self) -> int:
        return YIELD_WINDOW if self.yielding else OUTPUT_WINDOW

    def set_yielding(self, flag: bool) -> None:
        """Another pane is being typed in: keep this pane's guest output to a trickle."""
        if flag == self.yielding:
            return
        self.yielding = flag
        if self.cmd is not None and self._state is PaneState.RUNNING:
            self.cmd.set_window(self.window)

    def _reply(self, data: bytes) -> None:
        self.write(data)

    def type(self, data: bytes) -> None:
        """Input from the user (keys, paste, wheel): this pane gets priority for a moment."""
        self.last_input = time.monotonic()
        if self._priority is not None and self._state is PaneState.RUNNING:
            self._priority.typed(self)
        self.write(data)

    def write(self, data: bytes) -> None:
        """Bytes to the command's terminal (replies to queries go here, not through type)."""
        if self.cmd is not None and self._state is PaneState.RUNNING:
            self.cmd.write(data)

    def resize(self, rows: int, cols: int) -> None:
        rows, cols = max(1, rows), max(1, cols)
        if (rows, cols) == (self.rows, self.cols):
            return
        self.rows, self.cols = rows, cols
        self.model.resize(rows, cols)
        if self.cmd is not None and self._state is PaneState.RUNNING:
            self.cmd.resize(rows, cols)

    def signal(self, signum: int) -> None:
        if self.cmd is not None and self._state is PaneState.RUNNING:
            self.cmd.send_signal(signum)

    def kill(self) -> None:
        if self.cmd is not None and self._state is PaneState.RUNNING:
            try:
                self.cmd.kill()
            except Error:
                pass

    def _report(self, report: dict) -> None:
        cwd = report.get("cwd")
        if isinstance(cwd, str):
            self.cwd = cwd
        env = report.get("env")
        if isinstance(env, dict):
            self.env = env
        pid = report.get("pid")
        self.fg_pid = pid if isinstance(pid, int) else None
        self.current_command = report.get("comm")
        self._changed()

    def _notice(self, text: str, dim: bool = False) -> None:
        """A line from cctui itself, drawn in the pane through the emulator."""
        safe = printable(text)
        if dim:
            self.model.feed(f"\x1b[0;2m[cctui] {safe}\x1b[0m\r\n".encode())
        else:
            self.model.feed(f"\r\n\x1b[0;1;31m[cctui] {safe}\x1b[0m\r\n".encode())
        self._on_output()

    def _changed(self) -> None:
        try:
            self._on_change(self)
        except Exception:       # logged, not raised: the pane's run goes on
            log.exception("pane %r: change listener raised (state %s)", self.title, self._state)
