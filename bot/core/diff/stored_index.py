"""The stored events of one feed, indexed for the set-aside fast path and kept between polls.

Walking 10,000 stored events to find the handful a poll must visit costs more than the rest
of the diff. Which events *could* need a visit is known without the walk:

- an event whose occurrence object is not in the parse (changed, moved or gone): the parse
  comes in the stored order, so lining the two up compares pointers in C and stops only where
  they differ (:func:`align`); set algebra on object ids decides when they do not line up;
- an event the rules would change even if shown identically, whatever the time (absence
  counters, expired, a cancellation the feed disagrees with): few, kept in ``restless``;
- a pending event that may have entered the announce window: pending events are kept sorted
  by start, so the ones starting before the window's end are a prefix found by bisection.

Every other event is set aside exactly as :func:`~bot.core.diff.fast_path.set_aside_untouched`
would (``tests/core/test_diff_stored_index.py`` compares both over random histories). The
store keeps the index beside its in-memory copy of the events and patches it with each poll's
changes, so a poll costs what changed plus a few passes in C.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import compress, count
from operator import attrgetter, is_not, itemgetter
from typing import Generic, NamedTuple, TypeVar

from bot.core.diff.model import EventState, StoredEvent, start_of
from bot.core.models import Occurrence, OccurrenceKey

_SETTLED_LIVE = (EventState.ANNOUNCED, EventState.SILENT)


_FIRST = itemgetter(0)
_GET_OCCURRENCE = attrgetter("occurrence")


SortTuple = tuple[datetime, str, str]
T = TypeVar("T")


def _sort_tuple(event: StoredEvent) -> SortTuple:
    """``event_sort`` as a tuple of built-in values, which compare without Python calls."""
    key = event.occurrence.key
    return (start_of(event.occurrence), key.uid, key.recurrence_id)


def _kind(event: StoredEvent) -> str:
    """Where the index files ``event``: "settled" (quiet while its occurrence is unchanged,
    at any time), "pending" (quiet unless it is in the announce window) or "restless"."""
    if event.missing_count or event.missing_since is not None:
        return "restless"
    state = event.state
    cancelled = event.occurrence.cancelled
    if state in _SETTLED_LIVE:
        return "restless" if cancelled else "settled"
    if state is EventState.CANCELLED:
        return "settled" if cancelled else "restless"
    if state is EventState.PENDING and not cancelled:
        return "pending"
    return "restless"


class _Sorted(Generic[T]):
    """Items kept in the order of their sort tuples, the tuples alongside (bisected in C).
    Sort tuples are unique: they end with the event's key."""

    __slots__ = ("items", "keys")

    def __init__(self, pairs: Iterable[tuple[SortTuple, T]] = ()) -> None:
        ordered = sorted(pairs, key=_FIRST)
        self.keys: list[SortTuple] = [key for key, _ in ordered]
        self.items: list[T] = [item for _, item in ordered]

    def find(self, key: SortTuple) -> int | None:
        index = bisect.bisect_left(self.keys, key)
        return index if index < len(self.keys) and self.keys[index] == key else None

    def insert(self, key: SortTuple, item: T) -> None:
        index = bisect.bisect_left(self.keys, key)
        self.keys.insert(index, key)
        self.items.insert(index, item)

    def remove(self, key: SortTuple) -> bool:
        index = self.find(key)
        if index is None:
            return False
        del self.keys[index]
        del self.items[index]
        return True

    def replace(self, key: SortTuple, item: T) -> bool:
        """Swap the item under ``key`` in place (no list shifts: the usual edit)."""
        index = self.find(key)
        if index is None:
            return False
        self.items[index] = item
        return True


