"""The split layout as plain data: a tree of splits whose leaves are pane ids.

Pane widgets never move between containers (Textual cannot re-parent a widget);
this tree says where each one goes and the layout widget positions them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from textual.geometry import Region

from ..server.layout import Node, Split, SplitTree

# "row": children side by side (left/right split); "column": stacked (top/bottom)
Direction = str


@dataclass
class Divider:
    """A one-cell line between two children of a split (drag it to resize)."""
    split: Split
    index: int          # between children[index] and children[index + 1]
    region: Region


class LayoutTree(SplitTree):
    """The server's split tree plus what drawing needs: Textual regions, dividers,
    resizing by cells, and flattening a split left with one child into its parent."""
    MIN_SIZE = 3

    def add(self, pane: str, beside: Optional[str] = None, direction: Direction = "row") -> None:
        """Put ``pane`` after ``beside`` (or at the root), splitting in ``direction``."""
        super().add(pane, beside, direction)

    def _put(self, split: Split, index: int, node: Node) -> None:
        """As the server's, and a child split in the same direction is flattened into
        ``split`` (its weights scaled), so one divider drag moves one line."""
        split.children[index] = node
        if isinstance(node, Split) and node.direction == split.direction:
            weight = split.weights[index]
            total = sum(node.weights)
            split.children[index:index + 1] = node.children
            split.weights[index:index + 1] = [weight * w / total for w in node.weights]

    def resize(self, pane: str, direction: Direction, cells: int, size: Tuple[int, int]) -> bool:
        """Grow ``pane`` by ``cells`` (negative shrinks) along ``direction``."""
        node: Node = pane
        while True:
            parent = self._parent(node)
            if parent is None:
                return False
            if parent.direction == direction and len(parent.children) > 1:
                break
            node = parent
        i = next(k for k, c in enumerate(parent.children) if c is node)
        j = i + 1 if i + 1 < len(parent.children) else i - 1
        total_cells = sum(self._child_sizes(parent, size))
        per_cell = sum(parent.weights) / max(1, total_cells)
        delta = cells * per_cell
        lo = self.MIN_SIZE * per_cell
        delta = max(min(delta, parent.weights[j] - lo), lo - parent.weights[i])
        parent.weights[i] += delta
        parent.weights[j] -= delta
        return True

    def move_divider(self, divider: Divider, cells: int, size: Tuple[int, int]) -> None:
        split = divider.split
        i = divider.index
        total_cells = sum(self._child_sizes(split, size))
        per_cell = sum(split.weights) / max(1, total_cells)
        lo = self.MIN_SIZE * per_cell
        delta = max(min(cells * per_cell, split.weights[i + 1] - lo), lo - split.weights[i])
        split.weights[i] += delta
        split.weights[i + 1] -= delta

    def _child_sizes(self, split: Split, size: Tuple[int, int]) -> List[int]:
        for region, node in self._node_regions(size):
            if node is split:
                length = region.width if split.direction == "row" else region.height
                return _distribute(length - (len(split.children) - 1), split.weights)
        return [1]

    # -- geometry ------------------------------------------------------------
    def _node_regions(self, size: Tuple[int, int]) -> List[Tuple[Region, Node]]:
        out: List[Tuple[Region, Node]] = []

        def walk(node: Node, region: Region) -> None:
            out.append((region, node))
            if not isinstance(node, Split):
                return
            n = len(node.children)
            length = region.width if node.direction == "row" else region.height
            sizes = _distribute(length - (n - 1), node.weights)
            pos = region.x if node.direction == "row" else region.y
            for child, extent in zip(node.children, sizes):
                if node.direction == "row":
                    walk(child, Region(pos, region.y, extent, region.height))
                else:
                    walk(child, Region(region.x, pos, region.width, extent))
                pos += extent + 1
        if self.root is not None:
            walk(self.root, Region(0, 0, size[0], size[1]))
        return out

    def regions(self, size: Tuple[int, int]) -> Tuple[Dict[str, Region], List[Divider]]:
        """Each pane's region and each divider's, for a (width, height) area."""
        panes: Dict[str, Region] = {}
        dividers: List[Divider] = []
        for region, node in self._node_regions(size):
            if isinstance(node, Split):
                n = len(node.children)
                length = region.width if node.direction == "row" else region.height
                sizes = _distribute(length - (n - 1), node.weights)
                pos = region.x if node.direction == "row" else region.y
                for i, extent in enumerate(sizes[:-1]):
                    pos += extent
                    if node.direction == "row":
                        dividers.append(Divider(node, i, Region(pos, region.y, 1, region.height)))
                    else:
                        dividers.append(Divider(node, i, Region(region.x, pos, region.width, 1)))
                    pos += 1
            else:
                panes[node] = region
        return panes, dividers

    def neighbour(self, pane: str, way: str, size: Tuple[int, int]) -> Optional[str]:
        """The pane next to ``pane`` towards left/right/up/down (nearest overlapping)."""
        regions, _ = self.regions(size)
        here = regions.get(pane)
        if here is None:
            return None
        best: Optional[Tuple[int, int, str]] = None
        for other, r in regions.items():
            if other == pane:
                continue
            if way in ("left", "right"):
                gap = (here.x - r.right) if way == "left" else (r.x - here.right)
                overlap = min(here.bottom, r.bottom) - max(here.y, r.y)
                centre = abs((r.y + r.height / 2) - (here.y + here.height / 2))
            else:
                gap = (here.y - r.bottom) if way == "up" else (r.y - here.bottom)
                overlap = min(here.right, r.right) - max(here.x, r.x)
                centre = abs((r.x + r.width / 2) - (here.x + here.width / 2))
            if gap < 0 or overlap <= 0:
                continue
            key = (gap, int(centre), other)
            if best is None or key < best:
                best = key
        return best[2] if best else None


def _distribute(length: int, weights: List[float]) -> List[int]:
    """Integer sizes proportional to weights that sum exactly to ``length``."""
    length = max(0, length)
    total = sum(weights) or 1.0
    sizes = [int(length * w / total) for w in weights]
    rest = length - sum(sizes)
    order = sorted(range(len(weights)), key=lambda i: -(length * weights[i] / total - sizes[i]))
    for i in order[:rest]:
        sizes[i] += 1
    return sizes
