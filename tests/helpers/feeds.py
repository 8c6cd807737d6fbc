"""Byte feeds cut into pieces, so a parser is shown its input split anywhere."""
from __future__ import annotations


def split_at(data: bytes, cuts: list) -> list:
    """``data`` cut at each of ``cuts`` (taken modulo its length): feeds split anywhere."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces
