"""What the unpacker knows about paths under the root, one node per component.

A trie rather than a set of path tuples: marking a path and all of its
ancestors costs one step per component (a set of prefixes costs the square of
the depth), and forgetting a removed directory drops its whole subtree at once.
"""

from __future__ import annotations

from typing import Iterator, Sequence


class Node:
    __slots__ = ("children", "written", "under", "attrs")

    def __init__(self) -> None:
        self.children: dict[str, Node] | None = None
        self.written = 0  # the layer number that wrote this path (0: none)
        self.under = 0  # the layer number that wrote something below it
        self.attrs: tuple[int, float] | None = None  # (mode, mtime) a directory gets at the end

    def child(self, name: str) -> Node:
        if self.children is None:
            self.children = {}
        node = self.children.get(name)
        if node is None:
            node = self.children[name] = Node()
        return node


class PathTrie:
    def __init__(self) -> None:
        self.root = Node()

    def find(self, parts: Sequence[str]) -> Node | None:
        node: Node | None = self.root
        for part in parts:
            if node is None or node.children is None:
                return None
            node = node.children.get(part)
        return node

    def make(self, parts: Sequence[str], under: int = 0) -> Node:
        """The node for ``parts``, created if needed; ``under`` marks the ancestors."""
        node = self.root
        for part in parts:
            if under:
                node.under = under
            node = node.child(part)
        return node

    def forget(self, parts: Sequence[str]) -> None:
        """Drop what is known about ``parts`` and everything below it."""
        if not parts:
            self.root = Node()
            return
        parent = self.find(parts[:-1])
        if parent is not None and parent.children is not None:
            parent.children.pop(parts[-1], None)

    def prune(self) -> None:
        """Keep only the nodes that lead to directory attributes (between layers)."""
        for node in _post_order(self.root):
            if node.children:
                node.children = {k: c for k, c in node.children.items() if c.attrs is not None or c.children} or None
            node.written = node.under = 0


def _post_order(root: Node) -> Iterator[Node]:
    """Nodes, children before parents, without recursion (trees may be thousands deep)."""
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded or not node.children:
            yield node
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in node.children.values())
