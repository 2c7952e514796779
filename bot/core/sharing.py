"""One copy of the values many occurrences repeat, so a large feed costs fewer objects.

A feed of 10,000 events names the same time zone, status, room, series and extraction rules
thousands of times; decoded from the parser process or from SQLite, each would be its own
object. Sharing them changes no value (each shared copy is equal and of the same type as what
it replaces), so it is invisible to every comparison the diff makes.

The memo for tuples and datetimes is bounded: when full it starts over, which only costs a
later duplicate. Strings go through :func:`sys.intern`, whose table lets go of a string once
nothing else holds it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TypeVar

_T = TypeVar("_T", tuple[str, ...], tuple[tuple[str, str], ...])

#: Distinct tuples and datetimes remembered before the memo starts over.
MEMO_LIMIT = 20_000
_memo: dict[object, object] = {}


def text(value: str) -> str:
    """The process's one copy of a short, often repeated string (a str subclass is kept)."""
    return sys.intern(value) if type(value) is str else value


def _remember(value: object) -> object:
    known = _memo.get(value)
    if known is not None:
        return known
    if len(_memo) >= MEMO_LIMIT:
        _memo.clear()
    _memo[value] = value
    return value


def strings(value: _T) -> _T:
    """One copy of a tuple of plain strings, or of plain string pairs (categories, rules)."""
    if not value:
        return value
    for item in value:
        if type(item) is tuple:
            if any(type(part) is not str for part in item):
                return value
        elif type(item) is not str:
            return value
    if type(value) is not tuple:
        return value
    shared = _remember(value)
    return shared if type(shared) is tuple else value


def moment(value: datetime | None) -> datetime | None:
    """One copy of a UTC datetime many events share (LAST-MODIFIED of a bulk export).

    Only exact UTC datetimes with ``fold=0`` are shared: equal aware datetimes in other zones
    compare equal while keeping different fields, and sharing them would change a value.
    """
    if value is None or type(value) is not datetime or value.tzinfo is not UTC or value.fold:
        return value
    shared = _remember(value)
    return shared if type(shared) is datetime and shared.tzinfo is UTC else value
