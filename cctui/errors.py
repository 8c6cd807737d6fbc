"""The error types of the library: one base class, the cc sentinel errors as subclasses.

Catch ``Error`` for any failure cctui reports on purpose. ``StateError`` is a
call made in the wrong state (it names the actual and the required states);
``NotRunning`` is the StateError of an instance, so ``except NotRunning``
also catches a VM that died under a call. ``TransitionError`` is outside the
tree on purpose: it is a bug in cctui, not a condition to handle.

 |   Exception
 |    +-- Error
 |    |    +-- StateError
 |    |    |    +-- NotRunning
 |    |    |         +-- AlreadyClosed
 |    |    +-- ExitError
 |    |    +-- Timeout
 |    |    +-- Canceled
 |    |    +-- HypervisorUnavailable
 |    |    +-- ExecutableNotFound
 |    |    +-- DirectoryNotFound
 |    |    +-- StartFailed
 |    |    +-- ProtocolError
 |    |    +-- ImageError
 |    |    +-- CopyError
 |    |         +-- SourceNotFound
 |    |         +-- DestinationNotFound
 |    |         +-- NotADirectory
 |    |         +-- PermissionDenied
 |    +-- RuntimeError
 |         +-- TransitionError

(``tests/test_instance_states.py`` checks this drawing against the classes.)
"""
from __future__ import annotations

from typing import Any, Optional, Tuple


class Error(Exception):
    """Base of every error cctui raises on purpose."""


class StateError(Error):
    """A method was called in a state that does not allow it.

    ``state`` is the object's state at the call and ``required`` the states the
    method needs (both None/empty where the error was not raised by a state
    check, e.g. a VM that died under a running command).
    """

    def __init__(self, message: str, state: Any = None, required: Tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.state = state
        self.required = required


class ExitError(Error):
    """The command ran and exited non-zero (or was killed by a signal).

    ``output`` holds what was captured before the exit (for ``output()`` and
    ``combined_output()``), ``stderr`` the captured standard error where it was
    not redirected elsewhere.
    """

    def __init__(self, exit_code: int, signal: Optional[int] = None,
                 output: bytes = b"", stderr: bytes = b"") -> None:
        self.exit_code = exit_code
        self.signal = signal
        self.output = output
        self.stderr = stderr
        what = f"signal: {signal}" if signal else f"exit status {exit_code}"
        super().__init__(what)


class NotRunning(StateError):
    """The VM is not running (never started, stopped, or died under us)."""


class AlreadyClosed(NotRunning):
    """The instance was closed by its owner."""


class Timeout(Error):
    """A deadline passed: the context's timeout, a boot timeout, a silent agent."""


class Canceled(Error):
    """The context was cancelled; the guest process group was killed."""


class HypervisorUnavailable(Error):
    """QEMU is missing or the requested accelerator cannot be used."""


class ExecutableNotFound(Error):
    """The command's executable does not exist in the guest (raised at start)."""

    def __init__(self, name: str, message: str = "") -> None:
        self.name = name
        super().__init__(message or f"executable file not found in $PATH: {name}")


class DirectoryNotFound(Error):
    """The working directory given with ``set_dir`` does not exist in the guest."""


class StartFailed(Error):
    """The guest could not start the command for another reason (permission, user)."""


class ProtocolError(Error):
    """The guest agent broke the wire protocol; its VM's session was ended."""


class ImageError(Error):
    """An image argument could not be turned into a bootable root filesystem."""


class CopyError(Error):
    """A copy (``copy_to``/``copy_from``, ``cctui cp``) failed on ``path``.

    ``side`` says where that path is ("host" or "guest"), so a message can name
    the bad part; ``errno`` is the OS error behind it, 0 where there is none.
    """

    def __init__(self, message: str, path: str = "", side: str = "", errno: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.side = side
        self.errno = errno


class SourceNotFound(CopyError):
    """The path to copy from does not exist."""


class DestinationNotFound(CopyError):
    """The directory the copy should land in does not exist."""


class NotADirectory(CopyError):
    """A path that had to be a directory is not one (or a directory would replace a file)."""


class PermissionDenied(CopyError):
    """The OS refused to read or write a path of the copy."""


class TransitionError(RuntimeError):
    """A bug in cctui: an object tried a state change its transition table forbids.

    Not an ``Error``: nothing should catch it as a user-facing failure.
    """
