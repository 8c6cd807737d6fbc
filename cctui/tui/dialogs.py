"""Small modal dialogs: a new pane (VM + command), boot a VM, search the scrollback."""
from __future__ import annotations

import shlex
from typing import List, NamedTuple, Optional, Tuple

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select


class Dialog(ModalScreen):
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical {
        width: 72; max-width: 95%; height: auto;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    Dialog Label { margin-top: 1; }
    Dialog Horizontal { height: auto; margin-top: 1; }
    Dialog Button { margin-right: 1; }
    Dialog #memory, Dialog #cpus { width: 12; margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


class NewPaneDialog(Dialog):
    """Returns (vm name, argv or None for the default shell, "row"|"column") or None."""

    def __init__(self, vms: List[str], current: Optional[str]) -> None:
        super().__init__()
        self.vms = vms
        self.current = current if current in vms else (vms[0] if vms else None)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]New pane[/b]")
            yield Label("VM")
            yield Select([(name, name) for name in self.vms], value=self.current,
                         allow_blank=False, id="vm")
            yield Label("Command (empty: the VM's shell)")
            yield Input(placeholder="e.g. htop, vim /etc/hosts, python3", id="command")
            with Horizontal():
                yield Button("Split right", id="row", variant="primary")
                yield Button("Split down", id="column")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()

    def _result(self, direction: str) -> Optional[Tuple[str, Optional[List[str]], str]]:
        vm = self.query_one("#vm", Select).value
        text = self.query_one("#command", Input).value.strip()
        try:
            argv = shlex.split(text) if text else None
        except ValueError as exc:
            self.notify(f"cannot parse the command: {exc}", severity="error", markup=False)
            return None
        return (str(vm), argv, direction)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        result = self._result("row")
        if result is not None:
            self.dismiss(result)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        result = self._result(event.button.id or "row")
        if result is not None:
            self.dismiss(result)


class BootChoice(NamedTuple):
    image: str
    net: bool
    memory_mb: int
    cpus: int


# What the dialog accepts (QEMU itself refuses less memory than a kernel needs
# with a boot error; these bounds only catch typing mistakes before a boot).
MEMORY_RANGE = (128, 1 << 20)
CPUS_RANGE = (1, 64)


class BootDialog(Dialog):
    """Returns a BootChoice (image, network, memory, CPUs), or None.  A value out
    of range keeps the dialog open and says which field is wrong."""

    def __init__(self, image: str, memory_mb: int = 1024, cpus: int = 2) -> None:
        super().__init__()
        self.image, self.memory_mb, self.cpus = image, memory_mb, cpus

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Boot another VM[/b]")
            yield Label("Image ('host', an OCI layout or tarball, a rootfs directory)")
            yield Input(value=self.image, id="image")
            yield Checkbox("Network (QEMU user-mode NIC; off: no NIC at all)", False, id="net")
            with Horizontal():
                yield Label("Memory (MiB)")
                yield Input(value=str(self.memory_mb), type="integer", id="memory")
                yield Label("CPUs")
                yield Input(value=str(self.cpus), type="integer", id="cpus")
            with Horizontal():
                yield Button("Boot", id="boot", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#image", Input).focus()

    def _number(self, field: str, name: str, bounds: Tuple[int, int]) -> Optional[int]:
        text = self.query_one(f"#{field}", Input).value.strip()
        low, high = bounds
        if text.isdigit() and low <= int(text) <= high:
            return int(text)
        self.notify(f"{name} must be a whole number from {low} to {high}", severity="error",
                    markup=False)
        self.query_one(f"#{field}", Input).focus()
        return None

    def _result(self) -> Optional[BootChoice]:
        memory = self._number("memory", "Memory (MiB)", MEMORY_RANGE)
        cpus = self._number("cpus", "CPUs", CPUS_RANGE) if memory is not None else None
        if memory is None or cpus is None:
            return None
        return BootChoice(self.query_one("#image", Input).value.strip() or self.image,
                          self.query_one("#net", Checkbox).value, memory, cpus)

    def _boot(self) -> None:
        choice = self._result()
        if choice is not None:
            self.dismiss(choice)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._boot()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "boot":
            self._boot()
        else:
            self.dismiss(None)


class SearchDialog(ModalScreen):
    """A one-line prompt at the bottom, like tmux's copy-mode search (and its
    rename-window prompt: pass another placeholder)."""

    DEFAULT_CSS = """
    SearchDialog { align: center bottom; background: transparent; }
    SearchDialog Input { width: 100%; border: tall $accent; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, last: str = "", placeholder: str = "search the scrollback") -> None:
        super().__init__()
        self.last = last
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        yield Input(value=self.last, placeholder=self.placeholder, id="search")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
