"""A window's split layout as plain data: splits whose leaves are pane ids.

The server sizes each pane's terminal from this; the TUI's ``LayoutTree``
extends it with Textual geometry, dividers and resizing (so neither imports the
other's toolkit: this module has no Textual). tmux numbers a window's panes in layout order,
which is ``panes()``'s order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Union


class Rect(NamedTuple):
    x: int
    y: int
    width: int
    height: int


@dataclass(eq=False)
class Split:
    direction: str                      # "row": side by side (split-window -h); "column": stacked
    children: List["Node"] = field(default_factory=list)
    weights: List[float] = field(default_factory=list)


Node = Union[str, Split]


class SplitTree:
    def __init__(self) -> None:
        self.root: Optional[Node] = None

    def panes(self) -> List[str]:
        out: List[str] = []

        def walk(node: Node) -> None:
            if isinstance(node, Split):
                for child in node.children:
                    walk(child)
            else:
                out.append(node)
        if self.root is not None:
            walk(self.root)
        return out

    def _parent(self, target: Node) -> Optional[Split]:
        def walk(node: Node) -> Optional[Split]:
            if isinstance(node, Split):
                for child in node.children:
                    if child is target or child == target:
                        return node
                    found = walk(child)
                    if found is not None:
                        return found
            return None
        return walk(self.root) if self.root is not None else None

    def add(self, pane: str, beside: Optional[str] = None, direction: str = "column") -> None:
        """Put ``pane`` after ``beside`` (default: the last pane), halving its room."""
        if self.root is None:
            self.root = pane
            return
        panes = self.panes()
        target = beside if beside in panes else panes[-1]
        parent = self._parent(target)
        if parent is not None and parent.direction == direction:
            i = parent.children.index(target)
            parent.weights[i] /= 2
            parent.children.insert(i + 1, pane)
            parent.weights.insert(i + 1, parent.weights[i])
            return
        new = Split(direction, [target, pane], [1.0, 1.0])
        if parent is None:
            self.root = new
        else:
            parent.children[parent.children.index(target)] = new

    def remove(self, pane: str) -> None:
        if self.root == pane:
            self.root = None
            return
        parent = self._parent(pane)
        if parent is None:
            return
        i = parent.children.index(pane)
        del parent.children[i]
        del parent.weights[i]
        if len(parent.children) == 1:
            only = parent.children[0]
            grand = self._parent(parent)
            if grand is None:
                self.root = only
            else:
                self._put(grand, next(k for k, c in enumerate(grand.children) if c is parent), only)

    def _put(self, split: Split, index: int, node: Node) -> None:
        """Put ``node`` where a split that was left with one child stood."""
        split.children[index] = node

    def rects(self, width: int, height: int) -> Dict[str, Rect]:
        """Each pane's rectangle in a width x height window (one-cell borders between)."""
        out: Dict[str, Rect] = {}

        def walk(node: Node, rect: Rect) -> None:
            if not isinstance(node, Split):
                out[node] = rect
                return
            row = node.direction == "row"
            length = rect.width if row else rect.height
            sizes = distribute(length - (len(node.children) - 1), node.weights)
            pos = rect.x if row else rect.y
            for child, extent in zip(node.children, sizes):
                walk(child, Rect(pos, rect.y, extent, rect.height) if row
                     else Rect(rect.x, pos, rect.width, extent))
                pos += extent + 1
        if self.root is not None:
            walk(self.root, Rect(0, 0, width, height))
        return out


def distribute(length: int, weights: List[float]) -> List[int]:
    """Integer sizes proportional to weights, summing to ``length``, each at least 1."""
    length = max(len(weights), length)
    total = sum(weights) or 1.0
    sizes = [max(1, int(length * w / total)) for w in weights]
    i = 0
    while sum(sizes) < length:
        sizes[i % len(sizes)] += 1
        i += 1
    while sum(sizes) > length and max(sizes) > 1:
        sizes[sizes.index(max(sizes))] -= 1
    return sizes
