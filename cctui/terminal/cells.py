"""Cached cells: one shared ``Char`` per character and attribute set, bounded per screen.

Drawing writes cells that already exist: a :class:`CellMap` per attribute set
turns a character (or a short ASCII run) into its cell(s), and every
attribute set's *info* also remembers where each SGR seen in it leads (so
that a repeated SGR costs one dict lookup).  :class:`AttrSets` holds the
infos of one screen: at most :data:`ATTR_SETS` of them, and at most
:data:`CELL_BUDGET` cached cells over all of them (a guest picks the
characters and the attributes).
"""
from __future__ import annotations

from typing import Any, Dict, Final, List, Optional, Tuple

from .bounded import BoundedDict
from .pyte_compat import Char, new_char

CELL_BUDGET = 16384    #: cells (and cached runs) over all attribute sets of one screen
RUN_CACHE_MAX = 64     #: longer runs are not kept as cell tuples
ATTR_SETS = 256        #: attribute sets with cached cells and SGR transitions
TRANSITIONS = 256      #: SGR transitions kept per attribute set

#: pyte's ``default_char`` (a blank with default colours), shared
BLANK = Char(data=" ", fg="default", bg="default", reverse=False)
#: pyte's ``default_char`` under DECSCNM
BLANK_REVERSE = Char(data=" ", fg="default", bg="default", reverse=True)

#: where the cell map is in an info ``(attrs, transitions, cells)``
CELLS: Final = 2


class CellBudget:
    """How many more cells the cell maps of one screen may cache; when spent,
    every map is emptied (the working set refills them)."""

    __slots__ = ("left", "maps")

    def __init__(self) -> None:
        self.left = CELL_BUDGET
        self.maps: List["CellMap"] = []

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            for cmap in self.maps:
                dict.clear(cmap)
            self.maps.clear()
            self.left = CELL_BUDGET - n


class CellMap(Dict[Any, Any]):
    """Character -> ``Char`` with one set of attributes (cells are shared);
    also ASCII runs -> tuples of cells.  A map whose attribute set was evicted
    (``budget`` None) computes cells but keeps none."""

    __slots__ = ("attrs", "budget")

    def __init__(self, attrs: Char, budget: Optional[CellBudget]) -> None:
        super().__init__()
        self.attrs = attrs
        self.budget = budget

    def __missing__(self, ch: str) -> Char:
        cell = new_char(Char, (ch,) + self.attrs[1:])  # attrs._replace(data=ch), faster
        self.keep(ch, cell)
        return cell

    def keep(self, key: str, value: Any) -> None:
        budget = self.budget
        if budget is not None:
            budget.spend(1 + (len(key) >> 3))  # may empty every map, this one too
            if not self:
                budget.maps.append(self)
            self[key] = value


#: ``(canonical attrs, SGR transitions: params -> info, cell map)`` (a plain
#: tuple: the hot loop unpacks one per SGR)
AttrInfo = Tuple[Char, BoundedDict, CellMap]


def _drop_info(_attrs: Char, info: AttrInfo) -> None:
    """An evicted attribute set: empty its caches and keep them empty (other
    sets' transitions may still point at it)."""
    transitions, cmap = info[1], info[CELLS]
    transitions.clear()
    transitions.max_entries = 0
    dict.clear(cmap)
    cmap.budget = None


class AttrSets(BoundedDict):
    """attrs -> :data:`AttrInfo` for one screen (see the module docstring)."""

    __slots__ = ("budget",)

    def __init__(self) -> None:
        super().__init__(ATTR_SETS, on_evict=_drop_info)
        self.budget = CellBudget()

    def info(self, attrs: Char) -> AttrInfo:
        """The info of ``attrs`` (made on first use)."""
        info = self.get(attrs)
        if info is None:
            info = self[attrs] = (attrs, BoundedDict(TRANSITIONS), CellMap(attrs, self.budget))
        return info
