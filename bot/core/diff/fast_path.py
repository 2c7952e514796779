"""The set-aside fast path: stored events nothing happens to skip the diff entirely.

A large feed changes a little between polls, and the incremental parse hands back the very
occurrence objects the last poll stored. Such an event whose rules would return it unchanged
is set aside and merged back into the result in order; the diff visits only the rest.
``engine._whole`` (every event visited) is the reference this path must agree with.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from typing import NamedTuple

from bot.core.diff.model import (
    DiffPolicy,
    EventState,
    StoredEvent,
    end_of,
    event_sort,
    start_of,
)
from bot.core.diff.stored_index import StoredIndex, align, pick
from bot.core.models import Occurrence, OccurrenceKey, ParsedFeed


class Aside(NamedTuple):
    """The split of one diff's input: what is set aside, and what is left to visit."""

    #: Stored events handed back as they are, in ``stored`` order.
    untouched: list[StoredEvent]
    #: The other stored events.
    stored: list[StoredEvent]
    #: The parsed occurrences no untouched event took.
    parsed: list[Occurrence]
    #: Every stored event by key, when their keys are known to be unique (from the index):
    #: answers "was this key set aside?" without collecting the untouched keys.
    stored_keys: Mapping[OccurrenceKey, StoredEvent] | None = None
    #: With an index: where the visited events sit in it, as sorted [start, stop) spans.
    spans: list[tuple[int, int]] | None = None


def set_aside_untouched(
    stored: Sequence[StoredEvent], parsed: ParsedFeed, now: datetime, policy: DiffPolicy
) -> Aside | None:
    """Stored events the feed shows as the very same occurrence object and that nothing
    happens to, in ``stored`` order; ``None`` when there is none.

    Identity (not equality) is the test, so no key is hashed: the incremental parse hands back
    the objects the last poll stored. Two live objects share an ``id`` only if they are one.
    """
    present = {id(o) for o in parsed.occurrences}
    horizon = now + policy.announce_window
    untouched: list[StoredEvent] = []
    rest_stored: list[StoredEvent] = []
    pending = EventState.PENDING
    for event in stored:
        occ = event.occurrence
        occ_id = id(occ)
        if occ_id in present:
            start = occ.start
            # Inline (a call per event shows on large feeds) for the usual untouched event:
            # pending, far beyond the announce window.
            if (
                event.state is pending
                and type(start) is datetime
                and start.tzinfo is UTC
                and start > horizon
                and not event.missing_count
                and event.missing_since is None
                and not occ.cancelled
            ) or _quiet(event, now, horizon):
                untouched.append(event)
                present.discard(occ_id)  # a second stored event with it is not untouched
                continue
        rest_stored.append(event)
    if not untouched:
        return None
    # ``present`` now holds the parsed objects no untouched event took.
    rest_parsed = [o for o in parsed.occurrences if id(o) in present]
    return Aside(untouched, rest_stored, rest_parsed)


def set_aside_indexed(
    index: StoredIndex, parsed: ParsedFeed, now: datetime, policy: DiffPolicy
) -> Aside | None:
    """What :func:`set_aside_untouched` gives for ``index.events``, without visiting every
    event: only those the index names as possibly touched (see
    :mod:`~bot.core.diff.stored_index`) are tested, with the same :func:`_quiet`."""
    horizon = now + policy.announce_window
    alignment = align(index, parsed.occurrences)
    if alignment is None:
        return _aside_by_sets(index, parsed, now, policy)
    events = index.events
    gone = alignment.unmatched
    gone_ids = set(map(id, chain.from_iterable(events[a:b] for a, b in gone)))
    singles: list[int] = []  # stored positions of the other touched events
    shown: list[int] = []  # and where the parse shows their occurrence
    for event in _restless(index, now, horizon):
        if id(event) in gone_ids:
            continue
        position = index.position(event)
        if position is None:  # pragma: no cover - the index lost track: walk
            return set_aside_untouched(events, parsed, now, policy)
        singles.append(position)
        shown.append(_shown_at(alignment.runs, position))
    spans = sorted([*gone, *((p, p + 1) for p in set(singles))])
    touched = [e for a, b in spans for e in events[a:b]]
    if len(touched) >= len(events):
        return None  # nothing to set aside
    occurrences = parsed.occurrences
    free = sorted({*alignment.free, *shown})
    rest = [occurrences[f] for f in free]
    return Aside(index.without(spans), touched, rest, index.by_key, spans)


