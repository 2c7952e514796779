"""What the incremental parse exchanges and remembers: one group's parse result, the view
of the cache the parser child gets, and the child's answer."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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


def _own_span(occurrence: Occurrence, span: tuple[Instant, Instant]) -> bool:
    """True when ``span`` is exactly the occurrence's own (start, end): equal values of the
    same type, zone and fold, so rebuilding it from the occurrence changes nothing."""
    begin, finish = span
    end = occurrence.end
    return end is not None and _same(begin, occurrence.start) and _same(finish, end)


def _same(a: Instant, b: Instant) -> bool:
    if type(a) is not type(b) or a != b:
        return False
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.tzinfo is b.tzinfo and a.fold == b.fold
    return True


class GroupResult:
    """One group's raw parse over the horizon (or the exact window, when volatile).

    Immutable. Kept compact because the main process holds one per event of every feed
    between polls: spans that are just each occurrence's own (start, end), as nearly all are,
    are not stored but rebuilt from the occurrences, and a group of one UID keeps the string
    rather than a set. Both are rebuilt on access, equal to what was given.
    """

    __slots__ = ("_spans", "_uids", "occurrences", "skipped")

    occurrences: tuple[Occurrence, ...]
    skipped: tuple[SkippedEvent, ...]
    #: None when every span is its occurrence's own (start, end).
    _spans: tuple[tuple[Instant, Instant], ...] | None
    #: One UID as itself, several as a frozenset.
    _uids: str | frozenset[str]

    def __init__(
        self,
        occurrences: tuple[Occurrence, ...] = (),
        spans: tuple[tuple[Instant, Instant], ...] = (),
        skipped: tuple[SkippedEvent, ...] = (),
        uids: frozenset[str] = frozenset(),
    ) -> None:
        own = len(spans) == len(occurrences) and all(map(_own_span, occurrences, spans))
        if len(uids) == 1:
            (uid,) = uids
            # The occurrence's own UID object when it is the same text: one string, not two.
            uid = next((o.key.uid for o in occurrences if o.key.uid == uid), uid)
            compact_uids: str | frozenset[str] = uid if type(uid) is str else uids
        else:
            compact_uids = uids
        object.__setattr__(self, "occurrences", occurrences)
        object.__setattr__(self, "skipped", skipped)
        object.__setattr__(self, "_spans", None if own else spans)
        object.__setattr__(self, "_uids", compact_uids)

    @property
    def spans(self) -> tuple[tuple[Instant, Instant], ...]:
        if self._spans is not None:
            return self._spans
        return tuple((o.start, o.end) for o in self.occurrences)  # type: ignore[misc]

    @property
    def uids(self) -> frozenset[str]:
        uids = self._uids
        return frozenset((uids,)) if isinstance(uids, str) else uids

    def uid_names(self) -> tuple[str, ...] | frozenset[str]:
        """The UIDs to iterate over, without building a set for a group of one."""
        uids = self._uids
        return (uids,) if isinstance(uids, str) else uids

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"GroupResult is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GroupResult):
            return NotImplemented
        return (
            self.occurrences == other.occurrences
            and self.skipped == other.skipped
            and self.spans == other.spans
            and self.uids == other.uids
        )

    def __hash__(self) -> int:
        return hash((self.occurrences, self.spans, self.skipped, self.uids))

    def __repr__(self) -> str:
        return (
            f"GroupResult(occurrences={self.occurrences!r}, spans={self.spans!r}, "
            f"skipped={self.skipped!r}, uids={self.uids!r})"
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled compact: the parser process sends the same few objects it would keep."""
        return _group, (self.occurrences, self._spans, self.skipped, self._uids)

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


def _group(
    occurrences: tuple[Occurrence, ...],
    spans: tuple[tuple[Instant, Instant], ...] | None,
    skipped: tuple[SkippedEvent, ...],
    uids: str | frozenset[str],
) -> GroupResult:
    """Unpickle a :class:`GroupResult` from its compact fields (no re-checking of spans)."""
    result = object.__new__(GroupResult)
    object.__setattr__(result, "occurrences", occurrences)
    object.__setattr__(result, "skipped", skipped)
    object.__setattr__(result, "_spans", spans)
    object.__setattr__(result, "_uids", uids)
    return result


@dataclass(frozen=True, slots=True)
class CacheView:
    """What the child needs to know about the stored groups of a feed.

    ``known`` holds thousands of digests; a parser child that made the feed's last outcome
    remembers them under ``token``, so the view first crosses the process boundary without
    them (:meth:`lean`) and whole only when the child does not know the token."""

    context: bytes
    horizon_start: datetime
    horizon_end: datetime
    #: The stored groups' digests; ``None`` in a lean view (the child looks ``token`` up).
    known: frozenset[bytes] | None
    #: Names ``known`` for the child that made it (see :class:`Outcome`); b"" when none does.
    token: bytes = b""
    #: The :attr:`FeedState.version <bot.core.incremental.state.FeedState>` the view was
    #: made at, echoed in the outcome so the state takes its token only if still there.
    version: int = 0

    def lean(self) -> CacheView:
        """The view without ``known`` when a token names it (else the view itself)."""
        return replace(self, known=None) if self.token else self


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
    #: Names the digests the feed's state holds once it absorbed this outcome (every group
    #: in ``order`` but the volatile ones): the child that made it remembers them by it.
    token: bytes = b""
    #: The version of the view this outcome was made from (-1 without a view).
    base_version: int = -1
    #: The body as received is what was split, and every DTSTAMP line in it is a copy of
    #: its first stamp line (``SplitFeed.clean``): the main process's draft digest of the
    #: body is then its content digest, with no search of its own.
    single_stamp: bool = False


def settings_key(default_timezone: str, limits: ParseLimits) -> bytes:
    """Everything besides the body that decides a parse."""
    text = f"{PARSER_VERSION}\x00{default_timezone}\x00{limits!r}"
    return hashlib.blake2b(text.encode(), digest_size=16).digest()
