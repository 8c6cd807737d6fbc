"""cctui: run commands in QEMU VMs, from Python or a full-screen multiplexer.

    import cctui
    with cctui.boot() as vm:
        print(vm.command("echo", "hello").output())
"""
from .api.blocking import Cmd, Instance
from .api.instance import InstanceState
from .context import Context
from .errors import (AlreadyClosed, Canceled, CopyError, DestinationNotFound, DirectoryNotFound,
                     Error, ExecutableNotFound, ExitError, HypervisorUnavailable, ImageError,
                     NotADirectory, NotRunning, PermissionDenied, ProtocolError, SourceNotFound,
                     StartFailed, StateError, Timeout)
from .launch import boot, connect, connect_local

__all__ = [
    "boot", "connect", "connect_local", "Instance", "Cmd", "Context", "Error", "ExitError", "NotRunning",
    "AlreadyClosed", "Timeout", "Canceled", "HypervisorUnavailable", "ExecutableNotFound",
    "DirectoryNotFound", "StartFailed", "ProtocolError", "ImageError", "StateError", "InstanceState",
    "CopyError", "SourceNotFound", "DestinationNotFound", "NotADirectory", "PermissionDenied",
]
__version__ = "0.1.0"
