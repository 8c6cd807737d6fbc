"""The status line: prefix state, windows, focused pane, VMs, and where help is."""
from __future__ import annotations

from textual.content import Content
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
        """Markup only for our own styling; every outside text is a plain ``Content``
        (no escape function covers every shape of Textual's markup: ``x[6n ...[/]`` isn't)."""
        def plain(text: str) -> Content:
            return Content(printable(text, FIELD_LIMIT))

        key = Content(f" {prefix} ")
        mode = key.stylize("b reverse $accent") if pending else key.stylize("dim")
        self.update(Content.assemble(
            mode, " ", plain(windows).stylize("b"), "  ", Content("│").stylize("dim"), " ",
            plain(pane), "  ", Content("│").stylize("dim"), " ", plain(vms), "  ",
            Content(f"│ theme {theme} │ {prefix} ? help · {prefix} : palette").stylize("dim")),
            layout=False)                                   # one docked row, whatever it says
