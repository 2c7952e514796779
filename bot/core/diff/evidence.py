"""Feed-wide checks on what vanished: which absences are evidence of a cancellation, and
when so much vanished at once that the feed itself is at fault (the poll is then held)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.core.diff.model import LIVE_STATES, DiffPolicy, StoredEvent, start_of
from bot.core.models import ParsedFeed


def missing_candidates(
    absent: Iterable[StoredEvent], parsed: ParsedFeed, now: datetime
) -> list[StoredEvent]:
    """Vanished events whose absence is evidence: future, inside the window, before the horizon.

    The Events Calendar exports only the next ~30 events, so an event starting after the latest
    start still in the feed fell off the horizon; that says nothing about a cancellation.
    """
    upcoming = [e for e in absent if e.state in LIVE_STATES and now < start_of(e.occurrence)]
    if not upcoming:
        return []  # the usual poll: no need to find the feed's horizon
    if not parsed.occurrences:
        horizon = parsed.window_end
    else:
        horizon = min(parsed.window_end, max(start_of(o) for o in parsed.occurrences))
    return [
        e
        for e in upcoming
        if start_of(e.occurrence) <= horizon and start_of(e.occurrence) >= parsed.window_start
    ]


def mass_drop_reason(
    stored: Sequence[StoredEvent],
    parsed: ParsedFeed,
    candidates: Sequence[StoredEvent],
    now: datetime,
    policy: DiffPolicy,
) -> str:
    """Why this poll looks like a feed fault rather than news ("" when it does not)."""
    if len(candidates) < policy.mass_drop_min_count:
        return ""
    upcoming = [
        e
        for e in stored
        if e.state in LIVE_STATES and now < start_of(e.occurrence) <= parsed.window_end
    ]
    if not upcoming:
        return ""
    if not parsed.occurrences:
        return f"the feed has no events where it had {len(upcoming)} upcoming"
    if len(candidates) > policy.mass_drop_fraction * len(upcoming):
        return f"{len(candidates)} of {len(upcoming)} upcoming events vanished at once"
    return ""
