"""Rebuild a window's occurrences from per-group results, as the full parser would: the
parser's own window test on the remembered spans, then its dedupe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from recurring_ical_events.util import time_span_contains_event

from bot.core.incremental.results import GroupResult, Meta
from bot.core.models import Instant, Occurrence, ParsedFeed, SkippedEvent
from bot.core.parse import ParseLimits
from bot.core.parse import _dedupe as dedupe_occurrences

_DEFAULT_LIMITS = ParseLimits()


def in_window(span: tuple[Instant, Instant], start: datetime, end: datetime) -> bool:
    """The parser's own window test (recurring-ical-events), with a fast path for the usual."""
    begin, finish = span
    if isinstance(begin, datetime) and isinstance(finish, datetime) and begin < finish:
        return begin < end and start < finish
    if isinstance(begin, date | datetime) and isinstance(finish, date | datetime):
        return bool(time_span_contains_event(start, end, begin, finish))
    return False  # pragma: no cover - spans are always instants


def assemble(
    order: Sequence[bytes],
    groups: Mapping[bytes, GroupResult],
    *,
    window_start: datetime,
    window_end: datetime,
    meta: Meta,
    event_count: int,
    limits: ParseLimits = _DEFAULT_LIMITS,
) -> ParsedFeed | None:
    """The window's ParsedFeed from per-group results; ``None`` when only a full parse will do."""
    seen_uids: set[str] = set()
    occurrences: list[Occurrence] = []
    skipped: list[SkippedEvent] = []
    for digest in order:
        result = groups.get(digest)
        if result is None or not seen_uids.isdisjoint(result.uid_names()):
            return None  # a UID spread over groups: they interact, so parse it all at once
        seen_uids.update(result.uid_names())
        for occurrence, span in zip(result.occurrences, result.spans, strict=True):
            if in_window(span, window_start, window_end):
                occurrences.append(occurrence)
        skipped.extend(result.skipped)
    if len(occurrences) > limits.max_occurrences:
        return None  # the full parse reports the cap
    return ParsedFeed(
        occurrences=dedupe_occurrences(occurrences),
        window_start=window_start,
        window_end=window_end,
        calendar_name=meta[0],
        calendar_timezone=meta[1],
        producer=meta[2],
        skipped=tuple(skipped),
        event_count=event_count,
    )
