"""PaneLayout: places PaneFrames where the LayoutTree says and draws the dividers.

Panes are absolutely positioned children (never re-parented); dividers are drawn
by this widget itself and can be dragged with the mouse to resize a split.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from rich.segment import Segment
from textual import events
from textual.strip import Strip
from textual.widget import Widget

from .layout_tree import Divider, LayoutTree
from .messages import DividerMoved
from .pane_frame import PaneFrame


class PaneLayout(Widget):
    DEFAULT_CSS = """
    PaneLayout {
        width: 1fr;
        height: 1fr;
        background: $background;
        color: $primary 50%;
    }
    PaneLayout > PaneFrame {
        position: absolute;
    }
    """

    def __init__(self, number: int = 0) -> None:
        super().__init__(id=f"window-{number}")
        self.number = number             # what ctrl+b <digit> selects, as tmux numbers windows
        self.active: Optional[str] = None  # the pane focused last in this window
        self.window_name = ""            # set by the user; empty: named after its pane
        self.layout_tree = LayoutTree()
        self.frames: Dict[str, PaneFrame] = {}
        self.zoomed: Optional[str] = None
        self._dividers: List[Divider] = []
        self._drag: Optional[Divider] = None
        self._drag_pos = 0
        self.empty_text = "no panes: ctrl+b c opens one, ctrl+b ? lists the keys"

    @property
    def area(self):
        return (self.size.width, self.size.height)

    async def add_frame(self, frame: PaneFrame, beside: Optional[str], direction: str) -> None:
        self.frames[frame.pane_id] = frame
        self.layout_tree.add(frame.pane_id, beside, direction)
        self.zoomed = None
        await self.mount(frame)
        self.relayout()

    async def remove_frame(self, pane_id: str) -> None:
        frame = self.frames.pop(pane_id, None)
        self.layout_tree.remove(pane_id)
        if self.zoomed == pane_id:
            self.zoomed = None
        if frame is not None:
            await frame.remove()
        self.relayout()

    def toggle_zoom(self, pane_id: str) -> None:
        self.zoomed = None if self.zoomed == pane_id else pane_id
        self.relayout()

    def relayout(self) -> None:
        width, height = self.area
        if width <= 0 or height <= 0:      # hidden, or not laid out yet: no place to give
            for frame in self.frames.values():
                frame.display = False       # (a frame shown meanwhile gets a passing size,
            return                          # and its pane a resize it did not need)
        regions, self._dividers = self.layout_tree.regions((width, height))
        for pane_id, frame in self.frames.items():
            frame.zoomed = self.zoomed == pane_id
            region = regions.get(pane_id)
            if self.zoomed is not None:
                region = regions[pane_id].__class__(0, 0, width, height) if pane_id == self.zoomed else None
            if region is None or region.width <= 0 or region.height <= 0:
                frame.display = False
                continue
            frame.display = True
            frame.styles.offset = (region.x, region.y)
            frame.styles.width = region.width
            frame.styles.height = region.height
            frame.update_title()
        if self.zoomed is not None:
            self._dividers = []
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.relayout()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.rich_style
        if not self.frames and y == self.size.height // 2:
            text = self.empty_text[:width].center(width)
            return Strip([Segment(text, style)], width)
        cells = [" "] * width
        for divider in self._dividers:
            r = divider.region
            if not r.y <= y < r.bottom:
                continue
            if r.width == 1 and r.height >= 1 and divider.split.direction == "row":
                if 0 <= r.x < width:
                    cells[r.x] = "│"
            else:
                for x in range(max(0, r.x), min(width, r.right)):
                    cells[x] = "─" if cells[x] == " " else "┼"
        return Strip([Segment("".join(cells), style)], width)

    # -- dragging a divider ------------------------------------------------------
    def _divider_at(self, x: int, y: int) -> Optional[Divider]:
        for divider in self._dividers:
            if divider.region.contains(x, y):
                return divider
        return None

    def on_mouse_down(self, event: events.MouseDown) -> None:
        divider = self._divider_at(event.x, event.y)
        if divider is not None:
            self._drag = divider
            self._drag_pos = event.x if divider.split.direction == "row" else event.y
            self.capture_mouse()
            event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag is None:
            return
        pos = event.x if self._drag.split.direction == "row" else event.y
        delta = pos - self._drag_pos
        if delta:
            self.layout_tree.move_divider(self._drag, delta, self.area)
            self._drag_pos = pos
            split, index = self._drag.split, self._drag.index
            self.relayout()
            self._drag = next((d for d in self._dividers
                               if d.split is split and d.index == index), None)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag is not None:
            self._drag = None
            self.release_mouse()
            self.post_message(DividerMoved(self.number))
