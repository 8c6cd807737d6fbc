"""``BoundedDict``: the one cache shape of the terminal model.

Every cache here is keyed by something the guest chooses (characters,
attribute combinations, escape sequences), so each must stay bounded however
hostile the stream.  Eviction is first-in-first-out (dict order): lookups
stay plain C ``dict.get`` calls on the hot paths, and only an insertion pays
for the bookkeeping.  Where entries differ in size, ``weigh`` gives each one
a weight (roughly bytes, or cells) and ``max_weight`` bounds their sum.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional


class BoundedDict(Dict[Any, Any]):
    """A dict that evicts its oldest entries past ``max_entries`` entries or
    ``max_weight`` total weight; ``on_evict(key, value)`` hears of each."""

    __slots__ = ("max_entries", "max_weight", "weight", "_weigh", "_on_evict")

    def __init__(
        self,
        max_entries: int,
        max_weight: Optional[int] = None,
        weigh: Optional[Callable[[Any, Any], int]] = None,
        on_evict: Optional[Callable[[Any, Any], None]] = None,
    ) -> None:
        super().__init__()
        self.max_entries = max_entries
        self.max_weight = max_weight
        self.weight = 0
        self._weigh = weigh
        self._on_evict = on_evict

    def __setitem__(self, key: Any, value: Any) -> None:
        weigh = self._weigh
        if key in self:
            if weigh is not None:
                self.weight -= weigh(key, dict.__getitem__(self, key))
            dict.__delitem__(self, key)
        w = weigh(key, value) if weigh is not None else 1
        self.weight += w
        dict.__setitem__(self, key, value)
        if len(self) > self.max_entries or (self.max_weight is not None and self.weight > self.max_weight):
            self._evict()

    def _evict(self) -> None:
        weigh = self._weigh
        limit = self.max_weight
        while len(self) > 1 and (len(self) > self.max_entries or (limit is not None and self.weight > limit)):
            key = next(iter(self))
            value = dict.pop(self, key)
            self.weight -= weigh(key, value) if weigh is not None else 1
            if self._on_evict is not None:
                self._on_evict(key, value)

    def pop(self, key: Any, *default: Any) -> Any:
        if key in self:
            value = dict.pop(self, key)
            self.weight -= self._weigh(key, value) if self._weigh is not None else 1
            return value
        return dict.pop(self, key, *default)

    def __delitem__(self, key: Any) -> None:
        self.pop(key)

    def clear(self) -> None:
        if self._on_evict is not None:
            for key, value in list(self.items()):
                self._on_evict(key, value)
        dict.clear(self)
        self.weight = 0

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
