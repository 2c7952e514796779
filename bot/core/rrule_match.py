"""Decide from a recurrence rule alone whether it can ever produce an instance.

dateutil looks for the next instance one period at a time until the year 9999, so a rule whose
BY* parts contradict each other (the 30th of February, the 31st of a 30-day month, week 1 in
June, the sixth Monday of a month, a BYSETPOS beyond the set) costs seconds and yields nothing.

Every date filter dateutil applies depends only on the kind of year: leap or not, and the
weekday of 1 January. There are fourteen kinds; for each one a filter is a bit mask over the
days of the year, and a rule can match iff some reachable kind keeps a day after AND-ing its
masks. That is exact for the date filters (with dateutil's quirks: a plain and an ordinal BYDAY
must *both* hold) and over-approximates where exactness would cost more (week numbers at the
turn of the year, intervals). Anything we do not model (leap months, BYEASTER, RSCALE) counts
as "may match": the caller then bounds the expansion instead of refusing the rule.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from math import gcd
from typing import Any

__all__ = ["RuleShape", "instances_per_period", "never_matches", "shape_of"]

_WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
_UNIT_SECONDS = {"HOURLY": 3600, "MINUTELY": 60, "SECONDLY": 1}
_ALL_KINDS = tuple((leap, jan1) for leap in (False, True) for jan1 in range(7))
_LAST_YEAR = 9999

Ints = tuple[int, ...]


class _Unsure(Exception):
    """The rule uses something this model does not cover."""


@dataclass(frozen=True, slots=True)
class RuleShape:
    """The parts of a rule (after dateutil's defaults) that decide which instants it hits."""

    freq: str
    interval: int
    months: Ints | None
    weeknos: Ints | None
    yeardays: Ints | None
    monthdays: Ints | None
    weekdays: Ints | None
    #: (weekday, n) pairs: the n-th such weekday of the month or year.
    nth_weekdays: tuple[tuple[int, int], ...] | None
    hours: Ints | None
    minutes: Ints | None
    seconds: Ints | None
    setpos: Ints | None
    wkst: int
    #: DTSTART's year, month and weekday (which years, months and weekdays the interval reaches).
    start_year: int
    start_month: int
    start_weekday: int


# --- reading a rule ------------------------------------------------------------------------


def _values(rule: Mapping[str, Any], name: str) -> list[Any] | None:
    value = rule.get(name)
    if value is None:
        return None
    items = list(value) if isinstance(value, list | tuple) else [value]
    return items or None


def _ints(rule: Mapping[str, Any], name: str) -> Ints | None:
    items = _values(rule, name)
    if items is None:
        return None
    out: list[int] = []
    for item in items:
        text = str(item).strip()
        if not re.fullmatch(r"[+-]?\d{1,4}", text):
            raise _Unsure(name)  # a leap month ("5L") or anything else we do not model
        out.append(int(text))
    return tuple(sorted(set(out)))


def _first_text(rule: Mapping[str, Any], name: str) -> str:
    items = _values(rule, name)
    return str(items[0]).strip().upper() if items else ""


def shape_of(rule: Mapping[str, Any], dtstart: date | datetime) -> RuleShape | None:
    """The rule as dateutil will run it from ``dtstart``; None when it is outside the model."""
    try:
        return _shape(rule, dtstart)
    except (_Unsure, TypeError, ValueError):
        return None


def _shape(rule: Mapping[str, Any], dtstart: date | datetime) -> RuleShape:
    if any(name in rule for name in ("BYEASTER", "RSCALE", "SKIP")):
        raise _Unsure("extension")
    freq = _first_text(rule, "FREQ")
    if freq not in _FREQS:
        raise _Unsure("FREQ")
    interval_values = _ints(rule, "INTERVAL")
    interval = interval_values[0] if interval_values else 1
    if interval <= 0:
        raise _Unsure("INTERVAL")
    weekdays: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in _values(rule, "BYDAY") or ():
        match = _BYDAY.match(str(item).strip().upper())
        if match is None:
            raise _Unsure("BYDAY")
        day = _WEEKDAYS[match.group(2)]
        n = int(match.group(1)) if match.group(1) else 0
        if n == 0 or freq not in ("YEARLY", "MONTHLY"):
            weekdays.add(day)  # dateutil drops the ordinal below MONTHLY
        else:
            nth.add((day, n))
    months = _ints(rule, "BYMONTH")
    weeknos = _ints(rule, "BYWEEKNO")
    yeardays = _ints(rule, "BYYEARDAY")
    monthdays = _ints(rule, "BYMONTHDAY")
    if not (weeknos or yeardays or monthdays or weekdays or nth):
        # dateutil's defaults: the rule repeats DTSTART's own day.
        if freq == "YEARLY":
            months = months or (dtstart.month,)
            monthdays = (dtstart.day,)
        elif freq == "MONTHLY":
            monthdays = (dtstart.day,)
        elif freq == "WEEKLY":
            weekdays = {dtstart.weekday()}
    wkst_text = _first_text(rule, "WKST") or "MO"
    if wkst_text not in _WEEKDAYS:
        raise _Unsure("WKST")
    return RuleShape(
        freq=freq,
        interval=interval,
        months=months,
        weeknos=weeknos,
        yeardays=yeardays,
        monthdays=monthdays,
        weekdays=tuple(sorted(weekdays)) or None,
        nth_weekdays=tuple(sorted(nth)) or None,
        hours=_ints(rule, "BYHOUR"),
        minutes=_ints(rule, "BYMINUTE"),
        seconds=_ints(rule, "BYSECOND"),
        setpos=_ints(rule, "BYSETPOS"),
        wkst=_WEEKDAYS[wkst_text],
        start_year=dtstart.year,
        start_month=dtstart.month,
        start_weekday=dtstart.weekday(),
    )


# --- one kind of year as bit masks over its days ----------------------------------------------


@dataclass(frozen=True, slots=True)
class _YearKind:
    length: int
    jan1: int
    #: (first, last) day index of each month, January first.
    month_ranges: tuple[tuple[int, int], ...]
    month_masks: tuple[int, ...]
    weekday_masks: tuple[int, ...]

    def weekday(self, day: int) -> int:
        return (self.jan1 + day) % 7


def _span(first: int, last: int) -> int:
    """Bits first..last (inclusive)."""
    return ((1 << (last - first + 1)) - 1) << first if last >= first else 0


@lru_cache(maxsize=16)
def _kind(leap: bool, jan1: int) -> _YearKind:
    lengths = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    ranges: list[tuple[int, int]] = []
    first = 0
    for days in lengths:
        ranges.append((first, first + days - 1))
        first += days
    weekday_masks = []
    for wd in range(7):
        mask = 0
        for day in range((wd - jan1) % 7, first, 7):
            mask |= 1 << day
        weekday_masks.append(mask)
    return _YearKind(
        length=first,
        jan1=jan1,
        month_ranges=tuple(ranges),
        month_masks=tuple(_span(a, b) for a, b in ranges),
        weekday_masks=tuple(weekday_masks),
    )


@lru_cache(maxsize=1024)
def _kind_of_year(year: int) -> tuple[bool, int]:
    return calendar.isleap(year), date(year, 1, 1).weekday()


@lru_cache(maxsize=1024)
def _yearly_kinds(start_year: int, step_years: int) -> tuple[tuple[bool, int], ...]:
    """The kinds of year a rule stepping ``step_years`` from ``start_year`` ever visits."""
    kinds: set[tuple[bool, int]] = set()
    year = start_year
    for _ in range(400):  # the Gregorian calendar repeats every 400 years
        if year > _LAST_YEAR:
            break
        kinds.add(_kind_of_year(year))
        year += step_years
    return tuple(sorted(kinds))


def _monthday_mask(kind: _YearKind, values: Ints) -> int:
    mask = 0
    for first, last in kind.month_ranges:
        length = last - first + 1
        for value in values:
            if 0 < value <= length:
                mask |= 1 << (first + value - 1)
            elif 0 < -value <= length:
                mask |= 1 << (last + value + 1)
    return mask


def _yearday_mask(kind: _YearKind, values: Ints) -> int:
    mask = 0
    for value in values:
        if 0 < value <= kind.length:
            mask |= 1 << (value - 1)
        elif 0 < -value <= kind.length:
            mask |= 1 << (kind.length + value)
    return mask


def _nth_mask(kind: _YearKind, pairs: Iterable[tuple[int, int]], first: int, last: int) -> int:
    """dateutil's n-th weekday within days first..last."""
    mask = 0
    for wd, n in pairs:
        if n > 0:
            day = first + (n - 1) * 7
            day += (wd - kind.weekday(day)) % 7
        else:
            day = last + (n + 1) * 7
            day -= (kind.weekday(day) - wd) % 7
        if first <= day <= last:
            mask |= 1 << day
    return mask


def _weekno_mask(kind: _YearKind, values: Ints, wkst: int) -> int:
    """Days a BYWEEKNO may keep; generous at the turn of the year (never too strict)."""
    offset = (kind.jan1 - wkst) % 7
    week1 = -offset if offset <= 3 else 7 - offset
    weeks = (kind.length - 4 - week1) // 7 + 1
    mask = 0
    for value in values:
        n = value + weeks + 1 if value < 0 else value
        if 0 < n <= weeks:
            first = week1 + (n - 1) * 7
            mask |= _span(max(first, 0), min(first + 6, kind.length - 1))
    if week1 > 0 and any(v >= 52 or v == -1 for v in values):
        mask |= _span(0, week1 - 1)  # the previous year's last week
    tail = week1 + weeks * 7
    if tail < kind.length and any(v in (1, -52, -53) for v in values):
        mask |= _span(tail, kind.length - 1)  # the next year's first week
    return mask


# --- the verdict ----------------------------------------------------------------------------


def _reachable_kinds(shape: RuleShape) -> tuple[tuple[bool, int], ...]:
    if shape.freq == "YEARLY":
        return _yearly_kinds(shape.start_year, shape.interval)
    if shape.freq == "MONTHLY" and shape.interval % 12 == 0:
        return _yearly_kinds(shape.start_year, shape.interval // 12)
    return _ALL_KINDS


def _reachable_months(shape: RuleShape) -> set[int]:
    if shape.freq != "MONTHLY":
        return set(range(1, 13))
    step = gcd(shape.interval, 12)
    return {m for m in range(1, 13) if (m - shape.start_month) % step == 0}


def _reachable_weekdays(shape: RuleShape) -> set[int]:
    """Weekdays the interval can land on (a multiple of a week fixes DTSTART's weekday)."""
    if shape.freq == "DAILY":
        step_days = shape.interval
    elif shape.freq in _UNIT_SECONDS:
        seconds = shape.interval * _UNIT_SECONDS[shape.freq]
        if seconds % 86400:
            return set(range(7))
        step_days = seconds // 86400
    else:
        return set(range(7))
    return {shape.start_weekday} if step_days % 7 == 0 else set(range(7))


def _day_mask(shape: RuleShape, kind: _YearKind) -> int:
    """Days of this kind of year that pass every date filter."""
    mask = _span(0, kind.length - 1) & _month_filter(shape, kind)
    if shape.weeknos is not None:
        mask &= _weekno_mask(kind, shape.weeknos, shape.wkst)
    if shape.yeardays is not None:
        mask &= _yearday_mask(kind, shape.yeardays)
    if shape.monthdays is not None:
        mask &= _monthday_mask(kind, shape.monthdays)
    mask &= _weekday_filter(shape, kind)
    if shape.nth_weekdays is not None and mask:
        mask &= _nth_weekday_filter(shape, shape.nth_weekdays, kind)
    return mask


def _month_filter(shape: RuleShape, kind: _YearKind) -> int:
    """Days in the months the rule can reach and BYMONTH allows (all ones when unfiltered)."""
    months = _reachable_months(shape)
    if shape.months is not None:
        months &= set(shape.months)
    if months == set(range(1, 13)):
        return -1
    allowed = 0
    for month in months:
        allowed |= kind.month_masks[month - 1]
    return allowed


def _weekday_filter(shape: RuleShape, kind: _YearKind) -> int:
    """Days on the weekdays the rule can reach and BYDAY allows (all ones when unfiltered)."""
    weekdays = _reachable_weekdays(shape)
    if shape.weekdays is not None:
        weekdays &= set(shape.weekdays)
    if len(weekdays) >= 7:
        return -1
    allowed = 0
    for wd in weekdays:
        allowed |= kind.weekday_masks[wd]
    return allowed


def _nth_weekday_filter(
    shape: RuleShape, nth_weekdays: tuple[tuple[int, int], ...], kind: _YearKind
) -> int:
    """Days that are the n-th given weekday of the year, or of each month, as the rule says."""
    if shape.freq == "YEARLY" and shape.months is None:
        ranges: Iterable[tuple[int, int]] = [(0, kind.length - 1)]
    elif shape.freq == "YEARLY":
        ranges = [kind.month_ranges[m - 1] for m in shape.months or () if 1 <= m <= 12]
    else:
        ranges = kind.month_ranges
    nth = 0
    for first, last in ranges:
        nth |= _nth_mask(kind, nth_weekdays, first, last)
    return nth


def _times_per_day(shape: RuleShape) -> int | None:
    """How many instants one matching day yields per period; None when no time is valid."""
    count = 1
    expanding = {
        "hours": shape.freq in ("YEARLY", "MONTHLY", "WEEKLY", "DAILY"),
        "minutes": shape.freq not in ("MINUTELY", "SECONDLY"),
        "seconds": shape.freq != "SECONDLY",
    }
    for name, top in (("hours", 23), ("minutes", 59), ("seconds", 59)):
        values = getattr(shape, name)
        if values is None:
            continue
        valid = [v for v in values if 0 <= v <= top]
        if not valid:
            return None
        if expanding[name]:
            count *= len(valid)
    return count


def _most_days_per_period(shape: RuleShape, masks: Mapping[tuple[bool, int], int]) -> int:
    if shape.freq == "YEARLY":
        return max(m.bit_count() for m in masks.values())
    if shape.freq == "MONTHLY":
        return max(
            (m & month).bit_count() for k, m in masks.items() for month in _kind(*k).month_masks
        )
    if shape.freq == "WEEKLY":
        weekdays = _reachable_weekdays(shape) & set(shape.weekdays or range(7))
        return max(_most_in_a_week(_kind(*k), m, shape.wkst, weekdays) for k, m in masks.items())
    return 1


def _most_in_a_week(kind: _YearKind, mask: int, wkst: int, weekdays: set[int]) -> int:
    """Most matching days one week (starting on WKST) holds; the days of a week that lie in
    the neighbouring year count whenever their weekday is allowed (never too strict)."""
    first = (wkst - kind.jan1) % 7 - 7
    best = 0
    for start in range(first, kind.length, 7):
        inside = _span(max(start, 0), min(start + 6, kind.length - 1))
        outside = sum(
            1
            for day in range(start, start + 7)
            if not 0 <= day < kind.length and kind.weekday(day) in weekdays
        )
        best = max(best, (mask & inside).bit_count() + outside)
    return min(best, 7)


@lru_cache(maxsize=4096)
def _analyse(shape: RuleShape) -> tuple[str | None, int]:
    """(why the rule never matches or None, most instances one period can yield)."""
    times = _times_per_day(shape)
    if times is None:
        return "no BYHOUR/BYMINUTE/BYSECOND value is a valid time", 0
    masks = {k: _day_mask(shape, _kind(*k)) for k in _reachable_kinds(shape)}
    if not any(masks.values()):
        return "its BY* parts select no day in any year", 0
    per_period = _most_days_per_period(shape, masks) * times
    if shape.setpos is not None:
        reachable = [p for p in shape.setpos if 0 < abs(p) <= per_period]
        if not reachable:
            return f"BYSETPOS lies beyond the at most {per_period} instants of a period", 0
        per_period = min(per_period, len(reachable))
    return None, per_period


def never_matches(rule: Mapping[str, Any], dtstart: date | datetime) -> str | None:
    """Why ``rule`` (from ``dtstart``) can never yield an instance, or None if it may."""
    shape = shape_of(rule, dtstart)
    if shape is None:
        return None
    return _analyse(shape)[0]


def instances_per_period(rule: Mapping[str, Any], dtstart: date | datetime) -> int | None:
    """An upper bound on the instances one FREQ period yields; None when not modelled."""
    shape = shape_of(rule, dtstart)
    if shape is None:
        return None
    reason, count = _analyse(shape)
    return 0 if reason is not None else count
