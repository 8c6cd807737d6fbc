"""The help screen: every prefix binding, generated from the keymap."""
from __future__ import annotations

from typing import List

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from .keymap import KeyAction, display_keys


def help_text(prefix: str, actions: List[KeyAction]) -> Content:
    """The help as Content: key names go in as template values, never parsed as markup
    (``[`` and ``]`` are keys; textual.markup.escape leaves a lone ``[`` that then
    swallows the ``[/b]`` after it)."""
    lines = [Content.from_markup("[b]cctui[/b] — every key goes to the focused guest program, "
                                 "except after the prefix [b]$prefix[/b].", prefix=prefix),
             Content.from_markup("[dim]$prefix $prefix sends the prefix itself to the guest; "
                                 "Esc cancels the prefix.[/dim]", prefix=prefix),
             Content("")]
    group = None
    for item in actions:
        if item.group != group:
            group = item.group
            lines.append(Content.from_markup("[b $accent]$group[/]", group=group))
        lines.append(Content.from_markup("  $prefix [b]$keys[/b] $description [dim]$action[/dim]",
                                         prefix=prefix, keys=f"{display_keys(item):<14}",
                                         description=item.description, action=item.action))
    lines.append(Content.from_markup(FIXED_HELP))
    return Content("\n").join(lines)


FIXED_HELP = """
[b $accent]Copy mode[/] (tmux's vi keys)
  h j k l / arrows move · w b e words · 0 ^ $ line · g G top, bottom
  ctrl+u ctrl+d half page · ctrl+b ctrl+f / pgup pgdn page · n N search hits
  space or v starts a selection · y or enter copies and leaves · Esc, q leave

[b $accent]Mouse[/]
  click a pane to focus it; drag a divider to resize
  wheel scrolls the scrollback (or goes to the guest if it asked for the mouse)
  drag selects and copies; shift+drag selects even when the guest has the mouse

[dim]The dim names are what ~/.config/cctui/keys.toml binds. Esc, q or ? closes this help[/dim]"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 92; max-width: 95%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, prefix: str, actions: List[KeyAction]) -> None:
        super().__init__()
        self.prefix = prefix
        self.actions = actions

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_text(self.prefix, self.actions), id="help-text")
