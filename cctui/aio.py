"""The asyncio API (what the TUI uses): the same objects the blocking facade wraps."""
from .api.cmd import AsyncCmd
from .api.instance import AsyncInstance
from .server.remote import connect_async as connect
from .vm.local import connect_local
from .vm.machine import boot_async as boot

__all__ = ["boot", "connect", "connect_local", "AsyncInstance", "AsyncCmd"]
