"""What the incremental parse exchanges and remembers: one group's parse result, the view
of the cache the parser child gets, and the child's answer."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.core.models import (
    Instant,
    Occurrence,
    ParsedFeed,
    SkippedEvent,
    instant_from_json,
    instant_to_json,
)
from bot.core.parse import ParseLimits

#: Bump whenever parsing changes what an occurrence looks like: stored groups are then ignored.
PARSER_VERSION = 2
#: How far beyond the window end groups are expanded, so the window can move for a while.
HORIZON_EXTRA = timedelta(days=14)

Meta = tuple[str, str, str]  # calendar name, calendar time zone, producer


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One group's raw parse over the horizon (or the exact window, when volatile)."""

    occurrences: tuple[Occurrence, ...] = ()
    spans: tuple[tuple[Instant, Instant], ...] = ()
    skipped: tuple[SkippedEvent, ...] = ()
    uids: frozenset[str] = frozenset()

    @property
    def volatile(self) -> bool:
        """Results that may depend on the window beyond the span test: never reused."""
        if self.skipped:
            return True
        keys = [o.key for o in self.occurrences]
        return len(set(keys)) != len(keys)

    def to_dict(self) -> dict[str, Any]:
        return {
            "o": [o.to_dict() for o in self.occurrences],
            "s": [[instant_to_json(a), instant_to_json(b)] for a, b in self.spans],
            "k": [s.to_dict() for s in self.skipped],
            "u": sorted(self.uids),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupResult:
        spans: list[tuple[Instant, Instant]] = []
        for a, b in data["s"]:
            begin, end = instant_from_json(a), instant_from_json(b)
            if begin is None or end is None:
                raise ValueError("stored span without bounds")
            spans.append((begin, end))
        return cls(
            tuple(Occurrence.from_dict(o) for o in data["o"]),
            tuple(spans),
            tuple(SkippedEvent.from_dict(s) for s in data["k"]),
            frozenset(str(u) for u in data["u"]),
        )


@dataclass(frozen=True, slots=True)
class CacheView:
    """What the child needs to know about the stored groups of a feed."""

    context: bytes
    horizon_start: datetime
    horizon_end: datetime
    known: frozenset[bytes]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The child's answer: a full parse, or the groups in order plus the ones it parsed."""

    full: ParsedFeed | None = None
    context: bytes = b""
    horizon: tuple[datetime, datetime] | None = None
    #: True when stored groups must be dropped (new context or horizon).
    reset: bool = False
    order: tuple[bytes, ...] = ()
    #: Freshly parsed over the horizon: store these.
    new: dict[bytes, GroupResult] = field(default_factory=dict)
    #: Volatile groups parsed over the exact window: use once, never store.
    exact: dict[bytes, GroupResult] = field(default_factory=dict)
    meta: Meta | None = None
    event_count: int = 0


def settings_key(default_timezone: str, limits: ParseLimits) -> bytes:
    """Everything besides the body that decides a parse."""
    text = f"{PARSER_VERSION}\x00{default_timezone}\x00{limits!r}"
    return hashlib.blake2b(text.encode(), digest_size=16).digest()