class StoredIndex:
    """A feed's stored events, sorted as :attr:`DiffResult.events`, with the lookups the fast
    path needs. Owned by one thread; the events are frozen, the containers are patched in
    place by :meth:`advance`. ``usable`` is False when the events break an assumption the
    lookups rest on (two events sharing a key or an occurrence object): then the diff walks.
    """

    __slots__ = ("_all", "_pending", "by_key", "by_occurrence", "events", "restless", "usable")

    def __init__(self, events: list[StoredEvent], by_key: dict[OccurrenceKey, StoredEvent]) -> None:
        #: Sorted by ``event_sort``; the very list the poller hands the diff as ``stored``.
        self.events = events
        #: Shared with the store's copy, which keeps it current.
        self.by_key = by_key
        keys = list(map(_sort_tuple, events))
        #: Each event's occurrence under its sort tuple, in the order of ``events``: lining a
        #: parse up compares these pointers only, positions are bisections in C.
        self._all: _Sorted[Occurrence] = _Sorted(())
        self._all.keys, self._all.items = keys, list(map(_GET_OCCURRENCE, events))
        #: id(occurrence) -> its event. The event keeps the occurrence alive, so ids are stable.
        self.by_occurrence: dict[int, StoredEvent] = {}
        #: id(event) -> event: visited every poll.
        self.restless: dict[int, StoredEvent] = {}
        self.usable = len(by_key) == len(events)
        for event in events:
            self._file(event)
        #: Pending, uncancelled, no absence counted, by sort tuple.
        self._pending: _Sorted[StoredEvent] = _Sorted(
            (key, event)
            for key, event in zip(keys, events, strict=True)
            if _kind(event) == "pending"
        )

    @property
    def keys(self) -> list[SortTuple]:
        return self._all.keys

    @property
    def occurrences(self) -> list[Occurrence]:
        return self._all.items

    def _file(self, event: StoredEvent) -> None:
        """Record ``event`` in the lookups by object (the sorted ones are the caller's)."""
        occurrence_id = id(event.occurrence)
        if occurrence_id in self.by_occurrence:
            self.usable = False
        self.by_occurrence[occurrence_id] = event
        if _kind(event) == "restless":
            self.restless[id(event)] = event

    def _unfile(self, event: StoredEvent) -> None:
        occurrence_id = id(event.occurrence)
        if self.by_occurrence.get(occurrence_id) is event:
            del self.by_occurrence[occurrence_id]
        self.restless.pop(id(event), None)

    def advance(
        self,
        events: list[StoredEvent],
        fresh: Iterable[StoredEvent],
        removed: Iterable[OccurrenceKey],
    ) -> None:
        """Become the index of the next poll's ``events``: ``fresh`` events replace the stored
        ones of their keys, ``removed`` keys go (as the store applies them, in that order)."""
        fresh = list(fresh)
        removed = list(removed)
        by_key = self.by_key
        before = {key: by_key.get(key) for key in {*(e.key for e in fresh), *removed}}
        for event in fresh:
            by_key[event.key] = event
        for key in removed:
            by_key.pop(key, None)
        for key, old in before.items():
            self._move(old, by_key.get(key))
        self.events = events
        if not len(by_key) == len(events) == len(self.keys) == len(self.occurrences):
            self.usable = False

    def _move(self, old: StoredEvent | None, new: StoredEvent | None) -> None:
        """Replace ``old`` by ``new`` (either may be absent): in place when the sort position
        is the same, as for an edit that leaves the time alone."""
        if old is not None:
            self._unfile(old)
        if new is not None:
            self._file(new)
        old_key = _sort_tuple(old) if old is not None else None
        new_key = _sort_tuple(new) if new is not None else None
        was_pending = old is not None and _kind(old) == "pending"
        is_pending = new is not None and _kind(new) == "pending"
        if old_key is not None and old_key == new_key and new is not None:
            kept = self._all.replace(old_key, new.occurrence)
            if was_pending and is_pending:
                kept = self._pending.replace(old_key, new) and kept
                was_pending = is_pending = False
        else:
            kept = old_key is None or self._all.remove(old_key)
            if new_key is not None and new is not None:
                self._all.insert(new_key, new.occurrence)
        if was_pending and old_key is not None:
            kept = self._pending.remove(old_key) and kept
        if is_pending and new_key is not None and new is not None:
            self._pending.insert(new_key, new)
        if not kept:  # pragma: no cover - the index lost track: stop trusting it
            self.usable = False

    def pending_until(self, horizon: datetime) -> Sequence[StoredEvent]:
        """Pending events starting no later than ``horizon`` (the announce window's end)."""
        pending = self._pending
        return pending.items[: bisect.bisect_right(pending.keys, horizon, key=_FIRST)]

    def position(self, event: StoredEvent) -> int | None:
        """Where ``event`` sits in :attr:`events` (``None`` if it is not there)."""
        index = bisect.bisect_left(self.keys, _sort_tuple(event))
        events = self.events
        return index if index < len(events) and events[index] is event else None

    def spans_of(self, touched: Iterable[StoredEvent]) -> list[tuple[int, int]] | None:
        """The positions of ``touched`` (events of the index) as sorted one-event spans;
        ``None`` if one is missing."""
        positions: list[int] = []
        for event in touched:
            position = self.position(event)
            if position is None:
                return None
            positions.append(position)
        positions.sort()
        return [(p, p + 1) for p in positions]

    def without(self, spans: list[tuple[int, int]]) -> list[StoredEvent]:
        """:attr:`events` outside the sorted, disjoint ``spans``, in order (cut by slices, so
        the untouched thousands are copied in C)."""
        events = self.events
        out: list[StoredEvent] = []
        cursor = 0
        for start, stop in spans:
            out.extend(events[cursor:start])
            cursor = stop
        out.extend(events[cursor:])
        return out

    def merge(
        self, spans: list[tuple[int, int]], others: Sequence[StoredEvent]
    ) -> tuple[StoredEvent, ...]:
        """:meth:`without` ``spans``, with ``others`` (sorted, no key among the events kept)
        placed in order: each by one bisection in C over :attr:`keys`."""
        events, keys = self.events, self.keys
        out: list[StoredEvent] = []
        cursor = span = 0
        for other in others:
            position = bisect.bisect_left(keys, _sort_tuple(other))
            while span < len(spans) and spans[span][0] < position:
                start, stop = spans[span]
                out.extend(events[cursor:start])
                cursor = max(cursor, stop)
                span += 1
            if cursor < position:
                out.extend(events[cursor:position])
                cursor = position
            out.append(other)
        for start, stop in spans[span:]:
            out.extend(events[cursor:start])
            cursor = max(cursor, stop)
        out.extend(events[cursor:])
        return tuple(out)


