"""Side panels about the focused pane: working directory, exit status, environment.

Each panel shows one fact about the focused pane's process and is toggled on its own.
"""
from __future__ import annotations

import time
from typing import Optional

from rich.text import Text

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Input, Static

from ..server.pane_process import PaneProcess, PaneState


class Panel(Vertical):
    DEFAULT_CSS = """
    Panel {
        height: auto;
        border: round $primary 50%;
        border-title-color: $primary;
        padding: 0 1;
        margin-bottom: 0;
    }
    """

    def show(self, process: Optional[PaneProcess]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class CwdPanel(Panel):
    """Follows ``cd``: the agent reports the foreground process's cwd live."""

    def __init__(self) -> None:
        super().__init__(id="cwd-panel")
        self.border_title = "Working directory"
        self.body = Static("", id="cwd-text")

    def compose(self) -> ComposeResult:
        yield self.body

    def show(self, process: Optional[PaneProcess]) -> None:
        if process is None:
            self.body.update("no pane")
            return
        fg = ""
        if process.fg_pid and process.current_command:
            fg = f"\nforeground: {process.current_command} (pid {process.fg_pid})"
        elif process.fg_pid:
            fg = f"\nforeground pid {process.fg_pid}"
        self.body.update(Content((process.cwd or "?") + fg))


def format_exit(process: Optional[PaneProcess]) -> str:
    if process is None:
        return "no pane"
    status = process.exit_status
    if process.state == PaneState.FAILED:
        return f"failed: {process.error}"
    if status is None:
        duration = process.duration
        running = f"running for {duration:.1f}s" if duration is not None else str(process.state)
        return f"{running}\nrun #{process.runs}"
    code, sig = status
    what = f"killed by signal {sig}" if sig is not None else f"exit {code}"
    lines = [what]
    if process.duration is not None:
        lines.append(f"ran {process.duration:.2f}s")
    if process.cmd is not None and process.cmd.ended_at:
        lines.append("ended " + time.strftime("%H:%M:%S", time.localtime(process.cmd.ended_at)))
    lines.append("ctrl+b r runs it again")
    return "\n".join(lines)


class ExitPanel(Panel):
    def __init__(self) -> None:
        super().__init__(id="exit-panel")
        self.border_title = "Exit status"
        self.body = Static("", id="exit-text")

    def compose(self) -> ComposeResult:
        yield self.body

    def show(self, process: Optional[PaneProcess]) -> None:
        self.body.update(Content(format_exit(process)))


class EnvPanel(Panel):
    """The command's environment (live from the agent), filtered as you type."""

    DEFAULT_CSS = """
    EnvPanel { height: 1fr; }
    EnvPanel Input { height: 3; margin: 0; }
    EnvPanel DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(id="env-panel")
        self.border_title = "Environment"
        self.filter = Input(placeholder="filter", id="env-filter")
        self.table: DataTable = DataTable(id="env-table", cursor_type="row", zebra_stripes=True)
        self._shown: tuple = ()
        self._process: Optional[PaneProcess] = None

    def compose(self) -> ComposeResult:
        yield self.filter
        yield self.table

    def on_mount(self) -> None:
        self.table.add_columns("name", "value")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.show(self._process)

    def show(self, process: Optional[PaneProcess]) -> None:
        self._process = process
        env = process.env if process is not None else {}
        needle = self.filter.value.lower()
        rows = tuple(sorted((k, v) for k, v in env.items()
                            if not needle or needle in k.lower() or needle in v.lower()))
        if rows == self._shown:
            return
        self._shown = rows
        self.table.clear()
        for key, value in rows:
            self.table.add_row(Text(key), Text(value))   # plain text: no markup from the guest
        self.border_subtitle = f"{len(rows)}/{len(env)}"
