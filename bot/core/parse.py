"""Turn a feed body into normalised occurrences inside a window, surviving hostile input.

Pipeline: bytes (UTF-16/32 brought to UTF-8) → tolerant line scan (BOM, junk, line endings,
folding, encodings, raw newlines, unbalanced blocks, byte-identical duplicates) → icalendar per
VCALENDAR (bad blocks dropped one by one if the whole fails; costly VTIMEZONEs left out) →
per-event time-zone resolution and RRULE pre-screen → bounded
expansion with recurring-ical-events, one series at a time → clean, capped Occurrences.

Only :class:`bot.errors.FeedError` subclasses leave :func:`parse_feed`; a bad event is skipped
and reported in ``ParsedFeed.skipped``, never allowed to sink the feed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

import icalendar
import recurring_ical_events

from bot.core.charset import to_utf8
from bot.core.cpu_deadline import CpuDeadlineExceeded, cpu_deadline
from bot.core.models import (
    Instant,
    Occurrence,
    OccurrenceKey,
    ParsedFeed,
    SkippedEvent,
    sort_key,
)
from bot.core.rrule_screen import screen_rules, screen_timezone
from bot.core.seminar import FeedPattern, extract_seminar
from bot.core.text import clean_line, clean_text, clean_url
from bot.core.tz import display_name, resolve_tzid
from bot.errors import CalendarError, EmptyFeed, FeedError, NotACalendar, ParseLimitExceeded

log = logging.getLogger(__name__)

__all__ = ["ParseLimits", "UidParse", "UidParseResult", "parse_by_uid", "parse_feed"]


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Caps that keep one hostile feed from costing unbounded time or memory."""

    max_bytes: int = 15 * 1024 * 1024
    max_vevents: int = 50_000
    #: Occurrences one event (UID) may have in the window: a daily event all through the
    #: half-year poll window fits; the earliest are kept and the surplus is counted as skipped
    #: (one VEVENT with thousands of RDATEs must not become thousands of announcements).
    max_occurrences_per_series: int = 200
    max_occurrences: int = 60_000
    max_summary: int = 256
    max_location: int = 256
    max_description: int = 4000
    max_url: int = 2048
    #: Estimated dateutil iterations above which a series is skipped unexpanded.
    max_rrule_iterations: int = 100_000
    max_rrule_count: int = 10_000
    #: CPU seconds one event's expansion may take: a rule the pre-screen could not judge and
    #: that stops matching would otherwise be searched until the year 9999.
    max_series_cpu_seconds: float = 1.5
    #: Off only in tests that prove the process guard works without it.
    prescreen_rrules: bool = True
    max_nesting: int = 8
    min_year: int = 1970
    max_year: int = 2100
    #: The feed's own seminar patterns (named groups), tried before the built-in rules.
    seminar_summary_pattern: str = ""
    seminar_description_pattern: str = ""


