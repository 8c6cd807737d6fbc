"""Lifecycle states: a str-valued Enum base, a checked transition table, ``@require``.

Modelled on qemu.qmp's ``Runstate``/``@require``: an object owns its state and
changes it only through its own named methods, each change is checked against
a table (a forbidden one is a bug in cctui: ``TransitionError``), and a public
method that needs a state says so with ``@require``; calling it in another state
raises the object's ``StateError``, which names the actual and required states.
"""
from __future__ import annotations

import functools
import inspect
from enum import Enum
from typing import AbstractSet, Any, Callable, Generic, Mapping, Protocol, Tuple, TypeVar

from .errors import StateError, TransitionError


class StrState(str, Enum):
    """A state that is also its name as a str: ``state == "running"`` keeps working.

    str() and format() give the bare value, so messages and labels read
    "running", never "InstanceState.RUNNING" (Python 3.12 changed the default).
    """

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


S = TypeVar("S", bound=StrState)


class Transitions(Generic[S]):
    """Which state may follow which; anything else is a bug, not a user error."""

    def __init__(self, owner: str, table: Mapping[S, AbstractSet[S]]) -> None:
        self.owner = owner
        self.table = table

    def check(self, old: S, new: S) -> None:
        if new not in self.table.get(old, frozenset()):
            raise TransitionError(f"{self.owner}: illegal state transition {old} -> {new}")


class Stateful(Protocol):
    """What ``@require`` needs of an object: its state, and the error to raise."""

    @property
    def state(self) -> Any: ...

    def state_error(self, required: Tuple[Any, ...]) -> StateError: ...


F = TypeVar("F", bound=Callable[..., Any])


def require(*states: StrState) -> Callable[[F], F]:
    """Decorator: the method runs only in one of ``states``; else the object's StateError."""

    def check(obj: Stateful) -> None:
        if obj.state not in states:
            raise obj.state_error(states)

    def decorator(func: F) -> F:
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(obj: Stateful, *args: Any, **kwargs: Any) -> Any:
                check(obj)
                return await func(obj, *args, **kwargs)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(obj: Stateful, *args: Any, **kwargs: Any) -> Any:
            check(obj)
            return func(obj, *args, **kwargs)
        return wrapper  # type: ignore[return-value]

    return decorator


def state_message(name: str, state: StrState, required: Tuple[StrState, ...], why: str = "") -> str:
    """ "vm1 is stopped (closed); this needs it running" — what StateError says."""
    wanted = " or ".join(str(s) for s in required)
    detail = f" ({why})" if why and why != str(state) else ""
    return f"{name} is {state}{detail}; this needs it {wanted}"
