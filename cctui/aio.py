"""The asyncio API (what the TUI uses): the same objects the blocking facade wraps."""
from .api.cmd import AsyncCmd
from .api.instance import AsyncInstance
from .machine import boot_async as boot, connect_local

__all__ = ["boot", "connect_local", "AsyncInstance", "AsyncCmd"]
