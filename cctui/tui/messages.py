"""Messages the widgets post to the app (communication goes up as messages)."""
from __future__ import annotations

from textual.message import Message


class PaneFocused(Message):
    def __init__(self, pane_id: str) -> None:
        super().__init__()
        self.pane_id = pane_id


class PaneChanged(Message):
    """A pane's process changed state, cwd or environment."""

    def __init__(self, pane_id: str) -> None:
        super().__init__()
        self.pane_id = pane_id


class PaneTitleChanged(Message):
    """The guest set a new title (OSC 0/2): only the pane's title bar redraws.

    A guest may retitle every frame; the sidebar, panels and layout stay put."""

    def __init__(self, pane_id: str) -> None:
        super().__init__()
        self.pane_id = pane_id

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PaneTitleChanged) and message.pane_id == self.pane_id


class VmChanged(Message):
    """A VM's state or boot progress changed."""

    def __init__(self, vm_name: str) -> None:
        super().__init__()
        self.vm_name = vm_name


class DividerMoved(Message):
    """A divider drag ended in a window: an attached client tells the server the weights."""

    def __init__(self, window_number: int) -> None:
        super().__init__()
        self.window_number = window_number
