"""The prefix keymap (tmux style): press the prefix, then one of these keys.

Every key that does not follow the prefix goes to the focused guest program.
The help screen and the command palette are generated from this table. Users
change it in ``~/.config/cctui/keys.toml`` (see :func:`load_keymap`)::

    prefix = "ctrl+a"
    [bind]
    zoom = "m"                  # replaces the action's keys
    split_right = ["|", "%"]
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..paths import config_dir

try:
    from textual.keys import _character_to_key
except ImportError:             # a Textual that renamed it: match by character only
    def _character_to_key(character: str) -> str:
        return character
from .themes import tomllib

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
    KeyAction(("C", "shift+c"), "new_pane", "New pane: choose VM and command", "Panes"),
    KeyAction(("x",), "close_pane", "Close the focused pane (kills its command)", "Panes"),
    KeyAction(("z",), "zoom", "Zoom / unzoom the focused pane", "Panes"),
    KeyAction(("r",), "rerun", "Re-run the exited command in this pane", "Panes"),
    KeyAction(("c",), "new_window", "New window: a shell in the focused pane's VM", "Windows"),
    KeyAction(("n",), "next_window", "Next window", "Windows"),
    KeyAction(("p",), "previous_window", "Previous window", "Windows"),
    KeyAction(tuple("0123456789"), "select_window", "Window 0-9", "Windows"),
    KeyAction(("comma", ","), "rename_window", "Rename the window (empty: named after its pane)", "Windows"),
    KeyAction(("ampersand", "&"), "kill_window", "Close the window and its panes (asks first)", "Windows"),
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
    KeyAction(("colon", ":"), "palette", "Command palette (every action)", "App"),
    KeyAction(("question_mark", "?"), "help", "This help", "App"),
    KeyAction(("d",), "detach", "Detach: the session and its VMs go on (cctui attach)", "App"),
    KeyAction(("q",), "quit", "Quit: end the session, power its VMs off", "App"),
]


def display_keys(item: KeyAction) -> str:
    """The keys as a user types them: the printable ones first."""
    if item.keys == tuple("0123456789"):
        return "0-9"
    shown = [k for k in item.keys if len(k) == 1 or k.startswith("ctrl+") or k in
             ("left", "right", "up", "down")]
    return " ".join(dict.fromkeys(shown)) or item.keys[0]


KEYS_FILE = "keys.toml"
_PREFIX = re.compile(r"ctrl\+[a-z]")


def _key_name(key: str) -> str:
    """What Textual calls a typed character in its key events ("|" -> "vertical_line"):
    Textual's own naming, so every character works, not a hand-kept list. The app
    also matches a key by its character, so without it only clash checks lose."""
    return _character_to_key(key) if len(key) == 1 else key


class KeymapError(ValueError):
    """The user's keys file cannot be used (the defaults are kept)."""


@dataclass
class Keymap:
    prefix: str
    actions: List[KeyAction]

    def table(self) -> Dict[str, KeyAction]:
        table: Dict[str, KeyAction] = {}
        for item in self.actions:
            for key in item.keys:
                table[key] = item
        return table


def default_keymap() -> Keymap:
    return Keymap(DEFAULT_PREFIX, list(ACTIONS))


def load_keymap(path: Optional[Path] = None) -> Keymap:
    """The defaults changed by the user's keys file, if there is one.

    Raises KeymapError naming the file and the problem: an unknown action, a
    key bound twice, a prefix that is not ctrl+letter (the only prefixes that can
    also be sent to the guest by pressing them twice).
    """
    path = path or config_dir() / KEYS_FILE
    if not path.exists():
        return default_keymap()
    if tomllib is None:
        raise KeymapError(f"{path}: reading it needs Python 3.11 or tomli")
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise KeymapError(f"{path}: {exc}") from None
    unknown = set(data) - {"prefix", "bind"}
    if unknown:
        raise KeymapError(f"{path}: unknown setting {sorted(unknown)[0]!r} (prefix, [bind])")
    prefix = data.get("prefix", DEFAULT_PREFIX)
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise KeymapError(f"{path}: prefix must be ctrl+<letter>, like \"ctrl+a\" (got {prefix!r})")
    bind = data.get("bind", {})
    if not isinstance(bind, dict):
        raise KeymapError(f"{path}: [bind] must be a table of action = key(s)")
    by_action = {item.action: item for item in ACTIONS}
    actions = []
    for item in ACTIONS:
        if item.action not in bind:
            actions.append(item)
            continue
        keys = bind[item.action]
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
            raise KeymapError(f"{path}: {item.action} must be a key or a list of keys")
        names = tuple(dict.fromkeys(k for key in keys for k in (key, _key_name(key))))
        actions.append(dataclasses.replace(item, keys=names))
    for name in bind:
        if name not in by_action:
            raise KeymapError(f"{path}: no action {name!r}; actions: {', '.join(sorted(by_action))}")
    seen: Dict[str, str] = {}
    for item in actions:
        for key in item.keys:
            if key in seen and seen[key] != item.action:
                raise KeymapError(f"{path}: {key!r} is bound to both {seen[key]} and {item.action}")
            seen[key] = item.action
    if prefix in seen:
        raise KeymapError(f"{path}: the prefix {prefix} is also bound to {seen[prefix]}")
    return Keymap(prefix, actions)
