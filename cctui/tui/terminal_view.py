"""TerminalView: draws one pane's terminal model with the Line API.

Only rows the model marks dirty (plus the rows the cursor left and entered) are
re-rendered; guest output is pumped into the model at most once per frame.
Keys, pastes and (when the guest asked for them) mouse events go to the guest;
otherwise the wheel scrolls the scrollback and a drag selects text to copy.
"""
from __future__ import annotations

import time

from typing import Dict, List, Optional, Tuple

from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..terminal import Cell
from .copy_cursor import CopyCursor
from .keys import encode_key, encode_mouse, encode_paste
from .messages import PaneChanged, PaneFocused, PaneTitleChanged
from ..server.pane_process import PaneProcess, PaneState
from .render import Painter, row_strip

FRAME = 1 / 60               # the focused pane redraws at most this often
BACKGROUND_FRAME = 1 / 20    # other panes: a flood there must not starve the one you type in
YIELD_FRAME = 1 / 10         # a pane yielding to typing elsewhere (typing_priority)
# A focused pane whose output has not paused for FLOOD_AFTER seconds, with no
# key typed into it meanwhile, is in a flood: nobody reads text scrolling at
# 60 fps, and each redraw of a scrolling pane costs the app a full composite
# that QEMU needs the CPU for (`cat` of 20 MB: 7 s at 60 fps, 5 s at 15 fps).
# Typing (vim with a key held down) keeps 60 fps.
FLOOD_AFTER = 0.5
FLOOD_FRAME = 1 / 20
Point = Tuple[int, int]   # (combined row, column)


