"""Finding text in rows of cells: string offsets mapped back to columns.

Case folding is done cell by cell, because ``lower()`` may change a
string's length ("İ" becomes two characters): the column map is built from
the folded cells, so a hit always names the columns it covers.
"""
from __future__ import annotations

from typing import Iterator, List, Sequence, Tuple


def find_in_row(cells: Sequence[str], needle: str, case_sensitive: bool = False
                ) -> Iterator[Tuple[int, int]]:
    """``(first column, column after)`` of each occurrence of ``needle``.

    ``cells`` holds one string per column: a wide character's stub is ``""``
    and a cell with combining marks holds more than one character."""
    if not needle:
        return
    if not case_sensitive:
        needle = needle.lower()
        cells = [data.lower() for data in cells]
    hay = "".join(cells)
    start = hay.find(needle)
    if start < 0:
        return
    cols_at: List[int] = []
    for col, data in enumerate(cells):
        cols_at.extend([col] * len(data))
    cols_at.append(len(cells))
    while start >= 0:
        end = start + len(needle)
        yield cols_at[start], cols_at[end - 1] + 1
        start = hay.find(needle, end)
