"""Reject recurrence rules whose expansion would be too expensive, before expanding them.

dateutil (under recurring-ical-events) iterates from DTSTART, so the cost of a window query
grows with (window end − DTSTART) / period, not with the number of results (docs/reliability.md,
rule 7). We estimate that iteration count from the rule alone and refuse the series above a
threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

_PERIOD_SECONDS: dict[str, float] = {
    "YEARLY": 365.25 * 86400,
    "MONTHLY": 30.44 * 86400,
    "WEEKLY": 7 * 86400,
    "DAILY": 86400,
    "HOURLY": 3600,
    "MINUTELY": 60,
    "SECONDLY": 1,
}
_BANNED_FREQ = frozenset({"SECONDLY", "MINUTELY"})
_BY_PARTS = (
    "BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY",
    "BYHOUR", "BYMINUTE", "BYSECOND", "BYSETPOS",
)  # fmt: skip


def _as_utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _first_int(rule: Mapping[str, Any], name: str) -> int | None:
    values = rule.get(name)
    if values is None:
        return None
    if isinstance(values, list | tuple):
        values = values[0] if values else None
    if values is None:
        return None
    return int(values)


def _by_factor(rule: Mapping[str, Any], freq: str) -> float:
    """Upper-bound how many candidates one period yields (BY* parts multiply candidates)."""
    factor = 1.0
    for part in _BY_PARTS:
        values = rule.get(part)
        if values is None or part == "BYSETPOS":
            continue
        count = len(values) if isinstance(values, list | tuple) else 1
        if part == "BYDAY" and freq == "YEARLY" and not rule.get("BYMONTH"):
            count *= 53
        elif part == "BYDAY" and freq in {"MONTHLY", "YEARLY"}:
            count *= 5
        factor *= max(count, 1)
    return factor


def screen_rule(
    rule: Mapping[str, Any],
    dtstart: date | datetime,
    window_end: datetime,
    *,
    max_iterations: int,
    max_count: int,
) -> str | None:
    """Why this RRULE must not be expanded, or None when it looks affordable."""
    try:
        freq_values = rule.get("FREQ")
        freq = str(freq_values[0] if isinstance(freq_values, list) else freq_values or "")
        freq = freq.upper()
        if freq not in _PERIOD_SECONDS:
            return f"RRULE without a valid FREQ ({freq or 'missing'})"
        if freq in _BANNED_FREQ:
            return f"RRULE FREQ={freq} refused (too many occurrences)"
        interval = _first_int(rule, "INTERVAL")
        if interval is None:
            interval = 1
        if interval <= 0:
            return f"RRULE INTERVAL={interval} refused"
        count = _first_int(rule, "COUNT")
        if count is not None and count > max_count:
            return f"RRULE COUNT={count} exceeds {max_count}"
        end = window_end
        until = rule.get("UNTIL")
        if until:
            until_value = until[0] if isinstance(until, list | tuple) else until
            if isinstance(until_value, date):
                end = min(end, _as_utc(until_value) + timedelta(days=1))
        span = (end - _as_utc(dtstart)).total_seconds()
        if span <= 0:
            return None
        periods = span / (_PERIOD_SECONDS[freq] * interval) + 1
        estimate = periods * _by_factor(rule, freq)
        if count is not None:
            # COUNT stops generation early only if most candidates match; stay pessimistic.
            estimate = min(estimate, max(count, periods))
        if estimate > max_iterations:
            return f"RRULE would need ~{int(estimate):,} iterations (limit {max_iterations:,})"
    except (TypeError, ValueError, OverflowError) as exc:
        return f"RRULE not understood: {exc}"
    return None


def screen_rules(
    rules: Iterable[Mapping[str, Any]],
    dtstart: date | datetime,
    window_end: datetime,
    *,
    max_iterations: int,
    max_count: int,
) -> str | None:
    """First reason any of an event's RRULEs is refused (several RRULEs add up)."""
    for rule in rules:
        reason = screen_rule(
            rule, dtstart, window_end, max_iterations=max_iterations, max_count=max_count
        )
        if reason is not None:
            return reason
    return None
