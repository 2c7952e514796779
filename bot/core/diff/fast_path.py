"""The set-aside fast path: stored events nothing happens to skip the diff entirely.

A large feed changes a little between polls, and the incremental parse hands back the very
occurrence objects the last poll stored. Such an event whose rules would return it unchanged
is set aside and merged back into the result in order; the diff visits only the rest.
``engine._whole`` (every event visited) is the reference this path must agree with.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from bot.core.diff.model import (
    DiffPolicy,
    EventState,
    StoredEvent,
    end_of,
    event_sort,
    start_of,
)
from bot.core.models import Occurrence, ParsedFeed


class Aside(NamedTuple):
    """The split of one diff's input: what is set aside, and what is left to visit."""

    #: Stored events handed back as they are, in ``stored`` order.
    untouched: list[StoredEvent]
    #: The other stored events.
    stored: list[StoredEvent]
    #: The parsed occurrences no untouched event took.
    parsed: list[Occurrence]


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