class TerminalView(Widget, can_focus=True):
    DEFAULT_CSS = """
    TerminalView {
        width: 1fr;
        height: 1fr;
        min-height: 1;
        min-width: 1;
    }
    """

    scroll_back: reactive[int] = reactive(0, layout=False, repaint=True)
    copy_mode: reactive[bool] = reactive(False)

    def __init__(self, process: PaneProcess, painter: Painter, pane_id: str) -> None:
        super().__init__()
        self.process = process
        self.painter = painter
        self.pane_id = pane_id
        self._shown_title = ""
        # Drawn rows by view row: bounded by the view's height (a resize clears it), so a
        # plain dict; only the Painter's style cache, keyed by guest data, needs a bound.
        self._cache: Dict[int, Strip] = {}
        self._cursor_row: Optional[int] = None
        self._drawn_model = process.model
        self._flush_scheduled = False
        self._last_flush = 0.0
        self._burst_since = 0.0      # when output last started after a pause
        self._selecting = False
        self._sel_anchor: Optional[Point] = None
        self._sel_end: Optional[Point] = None
        self._mouse_button_down: Optional[int] = None
        self.matches: List[Tuple[int, int, int]] = []
        self.match_index = -1
        self.search_text = ""
        self.last_selection = ""
        self.copy_cursor: Optional[CopyCursor] = None
        self._sel_by_keys = False

    # -- geometry ------------------------------------------------------------------
    @property
    def model(self):
        return self.process.model

    def _top_row(self) -> int:
        return self.model.history_len - self.scroll_back

    def on_resize(self, event: events.Resize) -> None:
        width, height = event.size
        if width > 0 and height > 0:
            self.process.resize(height, width)
        self._invalidate()

    def set_painter(self, painter: Painter) -> None:
        self.painter = painter
        self._invalidate()

    def _invalidate(self) -> None:
        self._cache.clear()
        self.refresh()

    def rows_arrived(self) -> None:
        """Scrollback rows came from the server (an attached client): repaint, keeping
        where the user scrolled to (``redraw`` would go back to the bottom)."""
        self._invalidate()

    # -- output --------------------------------------------------------------------
    class OutputReady(Message):
        """Guest bytes are waiting (posted from the engine's context, handled in ours)."""

    def output_arrived(self) -> None:
        """Called (through the process) whenever guest bytes are buffered."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.post_message(self.OutputReady())

    def on_terminal_view_output_ready(self, message: "TerminalView.OutputReady") -> None:
        """Draw at once after a quiet spell (an echo), else at the frame rate (a flood)."""
        message.stop()
        wait = self._frame_interval() - (time.monotonic() - self._last_flush)
        if wait <= 0:
            self._flush()
        else:
            self.set_timer(wait, self._flush)

    def _frame_interval(self) -> float:
        if self.process.yielding:
            return YIELD_FRAME
        if not self.has_focus:
            return BACKGROUND_FRAME
        flooding = (self._last_flush - self._burst_since > FLOOD_AFTER
                    and self._last_flush - self.process.last_input > FLOOD_AFTER)
        return FLOOD_FRAME if flooding else FRAME

    def _flush(self) -> None:
        self._flush_scheduled = False
        now = time.monotonic()
        if now - self._last_flush > 2 * FLOOD_FRAME:     # output after a pause: a new burst
            self._burst_since = now
        self._last_flush = now
        self.follow_model()
        model = self.model
        before = model.history_len
        more = self.process.pump()
        if model.title != self._shown_title:          # OSC 0/2: the frame's title bar shows it
            self._shown_title = model.title
            self.post_message(PaneTitleChanged(self.pane_id))
        added = model.history_len - before
        if self.scroll_back and added:
            self.scroll_back = min(model.history_len, self.scroll_back + added)
        dirty = set(model.dirty)
        model.dirty.clear()
        cursor = model.cursor
        if self._cursor_row is not None:
            dirty.add(self._cursor_row)
        dirty.add(cursor.y)
        self._cursor_row = cursor.y
        if self.scroll_back or self._sel_anchor is not None or self.matches:
            self._invalidate()
        else:
            width = self.size.width
            for y in dirty:
                self._cache.pop(y, None)
                self.refresh(Region(0, y, width, 1))
        if more:
            self.set_timer(self._frame_interval(), self._flush)
            self._flush_scheduled = True

    def follow_model(self) -> None:
        """The process replaced its model (a new run): draw the new one from scratch."""
        if self.model is not self._drawn_model:
            self._drawn_model = self.model
            self.redraw()

    def redraw(self) -> None:
        """Everything (a new model after a re-run, a state change)."""
        self._cursor_row = None
        self.scroll_back = 0
        self.clear_selection()
        self._invalidate()

    # -- drawing ---------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        model = self.model
        cached = self._cache.get(y) if not self.scroll_back else None
        if cached is not None and cached.cell_length == width:
            return cached
        hist = model.history_len
        row = self._top_row() + y
        if row < 0 or row >= hist + model.rows:
            return Strip.blank(width, self.painter.default_style)
        strip = row_strip(self._row_cells(row), width, self.painter, self._marks(row, hist))
        if not self.scroll_back:
            self._cache[y] = strip
        return strip

    def _marks(self, row: int, hist: int):
        marks = []
        for mrow, start, end in self.matches:
            if mrow == row:
                marks.append((start, end, "match"))
        sel = self._selection_span(row)
        if sel is not None:
            marks.append((sel[0], sel[1], "selection"))
        cursor = self.model.cursor
        if self.copy_mode:
            copy = self.copy_cursor
            if copy is not None and copy.row == row:
                marks.append((copy.col, copy.col + 1, "cursor"))
        elif (row == hist + cursor.y and self.has_focus and not cursor.hidden
                and self.process.state == PaneState.RUNNING):
            marks.append((cursor.x, cursor.x + 1, "cursor"))
        return marks or None

    def on_focus(self) -> None:
        self._cache.clear()
        self.refresh()
        self._report_focus(True)
        self.post_message(PaneFocused(self.pane_id))

    def on_blur(self) -> None:
        self._cache.clear()
        self.refresh()
        self._report_focus(False)

    def _report_focus(self, focused: bool) -> None:
        """xterm focus reporting (DECSET 1004), which vim and tmux-in-the-guest ask for."""
        if self.model.focus_events:
            self.process.write(b"\x1b[I" if focused else b"\x1b[O")

    # -- keys --------------------------------------------------------------------------
    async def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if self.copy_mode:
            self._copy_mode_key(event.key)
            return
        data = encode_key(event.key, event.character, self.model.app_cursor_keys)
        if data is None:
            return
        if self.scroll_back:
            self.scroll_back = 0
            self._invalidate()
        self.process.type(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.paste(event.text)

    def paste(self, text: str) -> None:
        if text:
            self.process.type(encode_paste(text, self.model.bracketed_paste))

    # -- scrollback and copy mode -----------------------------------------------------------
    def scroll_by(self, lines: int) -> None:
        """Positive scrolls back into history."""
        new = max(0, min(self.model.history_len, self.scroll_back + lines))
        if new != self.scroll_back:
            self.scroll_back = new
            self._invalidate()

    def enter_copy_mode(self) -> None:
        self.copy_mode = True
        self._copy_cursor_here()
        self._invalidate()
        self.post_message(PaneChanged(self.pane_id))

    def leave_copy_mode(self) -> None:
        self.copy_mode = False
        self.copy_cursor = None
        self.scroll_back = 0
        self.matches = []
        self.clear_selection()
        self._invalidate()
        self.post_message(PaneChanged(self.pane_id))

    def _copy_cursor_here(self) -> CopyCursor:
        """The copy-mode cursor starts where the terminal's cursor is, as in tmux."""
        model = self.model
        hist = model.history_len
        cursor = model.cursor
        self.copy_cursor = CopyCursor(hist + cursor.y, cursor.x, hist + model.rows,
                                      self.size.width, self._row_text)
        return self.copy_cursor

    def _row_cells(self, row: int) -> List[Cell]:
        """A combined row: the scrollback's rows come first, then the screen's."""
        hist = self.model.history_len
        return self.model.history_line(row) if row < hist else self.model.line(row - hist)

    def _row_text(self, row: int) -> str:
        return "".join(cell.data for cell in self._row_cells(row))

    def _copy_mode_key(self, key: str) -> None:
        """tmux's vi copy mode: move, space or v to start a selection, y or enter to copy."""
        cur = self.copy_cursor or self._copy_cursor_here()
        cur.rows = self.model.history_len + self.model.rows    # output may have arrived
        cur.width = max(1, self.size.width)
        if key in ("space", "v"):
            self._sel_anchor = self._sel_end = cur.point
            self._sel_by_keys = True
        elif key in ("y", "enter"):
            text = self.selected_text()
            if text:
                self.last_selection = text
                self.app.copy_to_clipboard(text)
            self.leave_copy_mode()
            return
        elif key == "escape" and self._sel_anchor is not None:
            self.clear_selection()
        elif key in ("q", "escape"):
            self.leave_copy_mode()
            return
        elif key in ("n", "N", "shift+n"):
            self.next_match(-1 if key == "n" else 1)
        elif not cur.move(key, max(1, self.size.height - 1)):
            return
        if self._sel_anchor is not None and self._sel_by_keys:
            self._sel_end = cur.point                  # the selection follows the cursor
        self._keep_visible(cur.row)
        self._invalidate()
        self.post_message(PaneChanged(self.pane_id))

    def _keep_visible(self, row: int) -> None:
        hist, height = self.model.history_len, max(1, self.size.height)
        top = self._top_row()
        if row < top:
            top = row
        elif row >= top + height:
            top = row - height + 1
        self.scroll_back = max(0, min(hist, hist - top))

    def search(self, text: str) -> int:
        """Highlight ``text`` everywhere and jump to the newest hit; returns the hit count."""
        return self.show_matches(text, [(m.row, m.start, m.end) for m in self.model.search(text)]
                                 if text else [])

    def show_matches(self, text: str, matches: List[Tuple[int, int, int]]) -> int:
        """Highlight hits found elsewhere (an attached client asks the server, which
        holds the whole scrollback) and jump to the newest."""
        self.search_text = text
        self.matches = matches
        self.match_index = len(self.matches)
        if not self.copy_mode:
            self.copy_mode = True
            self._copy_cursor_here()
        self.next_match(-1)
        self._invalidate()
        return len(self.matches)

    def next_match(self, step: int) -> None:
        """step -1: the previous (older) hit, +1: the next (newer) one."""
        if not self.matches:
            return
        self.match_index = max(0, min(len(self.matches) - 1, self.match_index + step))
        row, start, _ = self.matches[self.match_index]
        if self.copy_cursor is not None:            # the cursor goes to the hit, as in tmux
            self.copy_cursor.row, self.copy_cursor.col = row, min(start, self.copy_cursor.width - 1)
        hist, height = self.model.history_len, self.size.height
        top = self._top_row()
        if not top <= row < top + height:
            wanted_top = max(0, row - height // 2)
            self.scroll_back = max(0, min(hist, hist - wanted_top))
        self._invalidate()

    # -- selection ----------------------------------------------------------------------------
    def _point(self, event: events.MouseEvent) -> Point:
        return (self._top_row() + max(0, event.y), max(0, min(event.x, self.size.width - 1)))

    def _selection_span(self, row: int) -> Optional[Tuple[int, int]]:
        if self._sel_anchor is None or self._sel_end is None:
            return None
        a, b = sorted((self._sel_anchor, self._sel_end))
        if not a[0] <= row <= b[0] or (a == b and not self._sel_by_keys):
            return None     # a click is not a selection; a keyboard one starts at one cell
        start = a[1] if row == a[0] else 0
        end = b[1] + 1 if row == b[0] else self.size.width
        return start, end

    def clear_selection(self) -> None:
        self._sel_by_keys = False
        if self._sel_anchor is not None:
            self._sel_anchor = self._sel_end = None
            self._invalidate()

    def selected_text(self) -> str:
        if self._sel_anchor is None or self._sel_end is None:
            return ""
        a, b = sorted((self._sel_anchor, self._sel_end))
        lines = []
        for row in range(a[0], b[0] + 1):
            span = self._selection_span(row) or (0, 0)
            text = "".join(c.data for c in self._row_cells(row)[span[0]:span[1]])
            lines.append(text.rstrip())
        return "\n".join(lines)

    # -- mouse ------------------------------------------------------------------------------------
    def _guest_wants_mouse(self, event: events.MouseEvent) -> bool:
        return (self.model.mouse_tracking != 0 and not event.shift
                and self.process.state == PaneState.RUNNING and not self.copy_mode)

    def _report_mouse(self, event: events.MouseEvent, button: int, press: bool, motion: bool) -> None:
        data = encode_mouse(button, max(0, event.x), max(0, event.y), press, motion,
                            self.model.mouse_sgr, event.shift, event.meta, event.ctrl)
        if data:
            self.process.type(data)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        event.stop()
        self.focus()
        if self._guest_wants_mouse(event):
            self._mouse_button_down = event.button - 1
            self.capture_mouse()
            self._report_mouse(event, event.button - 1, True, False)
            return
        if event.button == 1:
            self.clear_selection()
            self._selecting = True
            self._sel_anchor = self._sel_end = self._point(event)
            self._sel_by_keys = False
            self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._mouse_button_down is not None:
            if self.model.mouse_tracking in (1002, 1003):
                self._report_mouse(event, self._mouse_button_down, True, True)
            return
        if self._guest_wants_mouse(event) and self.model.mouse_tracking == 1003:
            self._report_mouse(event, 3, True, True)
            return
        if self._selecting:
            if event.y < 0:
                self.scroll_by(1)
            elif event.y >= self.size.height:
                self.scroll_by(-1)
            self._sel_end = self._point(event)
            self._invalidate()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        event.stop()
        if self._mouse_button_down is not None:
            self._report_mouse(event, self._mouse_button_down, False, False)
            self._mouse_button_down = None
            self.release_mouse()
            return
        if self._selecting:
            self._selecting = False
            self.release_mouse()
            self._sel_end = self._point(event)
            text = self.selected_text()
            if text:
                self.last_selection = text
                self.app.copy_to_clipboard(text)
            else:
                self.clear_selection()

    def _wheel(self, event: events.MouseEvent, up: bool) -> None:
        event.stop()
        event.prevent_default()
        if self._guest_wants_mouse(event):
            self._report_mouse(event, 64 if up else 65, True, False)
        elif self.model.alternate_screen and not self.copy_mode:
            # xterm's alternateScroll: a pager in the alternate screen gets arrow keys
            key = encode_key("up" if up else "down", None, self.model.app_cursor_keys)
            self.process.type((key or b"") * 3)
        else:
            self.scroll_by(3 if up else -3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, True)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, False)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height
