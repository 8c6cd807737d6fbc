"""RemoteVm: a VM of the attached session as the pane frame and the VM tree read it.

Stands in for ``AsyncInstance`` where the TUI only shows facts (name, image,
state, boot detail, error); the server owns the VM.
"""
from __future__ import annotations

from typing import Any, List, Optional

from ..api.instance import InstanceState
from .checks import VmInfo


class RemoteVm:
    def __init__(self, name: str, image: str = "", state: InstanceState = InstanceState.BOOTING,
                 status_detail: str = "", error: Optional[str] = None) -> None:
        self.name = name
        self.image = image
        self.state = state
        self.status_detail = status_detail
        self.error = error
        # Read by the VM tree for a local VM; a remote one shows none of these.
        self.accel = ""
        self.transport = ""
        self.commands: List[Any] = []

    def update(self, info: VmInfo) -> bool:
        """Take a LAYOUT's facts; True if anything shown changed."""
        new = (info.image, info.state, info.detail, info.error)
        old = (self.image, self.state, self.status_detail, self.error)
        self.image, self.state, self.status_detail, self.error = new
        return new != old

    def __repr__(self) -> str:
        return f"RemoteVm({self.name!r}, {self.state})"
