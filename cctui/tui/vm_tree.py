"""The sidebar: VMs (state, accelerator, boot progress) and the commands in their panes."""
from __future__ import annotations

from typing import List, Set, Tuple

from rich.text import Text
from textual.widgets import Tree

from ..api.instance import AsyncInstance, InstanceState
from ..guest_text import LABEL_LIMIT, printable
from ..vm.network import label_of
from .pane_frame import describe_state
from ..server.pane_process import PaneProcess

STATE_ICON = {InstanceState.BOOTING: "◌", InstanceState.RUNNING: "●", InstanceState.STOPPED: "○",
              InstanceState.FAILED: "✗"}


def network_label(inst: AsyncInstance) -> str:
    """'net', 'net:restrict' (with published ports) or '' for a VM with no NIC."""
    return label_of(inst)


class VmTree(Tree):
    DEFAULT_CSS = """
    VmTree {
        width: 32;
        height: 1fr;
        border-right: vkey $primary 30%;
        background: $surface;
        padding: 0 0;
        overflow-x: hidden;
    }
    """

    def __init__(self) -> None:
        super().__init__("VMs", id="sidebar")
        self.show_root = False
        self.guide_depth = 2

    def rebuild(self, vms: List[AsyncInstance], panes: List[Tuple[str, int, PaneProcess]]) -> None:
        """vms: AsyncInstances; panes: (pane id, number, process)."""
        self.clear()
        for inst in vms:
            icon = STATE_ICON.get(inst.state, "?")
            accel = f" {inst.accel}" if inst.accel else ""
            accel += f" {inst.transport}" if inst.transport else ""
            net = network_label(inst)
            accel += f" {net}" if net else ""
            label = f"{icon} {inst.name}{accel} · {inst.state}"
            if inst.state == InstanceState.BOOTING:
                label += f": {inst.status_detail}"
            elif inst.state == InstanceState.FAILED and inst.error is not None:
                label += f": {inst.error}"
            node = self.root.add(Text(printable(label, LABEL_LIMIT)), data=("vm", inst.name), expand=True)
            shown: Set[int] = set()
            for pane_id, number, process in panes:
                if process.instance is not inst:
                    continue
                if process.cmd is not None:
                    shown.add(id(process.cmd))
                node.add_leaf(Text(f"{number}: {process.title} — {describe_state(process)}"),
                              data=("pane", pane_id))
            for cmd in inst.commands:
                if id(cmd) in shown or cmd.tty is None:
                    continue
                state = "running" if not cmd.exited else f"exited {cmd.exit_code()}"
                node.add_leaf(Text(printable(f"· {' '.join(cmd.argv)} — {state}", LABEL_LIMIT)),
                              data=("cmd", None))
