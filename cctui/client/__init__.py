"""The client side of attach: copies of a server session's panes, VMs and layout.

:class:`Attachment` talks to the server; :class:`RemotePane`, :class:`RemoteModel`
and :class:`RemoteVm` stand in for the TUI's PaneProcess, TerminalModel and
AsyncInstance, so the same widgets draw a session that outlives the TUI.
"""
from .attachment import Attachment
from .checks import LayoutState, WindowState
from .remote_model import RemoteModel
from .remote_pane import RemotePane
from .remote_vm import RemoteVm

__all__ = ["Attachment", "LayoutState", "RemoteModel", "RemotePane", "RemoteVm", "WindowState"]
