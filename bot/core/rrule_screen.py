"""Reject recurrence rules whose expansion would be too expensive, before expanding them.

dateutil (under recurring-ical-events) iterates from DTSTART, so the cost of a window query
grows with (window end − DTSTART) / period, not with the number of results. We estimate that
iteration count from the rule alone and refuse the series above a threshold. A rule that can
never match (see :mod:`bot.core.rrule_match`) is refused outright: dateutil would search for
its next instance until the year 9999, checking UNTIL only on instances it finds. What the
analysis cannot judge is bounded by the parser's per-event CPU budget instead.

The rules inside a VTIMEZONE get the same treatment (:func:`screen_timezone`): dateutil
evaluates them from their DTSTART (often 1601) on every UTC-offset lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import vDDDTypes, vRecur

from bot.core.rrule_match import instances_per_period, never_matches

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
        freq = _freq(rule)
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
        until_value = _until(rule)
        if until_value is not None:
            end = min(end, _as_utc(until_value) + timedelta(days=1))
            if _ends_before_start(until_value, dtstart):
                return "RRULE ends (UNTIL) before the event starts (DTSTART)"
        never = never_matches(rule, dtstart)
        if never is not None:
            return f"RRULE can never match: {never}"
        estimate = _iteration_estimate(rule, freq, interval, count, _as_utc(dtstart), end)
        if estimate > max_iterations:
            return f"RRULE would need ~{int(estimate):,} iterations (limit {max_iterations:,})"
    except (TypeError, ValueError, OverflowError) as exc:
        return f"RRULE not understood: {exc}"
    return None


def _freq(rule: Mapping[str, Any]) -> str:
    """FREQ upper-cased, or an empty string when it is missing."""
    freq_values = rule.get("FREQ")
    return str(freq_values[0] if isinstance(freq_values, list) else freq_values or "").upper()


def _iteration_estimate(
    rule: Mapping[str, Any],
    freq: str,
    interval: int,
    count: int | None,
    start: datetime,
    end: datetime,
) -> float:
    """Pessimistic candidates the expander tries between start and end (0 for an empty span)."""
    span = (end - start).total_seconds()
    if span <= 0:
        return 0.0
    periods = span / (_PERIOD_SECONDS[freq] * interval) + 1
    estimate = periods * _by_factor(rule, freq)
    if count is not None:
        # COUNT stops generation early only if most candidates match; stay pessimistic.
        estimate = min(estimate, max(count, periods))
    return estimate


def _until(rule: Mapping[str, Any]) -> date | None:
    until = rule.get("UNTIL")
    if not until:
        return None
    value = until[0] if isinstance(until, list | tuple) else until
    return value if isinstance(value, date) else None


def _ends_before_start(until: date, dtstart: date | datetime) -> bool:
    """UNTIL before DTSTART, allowing a day's slack where floating and zoned values meet."""
    if (
        isinstance(until, datetime)
        and isinstance(dtstart, datetime)
        and (until.tzinfo is None) == (dtstart.tzinfo is None)
    ):
        return until < dtstart
    return _as_utc(until) + timedelta(days=1) < _as_utc(dtstart)


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


#: Offset changes per year a VTIMEZONE rule may make (real zones make one).
_MAX_ZONE_CHANGES_PER_YEAR = 4
#: RDATE transitions one VTIMEZONE may list.
_MAX_ZONE_RDATES = 2000
#: STANDARD/DAYLIGHT parts one VTIMEZONE may hold: every lookup consults each of them (the
#: longest real history seen has under a hundred).
_MAX_ZONE_PARTS = 400


def screen_timezone(lines: Iterable[str]) -> str | None:
    """Why a VTIMEZONE (its raw, unfolded content lines) must not be used, or None.

    Every real zone repeats yearly, at most a few times a year. dateutil walks a zone rule from
    its DTSTART on each lookup, so anything else (FREQ=MINUTELY from 1601, a rule that never
    matches, tens of thousands of RDATEs) would cost every event in that zone dearly.
    """
    start: date | None = None
    rules: list[str] = []
    rdates = parts = 0
    for line in lines:
        name, _, value = line.partition(":")
        key = name.split(";", 1)[0].strip().upper()
        if key in ("BEGIN", "END") and value.strip().upper() in ("STANDARD", "DAYLIGHT"):
            if key == "BEGIN":
                parts += 1
                if parts > _MAX_ZONE_PARTS:
                    return f"VTIMEZONE has more than {_MAX_ZONE_PARTS} STANDARD/DAYLIGHT parts"
            else:
                reason = _screen_zone_part(start, rules)
                if reason is not None:
                    return reason
            start, rules = None, []
        elif key == "DTSTART":
            try:
                parsed = vDDDTypes.from_ical(value.strip())  # type: ignore[no-untyped-call]
            except Exception:
                return "VTIMEZONE with an unreadable DTSTART"
            start = parsed if isinstance(parsed, date) else None
        elif key == "RRULE":
            rules.append(value)
        elif key == "RDATE":
            rdates += value.count(",") + 1
            if rdates > _MAX_ZONE_RDATES:
                return f"VTIMEZONE lists more than {_MAX_ZONE_RDATES:,} RDATE transitions"
    return None


def _screen_zone_part(start: date | None, rules: list[str]) -> str | None:
    for text in rules:
        if start is None:
            return "VTIMEZONE rule without a DTSTART"
        try:
            rule = vRecur.from_ical(text.strip())
        except Exception:
            return "VTIMEZONE rule not understood"
        freq = str(_first_value(rule.get("FREQ")) or "").upper()
        if freq != "YEARLY":
            return f"VTIMEZONE rule FREQ={freq or 'missing'} refused (zones change yearly)"
        per_year = instances_per_period(rule, start)
        if per_year == 0:
            return f"VTIMEZONE rule can never match: {never_matches(rule, start)}"
        if per_year is None or per_year > _MAX_ZONE_CHANGES_PER_YEAR:
            return "VTIMEZONE rule changes the offset too often"
    return None


def _first_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value
