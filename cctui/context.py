"""Go-style contexts: a deadline or a cancel that kills the guest process group.

Thread-safe, because the blocking facade cancels from the caller's thread while
the exec lives in the event-loop thread.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, List, Optional, Tuple, Type

from .errors import Canceled, Error, Timeout


class Context:
    """A cancellation signal with an optional deadline, chained to a parent."""

    def __init__(self, parent: Optional["Context"] = None,
                 deadline: Optional[float] = None) -> None:
        self._lock = threading.Lock()
        self._err: Optional[Type[Error]] = None
        self._callbacks: List[Callable[[], object]] = []  # results are ignored
        self._event = threading.Event()
        self._timer: Optional[threading.Timer] = None
        self.deadline = deadline
        if parent is not None:
            if parent.deadline is not None and (deadline is None or parent.deadline < deadline):
                self.deadline = parent.deadline
            parent.add_done_callback(lambda: self._finish(parent.err_type() or Canceled))
        if deadline is not None:
            delay = max(0.0, deadline - time.monotonic())
            self._timer = threading.Timer(delay, self._finish, args=(Timeout,))
            self._timer.daemon = True
            self._timer.start()

    @classmethod
    def background(cls) -> "Context":
        return cls()

    @classmethod
    def with_timeout(cls, parent: "Context", seconds: float) -> Tuple["Context", Callable[[], None]]:
        ctx = cls(parent, time.monotonic() + seconds)
        return ctx, ctx.cancel

    @classmethod
    def with_cancel(cls, parent: "Context") -> Tuple["Context", Callable[[], None]]:
        ctx = cls(parent)
        return ctx, ctx.cancel

    def cancel(self) -> None:
        self._finish(Canceled)

    def _finish(self, err: Type[Error]) -> None:
        with self._lock:
            if self._err is not None:
                return
            self._err = err
            callbacks, self._callbacks = self._callbacks, []
            if self._timer is not None:
                self._timer.cancel()
        self._event.set()
        for callback in callbacks:
            callback()

    def add_done_callback(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` (from any thread) once the context is done."""
        with self._lock:
            if self._err is None:
                self._callbacks.append(callback)
                return
        callback()

    def done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._event.wait(timeout)

    def err_type(self) -> Optional[Type[Error]]:
        return self._err

    def err(self) -> Optional[Error]:
        """None while live; a Timeout or Canceled instance once done."""
        if self._err is None:
            return None
        if self._err is Timeout:
            return Timeout("context deadline exceeded")
        return self._err("context canceled")
