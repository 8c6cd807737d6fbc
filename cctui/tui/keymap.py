"""The prefix keymap (tmux style): press the prefix, then one of these keys.

Every key that does not follow the prefix goes to the focused guest program.
The help screen and the command palette are generated from this table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

DEFAULT_PREFIX = "ctrl+b"


@dataclass(frozen=True)
class KeyAction:
    keys: Tuple[str, ...]       # Textual key names accepted after the prefix
    action: str                 # app action (method action_<name>)
    description: str
    group: str


ACTIONS: List[KeyAction] = [
    KeyAction(("percent_sign", "vertical_line", "%", "|"), "split_right", "Split: new shell to the right", "Panes"),
    KeyAction(("quotation_mark", "minus", '"', "-"), "split_down", "Split: new shell below", "Panes"),
    KeyAction(("c",), "new_pane", "New pane: choose VM and command", "Panes"),
    KeyAction(("x",), "close_pane", "Close the focused pane (kills its command)", "Panes"),
    KeyAction(("z",), "zoom", "Zoom / unzoom the focused pane", "Panes"),
    KeyAction(("r",), "rerun", "Re-run the exited command in this pane", "Panes"),
    KeyAction(("left", "h"), "focus_left", "Focus the pane to the left", "Focus"),
    KeyAction(("right", "l"), "focus_right", "Focus the pane to the right", "Focus"),
    KeyAction(("up", "k"), "focus_up", "Focus the pane above", "Focus"),
    KeyAction(("down", "j"), "focus_down", "Focus the pane below", "Focus"),
    KeyAction(("o",), "focus_next", "Focus the next pane", "Focus"),
    KeyAction(("semicolon", ";"), "focus_last", "Focus the previously focused pane", "Focus"),
    KeyAction(("ctrl+left", "H", "shift+h"), "grow_left", "Resize: move the split left", "Resize"),
    KeyAction(("ctrl+right", "L", "shift+l"), "grow_right", "Resize: move the split right", "Resize"),
    KeyAction(("ctrl+up", "K", "shift+k"), "grow_up", "Resize: move the split up", "Resize"),
    KeyAction(("ctrl+down", "J", "shift+j"), "grow_down", "Resize: move the split down", "Resize"),
    KeyAction(("left_square_bracket", "["), "copy_mode", "Scrollback / copy mode (q leaves)", "Scrollback"),
    KeyAction(("slash", "/"), "search", "Search the scrollback (n / N: older / newer)", "Scrollback"),
    KeyAction(("right_square_bracket", "]"), "paste_selection", "Paste the last selection", "Scrollback"),
    KeyAction(("v",), "boot_vm", "Boot another VM", "VMs"),
    KeyAction(("S", "shift+s"), "shutdown_vm", "Shut down the focused pane's VM", "VMs"),
    KeyAction(("b",), "toggle_sidebar", "Show / hide the VM sidebar", "View"),
    KeyAction(("e",), "toggle_env", "Show / hide the environment panel", "View"),
    KeyAction(("w",), "toggle_cwd", "Show / hide the working-directory panel", "View"),
    KeyAction(("i",), "toggle_exit", "Show / hide the exit-status panel", "View"),
    KeyAction(("t",), "next_theme", "Next theme (the palette lists them all)", "View"),
    KeyAction(("colon", ":", "p"), "palette", "Command palette (every action)", "App"),
    KeyAction(("question_mark", "?"), "help", "This help", "App"),
    KeyAction(("q",), "quit", "Quit (powers the VMs off)", "App"),
]


def key_table() -> Dict[str, KeyAction]:
    table: Dict[str, KeyAction] = {}
    for item in ACTIONS:
        for key in item.keys:
            table[key] = item
    return table


def display_keys(item: KeyAction) -> str:
    """The keys as a user types them: the printable ones first."""
    shown = [k for k in item.keys if len(k) == 1 or k.startswith("ctrl+") or k in
             ("left", "right", "up", "down")]
    return " ".join(dict.fromkeys(shown)) or item.keys[0]
