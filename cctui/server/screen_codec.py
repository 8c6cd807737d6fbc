"""Screen rows and split layouts as JSON for the attach protocol, checked on the way in.

The server keeps the authoritative terminal model; an attached client holds a
copy of what it shows, rebuilt from these encodings. Both ends are the same
package, but a client may reach a server over SSH and a server may be buggy,
so decoding validates every field and bound (``ProtocolError``, never anything
else) exactly as guest frames are validated.

A row on the wire is ``[chars, runs]``:

* ``chars``: a string with one character per cell, or a list of cell strings
  when a cell is empty (the right half of a wide character) or holds
  combining marks; trailing default blanks are left out.
* ``runs``: ``[start, attrs, start, attrs, ...]``; ``attrs`` is
  ``[fg, bg, bold, italics, underscore, strikethrough, reverse, blink]`` as in
  pyte's ``Char``, and applies from ``start`` to the next run's start.

A layout is flat (JSON nesting is bounded at 16 levels, split trees are not):
a list of nodes, the root first; ``["pane", ID]`` or
``["split", "row"|"column", [child node indexes], [weights]]``, each child's
index greater than its parent's.
"""
from __future__ import annotations

from itertools import groupby
from typing import Any, Dict, List, Optional, Sequence, Tuple

from guest_pty_agent.protocol import ProtocolError

from ..terminal.pyte_compat import Char
from .layout import Node, Split, SplitTree

MAX_COLS = 1000         # cells in a row (the server's size limit)
CELL_TEXT = 16          # characters in one cell (a base character and its marks, bounded by the model)
COLOUR_TEXT = 16        # "default", a pyte colour name, or six hex digits
MAX_NODES = 255         # nodes in one window's layout
PANE_ID_TEXT = 16       # "%123456"
DEFAULT_ATTRS: Tuple[Any, ...] = Char(" ")[1:]
_BLANK = Char(" ")


def encode_row(cells: Sequence[Char]) -> List[Any]:
    """One row of cells (pyte ``Char``) as its wire form."""
    cells = list(cells)
    while cells and cells[-1] == _BLANK:
        cells.pop()
    datas = [c[0] for c in cells]
    text = "".join(datas)
    chars: Any = text if len(text) == len(cells) and "" not in datas else datas
    runs: List[Any] = []
    pos = 0
    for attrs, group in groupby(tuple(c[1:]) for c in cells):
        runs.append(pos)
        runs.append(list(attrs))
        pos += sum(1 for _ in group)
    return [chars, runs]


def _colour(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= COLOUR_TEXT or not value.isprintable():
        raise ProtocolError("a cell colour must be a short printable string")
    return value


def _attrs(value: Any) -> Tuple[Any, ...]:
    if not isinstance(value, list) or len(value) != len(DEFAULT_ATTRS):
        raise ProtocolError(f"cell attributes must be a list of {len(DEFAULT_ATTRS)} values")
    fg, bg, *flags = value
    if not all(isinstance(f, bool) for f in flags):
        raise ProtocolError("cell attribute flags must be true or false")
    return (_colour(fg), _colour(bg), *flags)


def decode_row(obj: Any, cols: int) -> List[Char]:
    """A wire row as exactly ``cols`` cells (cut or padded with blanks)."""
    if not isinstance(obj, list) or len(obj) != 2:
        raise ProtocolError("a row must be [chars, runs]")
    chars, runs = obj
    if isinstance(chars, str):
        cells: Sequence[str] = chars
    elif isinstance(chars, list) and all(isinstance(c, str) and len(c) <= CELL_TEXT for c in chars):
        cells = chars
    else:
        raise ProtocolError("a row's chars must be a string or a list of short strings")
    if len(cells) > MAX_COLS:
        raise ProtocolError(f"a row holds at most {MAX_COLS} cells")
    if not isinstance(runs, list) or len(runs) % 2 or len(runs) > 2 * max(1, len(cells)):
        raise ProtocolError("a row's runs must be [start, attrs, ...], at most one per cell")
    out: List[Char] = []
    previous = -1
    for i in range(0, len(runs), 2):
        start = runs[i]
        if isinstance(start, bool) or not isinstance(start, int) or not previous < start < max(1, len(cells)):
            raise ProtocolError("run starts must increase within the row")
        if i == 0 and start != 0:
            raise ProtocolError("the first run must start at column 0")
        previous = start
        attrs = _attrs(runs[i + 1])
        end = runs[i + 2] if i + 2 < len(runs) else len(cells)
        if isinstance(end, bool) or not isinstance(end, int):
            raise ProtocolError("run starts must be integers")
        out.extend(Char(ch, *attrs) for ch in cells[start:end])
    if cells and not runs:
        raise ProtocolError("a row with characters needs runs")
    if len(out) < cols:
        out.extend([_BLANK] * (cols - len(out)))
    return out[:cols]


def row_text(cells: Sequence[Char]) -> str:
    return "".join(c[0] for c in cells)


# -- layouts ----------------------------------------------------------------------------------
def encode_layout(tree: SplitTree) -> List[Any]:
    nodes: List[Any] = []

    def put(node: Node) -> int:
        index = len(nodes)
        if not isinstance(node, Split):
            nodes.append(["pane", node])
            return index
        entry: List[Any] = ["split", node.direction, [], list(node.weights)]
        nodes.append(entry)
        entry[2] = [put(child) for child in node.children]
        return index

    if tree.root is not None:
        put(tree.root)
    return nodes


def decode_layout(obj: Any) -> Optional[Node]:
    """A wire layout as its root node (None: no panes); every pane once, weights positive."""
    if not isinstance(obj, list) or len(obj) > MAX_NODES:
        raise ProtocolError(f"a layout must be a list of at most {MAX_NODES} nodes")
    if not obj:
        return None
    seen: Dict[str, int] = {}
    used = [False] * len(obj)

    def build(index: int) -> Node:
        if used[index]:
            raise ProtocolError("a layout node is used twice")
        used[index] = True
        entry = obj[index]
        if not isinstance(entry, list) or not entry:
            raise ProtocolError("a layout node must be a list")
        if entry[0] == "pane" and len(entry) == 2:
            ident = entry[1]
            if not isinstance(ident, str) or not 0 < len(ident) <= PANE_ID_TEXT or ident in seen:
                raise ProtocolError("a layout names each pane once, by a short id")
            seen[ident] = index
            return ident
        if entry[0] == "split" and len(entry) == 4:
            _, direction, children, weights = entry
            if direction not in ("row", "column"):
                raise ProtocolError("a split's direction is row or column")
            if (not isinstance(children, list) or not isinstance(weights, list)
                    or len(children) < 2 or len(children) != len(weights)):
                raise ProtocolError("a split has two or more children, one weight each")
            if not all(isinstance(c, int) and not isinstance(c, bool) and index < c < len(obj)
                       for c in children):
                raise ProtocolError("a split's children come after it in the list")
            if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 < w < 1e6
                       for w in weights):
                raise ProtocolError("split weights must be positive numbers")
            return Split(direction, [build(c) for c in children], [float(w) for w in weights])
        raise ProtocolError("a layout node is [\"pane\", id] or [\"split\", direction, children, weights]")

    root = build(0)
    if not all(used):
        raise ProtocolError("a layout has nodes no split reaches")
    return root
