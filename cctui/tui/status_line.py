"""The status line: prefix state, windows, focused pane, VMs, and where help is."""
from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from ..guest_text import FIELD_LIMIT, printable


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine {
        dock: bottom;
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def show(self, *, prefix: str, pending: bool, windows: str, pane: str, vms: str,
             theme: str) -> None:
        windows, pane, vms = (escape(printable(part, FIELD_LIMIT)) for part in (windows, pane, vms))
        mode = f"[b reverse $accent] {prefix} [/]" if pending else f"[dim] {prefix} [/]"
        text = (f"{mode} [b]{windows}[/b]  [dim]│[/] {pane}  [dim]│[/] {vms}  [dim]│ theme {theme} │ "
                f"{prefix} ? help · {prefix} : palette[/]")
        self.update(text)
