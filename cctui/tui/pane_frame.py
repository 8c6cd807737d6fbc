"""PaneFrame: a title line (pane number, VM, command, state) over a TerminalView."""
from __future__ import annotations


from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from ..api.instance import InstanceState
from ..guest_text import LABEL_LIMIT, printable
from ..server.pane_process import PaneProcess, PaneState
from .render import Painter
from .terminal_view import TerminalView


def describe_state(process: PaneProcess) -> str:
    inst = process.instance
    if process.state == PaneState.STARTING and inst.state == InstanceState.BOOTING:
        return f"{inst.name} booting: {printable(inst.status_detail, LABEL_LIMIT)}"
    if process.state == PaneState.EXITED:
        status = process.exit_status
        if status and status[1] is not None:
            return f"killed by signal {status[1]}"
        return f"exited {status[0] if status else '?'}"
    if process.state == PaneState.FAILED:
        return f"failed: {process.error}"
    return str(process.state)


class PaneTitle(Static):
    DEFAULT_CSS = """
    PaneTitle {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    PaneFrame.-focused PaneTitle {
        background: $primary;
        color: $background;
        text-style: bold;
    }
    PaneFrame.-exited PaneTitle { background: $warning 40%; }
    PaneFrame.-failed PaneTitle { background: $error 60%; color: $text; }
    """


class PaneFrame(Vertical):
    DEFAULT_CSS = """
    PaneFrame {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self, pane_id: str, number: int, process: PaneProcess, painter: Painter) -> None:
        # a server's pane ids are tmux's ("%3"), not Textual identifiers
        super().__init__(id=pane_id if not pane_id.startswith("%") else f"pane-{pane_id[1:]}")
        self.pane_id = pane_id
        self.number = number
        self.process = process
        self.view = TerminalView(process, painter, pane_id)
        self.title_bar = PaneTitle("")
        self.zoomed = False

    def compose(self) -> ComposeResult:
        yield self.title_bar
        yield self.view

    def on_mount(self) -> None:
        self.update_title()

    def update_title(self) -> None:
        process = self.process
        state = describe_state(process)
        flags = []
        if self.zoomed:
            flags.append("Z")
        if self.view.copy_mode:
            flags.append(f"copy {self.view.scroll_back}/{process.model.history_len}")
        if self.view.search_text and self.view.matches:
            flags.append(f"/{self.view.search_text} {self.view.match_index + 1}/{len(self.view.matches)}")
        title = process.guest_title
        text = f" {self.number} {process.instance.name}: {process.title} — {state}"
        running = process.running_label
        if running:
            text += f" — {running}"
        if title:
            text += f" — {title}"
        if flags:
            text += "  [" + " · ".join(flags) + "]"
        self.title_bar.update(Content(text), layout=False)     # one row, whatever it says
        self.set_class(process.state == PaneState.EXITED, "-exited")
        self.set_class(process.state == PaneState.FAILED, "-failed")

    def mark_focused(self, focused: bool) -> None:
        self.set_class(focused, "-focused")
