"""The notice that covers the app when the terminal is too small to be useful."""
from __future__ import annotations

from textual.widgets import Static

MIN_WIDTH, MIN_HEIGHT = 40, 10


class TooSmallNotice(Static):
    """Shown instead of squashed panes; the panes and their commands keep running."""

    DEFAULT_CSS = """
    TooSmallNotice {
        layer: notice;
        display: none;
        width: 100%;
        height: 100%;
        content-align: center middle;
        text-align: center;
        background: $panel;
        color: $warning;
    }
    TooSmallNotice.-shown { display: block; }
    """

    def check(self, width: int, height: int) -> bool:
        """Show or hide for this terminal size; True when the terminal is too small."""
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.set_class(small, "-shown")
        if small:
            self.update(f"terminal too small ({width}x{height}): "
                        f"cctui needs at least {MIN_WIDTH}x{MIN_HEIGHT}")
        return small