def _restless(index: StoredIndex, now: datetime, horizon: datetime) -> list[StoredEvent]:
    """The stored events :func:`_quiet` may refuse whatever the parse shows."""
    marked = list(index.restless.values())  # never quiet: the index files them so
    marked.extend(e for e in index.pending_until(horizon) if not _quiet(e, now, horizon))
    return marked


def _shown_at(runs: list[tuple[int, int, int]], position: int) -> int:
    """The parse position paired with stored ``position`` (which is in a run)."""
    run = bisect.bisect_right(runs, position, key=itemgetter(1)) - 1
    first, stored_first, _length = runs[run]
    return first + position - stored_first


def _aside_by_sets(
    index: StoredIndex, parsed: ParsedFeed, now: datetime, policy: DiffPolicy
) -> Aside | None:
    """:func:`set_aside_indexed` by set algebra on object ids, for parses that do not line up
    with the stored order (each pass runs in C, but over every event)."""
    occurrences = parsed.occurrences
    horizon = now + policy.announce_window
    present = set(map(id, occurrences))
    by_occurrence = index.by_occurrence
    # By id(event): a gone event may also be restless or pending.
    marked = {id(e): e for e in map(by_occurrence.__getitem__, by_occurrence.keys() - present)}
    marked.update((id(e), e) for e in _restless(index, now, horizon))
    if len(marked) >= len(index.events):
        return None  # nothing to set aside
    touched = list(marked.values())
    spans = index.spans_of(touched)
    if spans is None:  # pragma: no cover - the index lost track: walk
        return set_aside_untouched(index.events, parsed, now, policy)
    touched.sort(key=event_sort)
    # The parsed objects no untouched event took: the new ones, and the touched events' own.
    free = present.difference(by_occurrence)
    free.update(i for i in map(id, (e.occurrence for e in touched)) if i in present)
    return Aside(index.without(spans), touched, pick(occurrences, free), index.by_key, spans)


def _quiet(event: StoredEvent, now: datetime, horizon: datetime) -> bool:
    """True when the diff would hand ``event`` back as is, were its occurrence seen unchanged.

    Mirrors :func:`bot.core.diff.rules.apply_present` for an identical occurrence: no state
    change, no action, no absence counter to reset. ``horizon`` is ``now`` plus the announce
    window.
    """
    if event.missing_count or event.missing_since is not None:
        return False
    state = event.state
    occ = event.occurrence
    if state is EventState.ANNOUNCED or state is EventState.SILENT:
        return not occ.cancelled
    if state is EventState.CANCELLED:
        return occ.cancelled
    if state is EventState.PENDING and not occ.cancelled:
        start = occ.start
        if type(start) is datetime and start.tzinfo is UTC and start > horizon:
            return True  # the usual pending event: far beyond the announce window
        return start_of(occ) > horizon or end_of(occ) <= now  # not in the announce window
    return False


def merge_untouched(
    untouched: list[StoredEvent], others: Sequence[StoredEvent], stored_sorted: bool
) -> tuple[StoredEvent, ...]:
    if not stored_sorted:
        return tuple(sorted([*untouched, *others], key=event_sort))
    # ``untouched`` keeps the order of ``stored``; ``others`` is sorted: merge by bisection.
    out: list[StoredEvent] = []
    cursor = 0
    for event in others:
        position = bisect.bisect_left(untouched, event_sort(event), lo=cursor, key=event_sort)
        out.extend(untouched[cursor:position])
        out.append(event)
        cursor = position
    out.extend(untouched[cursor:])
    return tuple(out)