_MAX_SEQUENCE = 2**31 - 1
_MAX_REASON = 300
_SEMINAR_SOURCE_CHARS = 20_000
_CONTENT_LINE = re.compile(r"^[A-Za-z0-9-]+[;:]")
_UID_LINE = re.compile(r"^UID[;:](?:[^:]*:)?(.*)$", re.IGNORECASE)
_BEGIN_CAL = re.compile(rb"BEGIN:VCALENDAR", re.IGNORECASE)
_TIME_PROPS = ("DTSTART", "DTEND", "RECURRENCE-ID")
_FATAL_ERROR_PROPS = frozenset({"DTSTART", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"})


# --- bytes → logical lines ----------------------------------------------------------------


def _describe_non_calendar(head: bytes) -> str:
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in text:
        return "the server returned an HTML page, not a calendar"
    if text.startswith((b"{", b"[")):
        return "the server returned a JSON document, not a calendar"
    return "the body contains no BEGIN:VCALENDAR"


def _decode(data: bytes) -> str:
    """UTF-8, falling back to Latin-1 line by line so one stray byte doesn't garble the rest."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    out: list[str] = []
    for line in data.split(b"\n"):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(line.decode("latin-1"))
    return "\n".join(out)


def _logical_lines(body: bytes) -> list[str]:
    if not body.replace(b"\xef\xbb\xbf", b"").strip():
        raise EmptyFeed("the feed body is empty")
    start = _BEGIN_CAL.search(body)
    if start is None:
        raise NotACalendar(_describe_non_calendar(body[:512]))
    # Everything before BEGIN:VCALENDAR is junk (BOM, stray LF, "INFO: ", PHP notices).
    data = body[start.start() :]
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    # Unfold on bytes so a fold that split a UTF-8 sequence joins back before decoding.
    data = re.sub(rb"\n[ \t]", b"", data)
    return _decode(data).split("\n")


# --- tolerant block scan --------------------------------------------------------------------


@dataclass(slots=True)
class _Block:
    name: str
    lines: list[str]
    broken: str = ""
    #: A VTIMEZONE nested inside (icalendar would register it like a top-level one).
    nested_zone: bool = False

    @property
    def uid(self) -> str:
        for line in self.lines:
            match = _UID_LINE.match(line)
            if match:
                return clean_line(match.group(1), 255)
        return ""


@dataclass(slots=True)
class _RawCalendar:
    header: list[str] = field(default_factory=list)
    blocks: list[_Block] = field(default_factory=list)
    closed: bool = False


class _Scanner:
    """The line-by-line state of ``_scan``: the open component stack, calendar and block."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self.calendars: list[_RawCalendar] = []
        self.stack: list[str] = []
        self.current: _RawCalendar | None = None
        self.block: _Block | None = None
        self.vevents = 0

    def feed(self, raw: str) -> None:
        line = raw.rstrip()
        if not line.strip():
            return
        head = line[:24].upper().lstrip()
        if head.startswith("BEGIN:"):
            self._begin(line.strip())
        elif head.startswith("END:"):
            self._end(line.strip())
        else:
            self._content(line)

    def _close_block(self) -> None:
        if self.block is not None and self.current is not None:
            self.current.blocks.append(self.block)
        self.block = None

    def _begin(self, line: str) -> None:
        name = line[6:].strip().upper()
        if not self.stack:
            if name == "VCALENDAR":
                self.current = _RawCalendar()
                self.calendars.append(self.current)
                self.stack.append(name)
            return
        self.stack.append(name)
        if len(self.stack) == 2:
            self.block = _Block(name, [line])
            if name == "VEVENT":
                self._count_vevent()
        elif self.block is not None:
            self.block.lines.append(line)
            if name == "VTIMEZONE":
                self.block.nested_zone = True
            if len(self.stack) > self.limits.max_nesting:
                self.block.broken = "components nested too deeply"

    def _count_vevent(self) -> None:
        self.vevents += 1
        if self.vevents > self.limits.max_vevents:
            raise ParseLimitExceeded(f"the feed has more than {self.limits.max_vevents:,} events")

    def _end(self, line: str) -> None:
        name = line[4:].strip().upper()
        if name not in self.stack:
            return  # stray END: ignore
        self._close_inner(name)
        self.stack.pop()
        if len(self.stack) == 1:
            if self.block is not None:
                self.block.lines.append(line)
            self._close_block()
        elif not self.stack:
            if self.current is not None:
                self.current.closed = True
            self.current = None
        elif self.block is not None:
            self.block.lines.append(line)

    def _close_inner(self, name: str) -> None:
        """Unbalanced END: implicitly close the components opened inside ``name``."""
        while self.stack[-1] != name:
            self.stack.pop()
            if self.block is not None:
                self.block.broken = self.block.broken or "unbalanced BEGIN/END"
            if len(self.stack) == 1:
                self._close_block()

    def _content(self, line: str) -> None:
        if not self.stack or self.current is None:
            return
        target = self.block.lines if self.block is not None else self.current.header
        if not _CONTENT_LINE.match(line) and target:
            # A raw newline inside a value (Plancast, old TEC): glue it back as an escaped one.
            target[-1] = f"{target[-1]}\\n{line.strip()}"
            return
        target.append(line)

    def finish(self) -> list[_RawCalendar]:
        """The calendars read, after checking the body was one and was not cut off."""
        if self.block is not None:
            self.block.broken = self.block.broken or "unterminated component"
            self._close_block()
        if not self.calendars:
            raise NotACalendar("the body contains no BEGIN:VCALENDAR line")
        if not all(cal.closed for cal in self.calendars):
            raise CalendarError(
                "the calendar is truncated (no END:VCALENDAR): the download was probably cut off",
                reason="truncated",
            )
        return self.calendars


def _scan(lines: list[str], limits: ParseLimits) -> tuple[list[_RawCalendar], int]:
    """Split lines into calendars of top-level blocks; returns them and the VEVENT count."""
    scanner = _Scanner(limits)
    for raw in lines:
        scanner.feed(raw)
    return scanner.finish(), scanner.vevents


# --- icalendar parsing with per-block rescue ----------------------------------------------------


def _wrap(lines: Iterable[str]) -> str:
    return "BEGIN:VCALENDAR\r\n" + "\r\n".join(lines) + "\r\nEND:VCALENDAR\r\n"


def _try_parse(text: str) -> icalendar.Calendar | Exception:
    try:
        cal = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # icalendar raises ValueError, KeyError, AttributeError, ...
        return exc
    if not isinstance(cal, icalendar.Calendar):
        return CalendarError("not a VCALENDAR")
    return cal


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return clean_line(text, _MAX_REASON)


def _zone_property(block: _Block, name: str) -> str:
    prefix = name.upper()
    for line in block.lines:
        key, sep, value = line.partition(":")
        if sep and key.split(";", 1)[0].strip().upper() == prefix:
            return value.strip()
    return ""


def _refuse_zone(block: _Block, reason: str, aliases: dict[str, tuple[tzinfo, str]]) -> None:
    """Leave a costly VTIMEZONE out; its events fall back to the zone it names, if any."""
    tzid = _zone_property(block, "TZID")
    named = resolve_tzid(_zone_property(block, "X-LIC-LOCATION")) or resolve_tzid(tzid)
    if tzid and named is not None:
        aliases.setdefault(tzid, named)
    _warn_zone_once(clean_line(tzid, 64), reason, named[1] if named else "")


@lru_cache(maxsize=256)
def _warn_zone_once(tzid: str, reason: str, fallback: str) -> None:
    """Log a refused zone once per process (an incremental poll parses the header per batch)."""
    log.warning(
        "time zone %r left out (%s); its times use %s",
        tzid,
        reason,
        fallback or "the calendar's default zone",
    )


def _parse_raw_calendar(
    raw: _RawCalendar,
    seen_events: set[str],
    skipped: list[SkippedEvent],
    aliases: dict[str, tuple[tzinfo, str]],
) -> icalendar.Calendar:
    """One VCALENDAR through icalendar; ``aliases`` gains the zones left out as too costly."""
    blocks = [b for b in raw.blocks if _admit_block(b, seen_events, skipped, aliases)]
    whole = _try_parse(_wrap([*raw.header, *(line for b in blocks for line in b.lines)]))
    if isinstance(whole, icalendar.Calendar):
        return whole
    rescued = _rescue(raw.header, blocks, skipped)
    if isinstance(rescued, icalendar.Calendar):
        return rescued
    raise CalendarError(f"the calendar could not be parsed: {_short(whole)}")


def _admit_block(
    block: _Block,
    seen_events: set[str],
    skipped: list[SkippedEvent],
    aliases: dict[str, tuple[tzinfo, str]],
) -> bool:
    """Whether a top-level block goes to icalendar; records why an event is left out."""
    if block.name not in {"VEVENT", "VTIMEZONE"}:
        return False  # VTODO, VJOURNAL, VFREEBUSY, ... are never announced
    if block.broken:
        if block.name == "VEVENT":
            skipped.append(SkippedEvent(block.uid, f"malformed event: {block.broken}"))
        return False
    if block.name == "VTIMEZONE":
        # Screened before icalendar sees it: icalendar registers every zone it parses.
        zone_problem = screen_timezone(block.lines)
        if zone_problem is not None:
            _refuse_zone(block, zone_problem, aliases)
            return False
        return True
    if block.nested_zone:
        zone_problem = screen_timezone(block.lines)
        if zone_problem is not None:
            skipped.append(SkippedEvent(block.uid, f"time zone in the event: {zone_problem}"))
            return False
    fingerprint = "\n".join(block.lines)
    if fingerprint in seen_events:
        return False  # byte-identical duplicate (TEC does this)
    seen_events.add(fingerprint)
    return True


def _rescue(
    header: list[str], blocks: list[_Block], skipped: list[SkippedEvent]
) -> icalendar.Calendar | Exception:
    """Find the culprits: keep every header line and block that parses on its own."""
    good_header = [
        line for line in header if isinstance(_try_parse(_wrap([line])), icalendar.Calendar)
    ]
    good: list[_Block] = []
    for block in blocks:
        result = _try_parse(_wrap(block.lines))
        if isinstance(result, icalendar.Calendar):
            good.append(block)
        elif block.name == "VEVENT":
            skipped.append(SkippedEvent(block.uid, f"unparseable event: {_short(result)}"))
    return _try_parse(_wrap([*good_header, *(line for b in good for line in b.lines)]))


# --- time-zone normalisation ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Zones:
    """Where times without a usable zone go, and whether that counts as a guess."""

    xwr: tzinfo | None
    xwr_name: str
    default: tzinfo
    default_name: str
    #: TZIDs of VTIMEZONEs left out as too costly, mapped to the IANA zone they name.
    aliases: Mapping[str, tuple[tzinfo, str]] = field(default_factory=dict)

    def fallback(self) -> tuple[tzinfo, str]:
        if self.xwr is not None:
            return self.xwr, self.xwr_name
        return self.default, self.default_name


@dataclass(frozen=True, slots=True)
class _Resolved:
    value: date | datetime
    zone: str
    assumed: bool


def _public_name(name: str) -> str:
    return "" if name in {"UTC", "Etc/UTC"} else name


def _resolve(value: Any, tzid: str | None, zones: _Zones) -> _Resolved:
    """An aware datetime (or a date) plus the zone the producer meant."""
    if not isinstance(value, datetime):
        if isinstance(value, date):
            return _Resolved(value, "", False)
        raise TypeError(f"not a date or date-time: {type(value).__name__}")
    if value.tzinfo is not None and value.utcoffset() is not None:
        if value.utcoffset() == timedelta(0) and getattr(value.tzinfo, "key", "UTC") in {
            "UTC",
            "Etc/UTC",
        }:
            return _Resolved(value, _public_name(zones.xwr_name), False)
        return _Resolved(value, display_name(value.tzinfo, tzid), False)
    naive = value.replace(tzinfo=None)
    if tzid:
        resolved = resolve_tzid(tzid)
        if resolved is None:
            resolved = zones.aliases.get(tzid)
        if resolved is not None:
            zone, name = resolved
            return _Resolved(naive.replace(tzinfo=zone), _public_name(name), False)
        zone, name = zones.fallback()
        return _Resolved(naive.replace(tzinfo=zone), _public_name(name), True)
    if zones.xwr is not None:
        return _Resolved(naive.replace(tzinfo=zones.xwr), _public_name(zones.xwr_name), False)
    return _Resolved(naive.replace(tzinfo=zones.default), _public_name(zones.default_name), True)


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _tzid_of(prop: Any) -> str | None:
    params = getattr(prop, "params", None)
    if params is None:
        return None
    tzid = params.get("TZID")
    return str(tzid) if tzid else None


def _needs_fix(value: Any) -> bool:
    return isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None)


def _replace(event: icalendar.Event, name: str, value: Any) -> None:
    event.pop(name, None)
    event.add(name, value)


def _fix_list_property(event: icalendar.Event, name: str, zones: _Zones) -> None:
    """EXDATE/RDATE: give floating or unknown-zone values the same zone as DTSTART would get."""
    props = event.get(name)
    if props is None:
        return
    props = props if isinstance(props, list) else [props]
    if not any(_needs_fix(d.dt) or isinstance(d.dt, tuple) for p in props for d in p.dts):
        return
    values: list[Any] = []
    for prop in props:
        tzid = _tzid_of(prop)
        for item in prop.dts:
            dt = item.dt
            if isinstance(dt, tuple):
                begin = _resolve(dt[0], tzid, zones).value
                other = (
                    dt[1] if isinstance(dt[1], timedelta) else _resolve(dt[1], tzid, zones).value
                )
                values.append((begin, other))
            else:
                values.append(_resolve(dt, tzid, zones).value)
    event.pop(name, None)
    for value in values:
        event.add(name, value)


def _year_ok(value: date, limits: ParseLimits) -> bool:
    return limits.min_year <= value.year <= limits.max_year


# --- per-event preparation ---------------------------------------------------------------


@dataclass(slots=True)
class _Prepared:
    event: icalendar.Event
    uid: str
    zone: str
    assumed: bool
    recurring: bool


def _synthetic_uid(event: icalendar.Event) -> str:
    parts = []
    for name in ("DTSTART", "SUMMARY", "URL"):
        prop = _first(event.get(name))
        try:
            parts.append(prop.to_ical().decode("utf-8", "replace") if prop is not None else "")
        except Exception:
            parts.append(str(prop))
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()[:24]
    return f"synthetic-{digest}"


def _prepare(
    event: icalendar.Event,
    zones: _Zones,
    window_end: datetime,
    limits: ParseLimits,
) -> _Prepared | SkippedEvent:
    uid = clean_line(str(_first(event.get("UID")) or ""), 255)
    if not uid:
        uid = _synthetic_uid(event)
    _replace(event, "UID", uid)

    broken = _repair_broken_values(event, uid)
    if broken is not None:
        return broken
    start_prop = _first(event.get("DTSTART"))
    if start_prop is None:
        return SkippedEvent(uid, "event has no DTSTART")
    start = _resolve(start_prop.dt, _tzid_of(start_prop), zones)
    if not _year_ok(start.value, limits):
        return SkippedEvent(uid, f"DTSTART year {start.value.year} outside the supported range")
    rules = _rrules(event)
    recurring = bool(rules) or event.get("RDATE") is not None
    rule_start = start.value
    if rules and zones.xwr is not None and isinstance(rule_start, datetime):
        # Google writes UTC starts but means the calendar zone for DST-aware repeats.
        rule_start = rule_start.astimezone(zones.xwr)
    if rules and limits.prescreen_rrules:
        reason = screen_rules(
            rules,
            rule_start,
            window_end,
            max_iterations=limits.max_rrule_iterations,
            max_count=limits.max_rrule_count,
        )
        if reason is not None:
            return SkippedEvent(uid, reason)
    _normalise_times(event, start, rule_start, zones)
    return _Prepared(event, uid, start.zone, start.assumed, recurring)


def _repair_broken_values(event: icalendar.Event, uid: str) -> SkippedEvent | None:
    """Skip an event whose key property is broken; repair SEQUENCE and drop other broken ones."""
    errors = {str(name).upper(): str(message) for name, message in event.errors}
    fatal = sorted(_FATAL_ERROR_PROPS & errors.keys())
    if fatal:
        return SkippedEvent(uid, clean_line(f"broken {fatal[0]}: {errors[fatal[0]]}", _MAX_REASON))
    for name in errors.keys() - _FATAL_ERROR_PROPS:
        # A broken value (vBroken) crashes comparisons downstream: repair SEQUENCE, drop the rest.
        repaired = _sequence(event) if name == "SEQUENCE" else None
        event.pop(name, None)
        if repaired is not None:
            event.add("SEQUENCE", repaired)
    return None


def _rrules(event: icalendar.Event) -> list[Any]:
    """The event's non-empty RRULEs; an empty ``RRULE:`` is removed."""
    rrules = event.get("RRULE")
    rules = [r for r in (rrules if isinstance(rrules, list) else [rrules]) if r]
    if rrules is not None and not rules:
        event.pop("RRULE", None)  # "RRULE:" with no value (Calendar Labs): not recurring
    return rules


def _normalise_times(
    event: icalendar.Event, start: _Resolved, rule_start: date | datetime, zones: _Zones
) -> None:
    """Rewrite time properties as aware values; drop an end or duration that cannot be right."""
    for name in _TIME_PROPS:
        prop = _first(event.get(name))
        if prop is None:
            continue
        resolved = start if name == "DTSTART" else _resolve(prop.dt, _tzid_of(prop), zones)
        value = rule_start if name == "DTSTART" else resolved.value
        if name == "DTEND" and not _end_fits(start.value, value):
            event.pop("DTEND", None)
            continue
        if value is not prop.dt or isinstance(event.get(name), list):
            _replace(event, name, value)
    if "DTEND" in event and "DURATION" in event:
        event.pop("DURATION", None)
    duration = _first(event.get("DURATION"))
    if duration is not None and (
        not isinstance(duration.dt, timedelta) or duration.dt < timedelta(0)
    ):
        event.pop("DURATION", None)
    for name in ("EXDATE", "RDATE"):
        _fix_list_property(event, name, zones)


def _end_fits(start: date | datetime, end: date | datetime) -> bool:
    if isinstance(start, datetime) != isinstance(end, datetime):
        return False
    if isinstance(start, datetime) and isinstance(end, datetime):
        return end >= start
    return end > start


# --- occurrences ---------------------------------------------------------------------------------


def _rid_string(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = value.astimezone(UTC)
        return str(value.strftime("%Y%m%dT%H%M%SZ"))
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    return ""


def _text(event: icalendar.Event, name: str) -> str:
    value = _first(event.get(name))
    if value is None:
        return ""
    try:
        return str(value)
    except Exception:  # a property whose str() fails is simply absent for us
        return ""


def _categories(event: icalendar.Event) -> tuple[str, ...]:
    props = event.get("CATEGORIES")
    if props is None:
        return ()
    found: list[str] = []
    for prop in props if isinstance(props, list) else [props]:
        values = getattr(prop, "cats", None)
        if values is None:
            values = str(prop).split(",")
        for raw in values:
            name = clean_line(str(raw), 64)
            if name and name not in found:
                found.append(name)
            if len(found) >= 20:
                return tuple(found)
    return tuple(found)


def _last_modified(event: icalendar.Event) -> datetime | None:
    prop = _first(event.get("LAST-MODIFIED"))
    value = getattr(prop, "dt", None)
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)  # floating LAST-MODIFIED: only ever an ordering hint
    return value.astimezone(UTC)


def _sequence(event: icalendar.Event) -> int:
    try:
        value = int(str(_first(event.get("SEQUENCE")) or 0).strip())
    except (TypeError, ValueError):
        return 0
    return max(0, min(value, _MAX_SEQUENCE))


class _OccurrenceBuilder:
    """Normalises each component's text once, however many occurrences it yields."""

    def __init__(self, limits: ParseLimits, prepared: dict[int, _Prepared]) -> None:
        self._limits = limits
        self._prepared = prepared
        self._cache: dict[int, Occurrence] = {}

    def _template(self, event: icalendar.Event, uid: str) -> Occurrence:
        cached = self._cache.get(id(event))
        if cached is not None:
            return cached
        limits = self._limits
        info = self._prepared.get(id(event))
        summary = clean_line(_text(event, "SUMMARY"), limits.max_summary)
        location = clean_line(_text(event, "LOCATION"), limits.max_location)
        long_description = clean_text(_text(event, "DESCRIPTION"), _SEMINAR_SOURCE_CHARS)
        status = clean_line(_text(event, "STATUS"), 32).upper()
        template = Occurrence(
            key=OccurrenceKey(uid),
            start=date(1970, 1, 1),
            timezone=info.zone if info else "",
            timezone_assumed=info.assumed if info else False,
            summary=summary,
            description=clean_text(long_description, limits.max_description),
            location=location,
            url=clean_url(_text(event, "URL"), limits.max_url),
            status=status if re.fullmatch(r"[A-Z-]*", status) else "",
            categories=_categories(event),
            last_modified=_last_modified(event),
            sequence=_sequence(event),
            seminar=extract_seminar(
                summary,
                long_description,
                location,
                html_description=_text(event, "X-ALT-DESC")[:_SEMINAR_SOURCE_CHARS],
                pattern=FeedPattern(
                    limits.seminar_summary_pattern, limits.seminar_description_pattern
                ),
            ),
        )
        self._cache[id(event)] = template
        return template

    def build(self, occurrence: Any, uid: str, recurring: bool) -> Occurrence:
        event = occurrence._adapter._component
        template = self._template(event, uid)
        rid_prop = _first(event.get("RECURRENCE-ID"))
        if rid_prop is not None:
            rid = _rid_string(rid_prop.dt)
        elif recurring:
            rid = _rid_string(occurrence.id.recurrence_id or occurrence.start)
        else:
            rid = ""
        start = _instant(occurrence.start)
        end = _instant(occurrence.end) if occurrence.end is not None else None
        if end is not None and isinstance(start, datetime) != isinstance(end, datetime):
            end = None
        return template.with_changes(key=OccurrenceKey(uid, rid), start=start, end=end)


def _instant(value: Any) -> date | datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return value
    raise TypeError(f"not an instant: {type(value).__name__}")


def _series_list(events: list[_Prepared], skipped: list[SkippedEvent]) -> list[Any]:
    """recurring-ical-events series, isolating any UID group whose series can't be built."""
    calendar = icalendar.Calendar()
    for item in events:
        calendar.add_component(item.event)
    try:
        return list(recurring_ical_events.CalendarQuery(calendar).series)
    except Exception:
        pass
    groups: dict[str, list[_Prepared]] = {}
    for item in events:
        groups.setdefault(item.uid, []).append(item)
    series: list[Any] = []
    for uid, members in groups.items():
        mini = icalendar.Calendar()
        for item in members:
            mini.add_component(item.event)
        try:
            series.extend(recurring_ical_events.CalendarQuery(mini).series)
        except Exception as exc:
            skipped.append(SkippedEvent(uid, f"recurrence data unusable: {_short(exc)}"))
    return series


def _expand(
    events: list[_Prepared],
    window_start: datetime,
    window_end: datetime,
    limits: ParseLimits,
    skipped: list[SkippedEvent],
    spans: list[tuple[Instant, Instant]] | None = None,
) -> list[Occurrence]:
    """Occurrences in the window, in expansion order; ``spans`` collects each one's own span.

    The span is the (start, end) the window test saw, kept so an incremental parse can repeat
    that test later for a narrower window (``Occurrence.end`` may be dropped as unusable).
    """
    prepared = {id(item.event): item for item in events}
    recurring_uids = {item.uid for item in events if item.recurring}
    # Only a rule can run away (a list of dates cannot): the others skip the timer's cost.
    ruled_uids = {item.uid for item in events if item.event.get("RRULE") is not None}
    builder = _OccurrenceBuilder(limits, prepared)
    result: list[Occurrence] = []
    budget = limits.max_occurrences_per_series
    for series in _series_list(events, skipped):
        uid = str(series.uid)
        batch: list[Occurrence] = []
        batch_spans: list[tuple[Instant, Instant]] = []
        surplus = 0
        try:
            seconds = limits.max_series_cpu_seconds if uid in ruled_uids else 0.0
            with cpu_deadline(seconds):
                for occurrence in series.between(window_start, window_end):
                    if len(batch) >= budget:
                        surplus += 1  # counted, not built: the report says how many
                        if surplus >= limits.max_occurrences:
                            break
                        continue
                    batch.append(builder.build(occurrence, uid, uid in recurring_uids))
                    if spans is not None:
                        begin = _instant(occurrence.start)
                        end = begin if occurrence.end is None else _instant(occurrence.end)
                        batch_spans.append((begin, end))
        except CpuDeadlineExceeded as exc:
            skipped.append(SkippedEvent(uid, f"recurrence expansion {exc} (budget per event)"))
            continue
        except Exception as exc:
            skipped.append(SkippedEvent(uid, f"recurrence expansion failed: {_short(exc)}"))
            continue
        if surplus:
            more = "more than " if surplus >= limits.max_occurrences else ""
            skipped.append(
                SkippedEvent(
                    uid,
                    f"{more}{surplus:,} occurrences in the window beyond the first {budget} "
                    "were left out (per-event budget)",
                    count=surplus,
                )
            )
        result.extend(batch)
        if spans is not None:
            spans.extend(batch_spans)
        if len(result) > limits.max_occurrences:
            raise ParseLimitExceeded(
                f"the feed expands to more than {limits.max_occurrences:,} occurrences"
            )
    return result


def _better(new: Occurrence, old: Occurrence) -> bool:
    old_lm = old.last_modified or datetime.min.replace(tzinfo=UTC)
    new_lm = new.last_modified or datetime.min.replace(tzinfo=UTC)
    return (new.sequence, new_lm) > (old.sequence, old_lm)


def _dedupe(occurrences: list[Occurrence]) -> tuple[Occurrence, ...]:
    by_key: dict[OccurrenceKey, Occurrence] = {}
    for occurrence in occurrences:
        existing = by_key.get(occurrence.key)
        if existing is None or _better(occurrence, existing):
            by_key[occurrence.key] = occurrence
    return tuple(sorted(by_key.values(), key=lambda o: (sort_key(o.start), o.key)))


# --- entry point ---------------------------------------------------------------------------------


def _zones_for(
    calendar: icalendar.Calendar,
    default_timezone: str,
    aliases: Mapping[str, tuple[tzinfo, str]] | None = None,
) -> _Zones:
    default = resolve_tzid(default_timezone) or (UTC, "UTC")
    xwr_value = _first(calendar.get("X-WR-TIMEZONE"))
    xwr = resolve_tzid(str(xwr_value)) if xwr_value is not None else None
    if xwr is None:
        return _Zones(None, "", default[0], default[1], aliases or {})
    return _Zones(xwr[0], xwr[1], default[0], default[1], aliases or {})


def _header_text(calendars: list[icalendar.Calendar], *names: str) -> str:
    for calendar in calendars:
        for name in names:
            value = _first(calendar.get(name))
            if value is not None and str(value).strip():
                return clean_line(str(value), 256)
    return ""


@dataclass(slots=True)
class _Core:
    """A parse before de-duplication: what both the full and the incremental parse build on."""

    calendars: list[icalendar.Calendar]
    occurrences: list[Occurrence]
    skipped: list[SkippedEvent]
    event_count: int
    spans: list[tuple[Instant, Instant]] | None


def _parse_core(
    body: bytes,
    window_start: datetime,
    window_end: datetime,
    default_timezone: str,
    limits: ParseLimits,
    *,
    keep_spans: bool = False,
) -> _Core:
    if len(body) > limits.max_bytes:
        raise ParseLimitExceeded(
            f"the feed is {len(body):,} bytes; the limit is {limits.max_bytes:,}"
        )
    raw_calendars, event_count = _scan(_logical_lines(to_utf8(body)), limits)
    skipped: list[SkippedEvent] = []
    seen: set[str] = set()
    zone_aliases: list[dict[str, tuple[tzinfo, str]]] = [{} for _ in raw_calendars]
    calendars = [
        _parse_raw_calendar(raw, seen, skipped, aliases)
        for raw, aliases in zip(raw_calendars, zone_aliases, strict=True)
    ]
    prepared: list[_Prepared] = []
    for calendar, aliases in zip(calendars, zone_aliases, strict=True):
        zones = _zones_for(calendar, default_timezone, aliases)
        for component in calendar.subcomponents:
            if component.name != "VEVENT" or not isinstance(component, icalendar.Event):
                continue
            try:
                outcome = _prepare(component, zones, window_end, limits)
            except Exception as exc:
                outcome = SkippedEvent(
                    clean_line(str(_first(component.get("UID")) or ""), 255),
                    f"unusable event: {_short(exc)}",
                )
            if isinstance(outcome, SkippedEvent):
                skipped.append(outcome)
            else:
                prepared.append(outcome)
    spans: list[tuple[Instant, Instant]] | None = [] if keep_spans else None
    occurrences = _expand(prepared, window_start, window_end, limits, skipped, spans)
    return _Core(calendars, occurrences, skipped, event_count, spans)


def _calendar_timezone(calendars: list[icalendar.Calendar]) -> str:
    for calendar in calendars:
        zones = _zones_for(calendar, "UTC")
        if zones.xwr is not None:
            return _public_name(zones.xwr_name)
    return ""


def _parse(
    body: bytes,
    window_start: datetime,
    window_end: datetime,
    default_timezone: str,
    limits: ParseLimits,
) -> ParsedFeed:
    core = _parse_core(body, window_start, window_end, default_timezone, limits)
    calendars = core.calendars
    return ParsedFeed(
        occurrences=_dedupe(core.occurrences),
        window_start=window_start,
        window_end=window_end,
        calendar_name=_header_text(calendars, "X-WR-CALNAME", "NAME"),
        calendar_timezone=_calendar_timezone(calendars),
        producer=_header_text(calendars, "PRODID"),
        skipped=tuple(core.skipped),
        event_count=core.event_count,
    )


def forget_cached_timezones() -> None:
    """Drop icalendar's process-wide cache of custom VTIMEZONEs before each feed.

    icalendar caches the first VTIMEZONE it sees for a TZID and never replaces it, so in a
    reused parser process one feed's "Customized Time Zone" would silently decide the times
    of the next feed using the same name. Re-selecting the provider clears that cache.
    """
    icalendar.use_zoneinfo()  # type: ignore[no-untyped-call]


def _utc_window(window_start: datetime, window_end: datetime) -> tuple[datetime, datetime]:
    """Validate the window and reset per-feed parser state (see forget_cached_timezones)."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("the parse window must be aware datetimes")
    forget_cached_timezones()
    return window_start.astimezone(UTC), window_end.astimezone(UTC)


@contextmanager
def _only_feed_errors() -> Iterator[None]:
    """Whatever the bytes, callers see only FeedError subclasses (a bug is logged, not raised)."""
    try:
        yield
    except FeedError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise ParseLimitExceeded(
            f"the calendar exhausted the parser ({type(exc).__name__})"
        ) from exc
    except Exception as exc:
        log.exception("parser failure")
        raise CalendarError(f"parser failure: {_short(exc)}") from exc


def parse_feed(
    body: bytes,
    *,
    window_start: datetime,
    window_end: datetime,
    default_timezone: str = "UTC",
    limits: ParseLimits = ParseLimits(),
) -> ParsedFeed:
    """Occurrences of ``body`` overlapping [window_start, window_end), or a FeedError.

    Raises EmptyFeed, NotACalendar, CalendarError (unparseable or truncated) or
    ParseLimitExceeded; nothing else, whatever the bytes.
    """
    window_start, window_end = _utc_window(window_start, window_end)
    with _only_feed_errors():
        return _parse(bytes(body), window_start, window_end, default_timezone, limits)
    raise AssertionError("unreachable")  # pragma: no cover - the context manager re-raises


# --- parsing part of a feed (the incremental poll) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class UidParse:
    """What one UID contributed to a parse, before de-duplication, in expansion order."""

    occurrences: tuple[Occurrence, ...] = ()
    #: Each occurrence's span as the window test saw it (see ``_expand``).
    spans: tuple[tuple[Instant, Instant], ...] = ()
    skipped: tuple[SkippedEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class UidParseResult:
    calendar_name: str
    calendar_timezone: str
    producer: str
    by_uid: dict[str, UidParse]
    event_count: int


def parse_by_uid(
    body: bytes,
    *,
    window_start: datetime,
    window_end: datetime,
    default_timezone: str = "UTC",
    limits: ParseLimits = ParseLimits(),
) -> UidParseResult:
    """Parse ``body`` like :func:`parse_feed` but keep each UID's share apart, undeduplicated.

    ``body`` is typically a header plus a few VEVENT groups cut out of a feed
    (:func:`bot.core.incremental.blocks.group_body`); the caller filters and de-duplicates per
    group.
    Raises the same errors as :func:`parse_feed`.
    """
    window_start, window_end = _utc_window(window_start, window_end)
    with _only_feed_errors():
        core = _parse_core(
            bytes(body), window_start, window_end, default_timezone, limits, keep_spans=True
        )
    assert core.spans is not None
    occurrences: dict[str, list[Occurrence]] = {}
    spans: dict[str, list[tuple[Instant, Instant]]] = {}
    skipped: dict[str, list[SkippedEvent]] = {}
    for occurrence, span in zip(core.occurrences, core.spans, strict=True):
        occurrences.setdefault(occurrence.key.uid, []).append(occurrence)
        spans.setdefault(occurrence.key.uid, []).append(span)
    for item in core.skipped:
        skipped.setdefault(item.uid, []).append(item)
    by_uid = {
        uid: UidParse(
            tuple(occurrences.get(uid, ())), tuple(spans.get(uid, ())), tuple(skipped.get(uid, ()))
        )
        for uid in occurrences.keys() | skipped.keys()
    }
    calendars = core.calendars
    return UidParseResult(
        calendar_name=_header_text(calendars, "X-WR-CALNAME", "NAME"),
        calendar_timezone=_calendar_timezone(calendars),
        producer=_header_text(calendars, "PRODID"),
        by_uid=by_uid,
        event_count=core.event_count,
    )