class Alignment(NamedTuple):
    """How a parse lines up with the stored events, both sorted alike: runs of the very same
    occurrence objects, and what lies between them."""

    #: (parse position, stored position, length) of each run of identical objects.
    runs: list[tuple[int, int, int]]
    #: Parse positions of objects no stored event holds.
    free: list[int]
    #: Stored ranges [start, stop) whose occurrence objects the parse does not show.
    unmatched: list[tuple[int, int]]


#: Beyond this many parse objects unknown to the index (a first poll after a restart parses
#: fresh copies of everything), the set algebra is cheaper than lining up one by one.
_FREE_LIMIT = 512


def _run_length(stored: list[Occurrence], occurrences: Sequence[Occurrence], i: int, j: int) -> int:
    """How many parse objects from ``i`` are the very stored occurrences from ``j``: pointers
    compared in C, in blocks that double, so a long run costs a few Python steps."""
    size, length = 32, 0
    while True:
        mine = stored[j + length : j + length + size]
        theirs = occurrences[i + length : i + length + size]
        hit = next(compress(count(), map(is_not, mine, theirs)), None)
        if hit is not None:
            return length + hit
        step = min(len(mine), len(theirs))
        length += step
        if step < size:
            return length
        size = min(size * 2, 4096)


def align(index: StoredIndex, occurrences: Sequence[Occurrence]) -> Alignment | None:
    """Line ``occurrences`` up with ``index.events``; ``None`` when they are not in a common
    order or too much differs (the caller then uses set algebra).

    Exact, not a guess: every parse object ends up either paired with the stored event
    holding that very object or in ``free``, and the caller checks no free object is a
    stored one, so an unmatched stored event is truly absent from the parse.
    """
    events, by_occurrence = index.events, index.by_occurrence
    runs: list[tuple[int, int, int]] = []
    free: list[int] = []
    unmatched: list[tuple[int, int]] = []
    i = j = 0
    while i < len(occurrences) and j < len(events):
        length = _run_length(index.occurrences, occurrences, i, j)
        if length:
            runs.append((i, j, length))
            i, j = i + length, j + length
            continue
        step = _mismatch(index, occurrences, i, j)
        if step is None or len(free) > _FREE_LIMIT:
            return None
        taken, skipped = step
        if taken:
            free.append(i)
        if skipped:
            unmatched.append((j, j + skipped))
        i, j = i + taken, j + skipped
    if j < len(events):
        unmatched.append((j, len(events)))
    if len(occurrences) - i > _FREE_LIMIT:
        return None
    free.extend(range(i, len(occurrences)))
    if any(id(occurrences[f]) in by_occurrence for f in free):
        return None  # a stored object out of order, or shown twice
    return Alignment(runs, free, unmatched)


def _mismatch(
    index: StoredIndex, occurrences: Sequence[Occurrence], i: int, j: int
) -> tuple[int, int] | None:
    """How to step past parse position ``i`` and stored position ``j``, which differ: (1, 0)
    a new object, (0, n) n stored events the parse skips, (1, 1) one replaced by a new one."""
    events = index.events
    mine = index.by_occurrence.get(id(occurrences[i]))
    if mine is None:
        following = i + 1 < len(occurrences) and j + 1 < len(events)
        if following and events[j + 1].occurrence is occurrences[i + 1]:
            return 1, 1
        return 1, 0
    if j + 1 < len(events) and events[j + 1] is mine:
        return 0, 1
    position = index.position(mine)
    if position is None or position < j:
        return None
    return 0, position - j


def pick(occurrences: Sequence[Occurrence], ids: set[int]) -> list[Occurrence]:
    """The occurrences whose id is in ``ids``, in order (a C-level pass, no Python loop)."""
    if not ids:
        return []
    return list(compress(occurrences, map(ids.__contains__, map(id, occurrences))))
