"""A fast path for the incremental parse of plain, single VEVENT groups.

Most changed groups in a poll are one non-recurring event written by The Events Calendar: a
dozen plain properties and a start in a named zone. Building an icalendar tree and a
recurring-ical-events series for each costs far more than the event itself. This module reads
such a block line by line, but every value still goes through icalendar's own value parsers
(the same unescaping, the same date and zone handling) and through the parser's own
normalisation (:mod:`bot.core.parse`), so the occurrence is the one the full path builds.

Anything it cannot prove it reads the same way (a recurrence, an alarm, a parameter other than
TZID or VALUE=DATE on a time, quoting, a control character, a duplicate property, a zone that is
not an exact IANA name, ...) is declined: icalendar stays the reference and the fallback. The
differential test compares both paths on every corpus event and on generated ones.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import available_timezones

import icalendar
from icalendar.parser.property import split_on_unescaped_comma, unescape_backslash
from recurring_ical_events.util import time_span_contains_event

from bot.core.models import Instant, Occurrence, OccurrenceKey, SkippedEvent
from bot.core.parse import (
    ParseLimits,
    _calendar_timezone,
    _end_fits,
    _header_text,
    _instant,
    _logical_lines,
    _OccurrenceBuilder,
    _parse_raw_calendar,
    _Prepared,
    _resolve,
    _scan,
    _utc_window,
    _year_ok,
    _Zones,
    _zones_for,
)
from bot.core.text import clean_line

if TYPE_CHECKING:  # the incremental package imports this module: no import cycle at run time
    from bot.core.incremental.blocks import Group, SplitFeed

__all__ = ["FastResults", "parse_simple_groups", "parse_simple_vevent"]

Meta = tuple[str, str, str]
#: (occurrences, spans, uids) of one group, as :class:`bot.core.incremental.GroupResult` holds.
Parsed = tuple[tuple[Occurrence, ...], tuple[tuple[Instant, Instant], ...], frozenset[str]]

#: Properties the parser reads; each may appear once (CATEGORIES any number of times).
_READ = frozenset(
    {
        "UID", "DTSTART", "DTEND", "DURATION", "SUMMARY", "DESCRIPTION", "LOCATION", "URL",
        "STATUS", "CATEGORIES", "LAST-MODIFIED", "SEQUENCE",
    }
)  # fmt: skip
#: Properties the parser never reads but that plain feeds carry.
_IGNORED = frozenset(
    {
        "DTSTAMP", "CREATED", "TRANSP", "CLASS", "ORGANIZER", "PRIORITY", "COMMENT", "CONTACT",
        "ATTACH", "GEO", "ATTENDEE",
    }
)  # fmt: skip
#: Text properties whose LANGUAGE parameter changes nothing the parser reads.
_LANGUAGE_OK = frozenset({"SUMMARY", "DESCRIPTION", "LOCATION"})
#: X- properties the parser does read (or that change how a block is read): decline.
_X_READ = frozenset({"X-ALT-DESC"})
_TIMES = frozenset({"DTSTART", "DTEND"})
#: A content line with plain parameters: no quotes, backslashes, commas or blanks in them.
_LINE = re.compile(r"([A-Z0-9-]+)((?:;[A-Z0-9-]+=[^\";:,\\\s]*)*):(.*)", re.DOTALL)
_QUOTED_LINE = re.compile(
    r"([A-Z0-9-]+)((?:;[A-Z0-9-]+=(?:\"[^\"\\]*\"|[^\";:,\\\s]*))*):(.*)", re.DOTALL
)
_PARAM = re.compile(r";([A-Z0-9-]+)=")
#: Characters whose line or value handling differs between the scanner and icalendar.
_ODD = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_LOCAL_TIME = re.compile(r"\d{8}T\d{6}")
_UTC_TIME = re.compile(r"\d{8}T\d{6}Z")
_DATE = re.compile(r"\d{8}")
_NEEDLES = (b"RRULE", b"RDATE", b"EXDATE", b"RECURRENCE-ID", b"BEGIN:VALARM", b"X-ALT-DESC")


@lru_cache(maxsize=1)
def _iana_names() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass(frozen=True, slots=True)
class FastResults:
    """Groups the fast path settled, and the header's meta when it read the header."""

    results: dict[bytes, Parsed]
    meta: Meta | None = None


@dataclass(frozen=True, slots=True)
class _Context:
    zones: _Zones
    window: tuple[datetime, datetime]
    limits: ParseLimits


def _candidate(block: bytes) -> bool:
    """A cheap byte-level screen: worth reading line by line?"""
    upper = block.upper()
    return upper.count(b"BEGIN:") == 1 and not any(n in upper for n in _NEEDLES)


def _lines(block: bytes) -> list[str] | None:
    """The block's logical lines as the parser's scanner sees them, or None when odd."""
    data = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    data = re.sub(rb"\n[ \t]", b"", data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2 or lines[0] != "BEGIN:VEVENT" or lines[-1] != "END:VEVENT":
        return None
    out: list[str] = []
    for raw in lines[1:-1]:
        line = raw.rstrip()
        if not line or line != raw.rstrip(" ") or _ODD.search(line):
            return None
        out.append(line)
    return out


def _types() -> Any:
    return icalendar.Event.types_factory


def _value(name: str, params: dict[str, str], raw: str) -> Any:
    """The property object icalendar builds for this line (raises when it would not)."""
    factory = _types().for_property(name, params.get("VALUE"))
    text = unescape_backslash(raw)
    tzid = params.get("TZID") if name in _TIMES else None
    parsed = factory.from_ical(text, tzid) if tzid else factory.from_ical(text)
    prop = factory(parsed)
    if params:  # the factory already gave it empty parameters
        prop.params = icalendar.Parameters(params)
    return prop


def _read_properties(lines: list[str]) -> dict[str, Any] | None:  # noqa: C901 - one pass over the lines; each early return is a reason to decline to icalendar
    props: dict[str, Any] = {}
    for line in lines:
        match = _LINE.fullmatch(line)
        name = match.group(1) if match else ""
        if match is None or name not in _READ:
            quoted = _QUOTED_LINE.fullmatch(line)
            if quoted is None:
                return None
            name = quoted.group(1)
            if name in _READ or name in _X_READ or name in {"BEGIN", "END"}:
                return None
            if name not in _IGNORED and not name.startswith("X-"):
                return None
            continue  # never read: icalendar keeps it, the parser ignores it
        param_text, raw = match.group(2), match.group(3)
        params: dict[str, str] = {}
        for part in param_text[1:].split(";") if param_text else ():
            key, _, value = part.partition("=")
            if key in params:
                return None
            params[key] = value
        if params and not _params_ok(name, params):
            return None
        if name == "CATEGORIES":
            factory = _types().for_property("CATEGORIES", None)
            cats = factory(split_on_unescaped_comma(raw))
            found = props.get(name)
            if found is None:
                props[name] = cats
            else:  # icalendar keeps repeated CATEGORIES lines as a list
                props[name] = [*found, cats] if isinstance(found, list) else [found, cats]
            continue
        if name in props:
            return None
        if name in _TIMES and not _time_shape(params, raw):
            return None
        props[name] = _value(name, params, raw)
    return props


def _params_ok(name: str, params: dict[str, str]) -> bool:
    """Parameters that change neither the value type nor what the parser reads."""
    if name in _TIMES:
        return params.keys() <= {"TZID", "VALUE"} and params.get("VALUE", "DATE") == "DATE"
    if name in _LANGUAGE_OK:
        return params.keys() == {"LANGUAGE"}
    return name == "URL" and params == {"VALUE": "URI"}


def _time_shape(params: dict[str, str], raw: str) -> bool:
    if params.get("VALUE") == "DATE":
        return "TZID" not in params and _DATE.fullmatch(raw) is not None
    if "TZID" in params:
        return params["TZID"] in _iana_names() and _LOCAL_TIME.fullmatch(raw) is not None
    return _UTC_TIME.fullmatch(raw) is not None or _LOCAL_TIME.fullmatch(raw) is not None


def _tzid(prop: Any) -> str | None:
    tzid = prop.params.get("TZID")
    return str(tzid) if tzid else None


def parse_simple_vevent(block: bytes, context: _Context) -> Parsed | None:
    """One VEVENT block as the full parser would read it over ``context.window``, or None."""
    if not _candidate(block):
        return None
    lines = _lines(block)
    if lines is None:
        return None
    try:
        props = _read_properties(lines)
        return None if props is None else _occurrence(props, context)
    except Exception:  # icalendar would record an error, or the parser skip the event
        return None


def _occurrence(props: dict[str, Any], context: _Context) -> Parsed | None:
    uid = clean_line(str(props.get("UID") or ""), 255)
    start_prop = props.get("DTSTART")
    if not uid or start_prop is None:
        return None
    start = _resolve(start_prop.dt, _tzid(start_prop), context.zones)
    if not _year_ok(start.value, context.limits):
        return None
    begin: date | datetime = start.value
    end_prop = props.get("DTEND")
    end: date | datetime | None = None
    if end_prop is not None:
        resolved_end = _resolve(end_prop.dt, _tzid(end_prop), context.zones).value
        if _end_fits(begin, resolved_end):
            end = resolved_end
    duration = props.get("DURATION")
    if end is None and duration is not None:
        if not isinstance(duration.dt, timedelta):
            return None  # a broken DURATION: the parser drops it, with its own reasons
        if duration.dt >= timedelta(0):
            if not isinstance(begin, datetime) and duration.dt.seconds != 0:
                return None
            end = begin + duration.dt
    if end is None:
        end = begin if isinstance(begin, datetime) else begin + timedelta(days=1)
    span = (_instant(begin), _instant(end))
    window_start, window_end = context.window
    if not time_span_contains_event(window_start, window_end, begin, end):
        return (), (), frozenset()
    event = cast(icalendar.Event, props)
    prepared = _Prepared(event, uid, start.zone, start.assumed, False)
    template = _OccurrenceBuilder(context.limits, {id(event): prepared})._template(event, uid)
    start_instant, end_instant = span
    shown_end: Instant | None = end_instant
    if isinstance(start_instant, datetime) != isinstance(end_instant, datetime):
        shown_end = None
    occurrence = template.with_changes(
        key=OccurrenceKey(uid, ""), start=start_instant, end=shown_end
    )
    return (occurrence,), (span,), frozenset({uid})


def _header_context(
    split: SplitFeed,
    window: tuple[datetime, datetime],
    default_timezone: str,
    limits: ParseLimits,
) -> tuple[_Context, Meta] | None:
    """The header's zones and meta, read through the parser's own code (icalendar)."""
    start, end = _utc_window(*window)
    key = (split.header_digest, len(split.header), default_timezone, limits)
    if key in _HEADERS:
        _HEADERS.move_to_end(key)
        read = _HEADERS[key]
    else:
        read = _read_header(split, default_timezone, limits)
        _HEADERS[key] = read
        while len(_HEADERS) > _HEADERS_KEPT:
            _HEADERS.popitem(last=False)
    if read is None:
        return None
    zones, meta = read
    return _Context(zones, (start, end), limits), meta


#: The zones and meta of the last few headers read, by the header's digest and the settings:
#: a feed's header (with its VTIMEZONEs) rarely changes between polls, and reading it
#: through icalendar again cost about a millisecond of every poll. Both are only read after.
_HEADERS: OrderedDict[tuple[bytes, int, str, ParseLimits], tuple[_Zones, Meta] | None] = (
    OrderedDict()
)
_HEADERS_KEPT = 8


def _read_header(
    split: SplitFeed, default_timezone: str, limits: ParseLimits
) -> tuple[_Zones, Meta] | None:
    from bot.core.incremental.blocks import group_body  # here: see TYPE_CHECKING above

    raw_calendars, _ = _scan(_logical_lines(group_body(split, [])), limits)
    if len(raw_calendars) != 1:
        return None
    aliases: dict[str, Any] = {}
    skipped: list[SkippedEvent] = []
    calendar = _parse_raw_calendar(raw_calendars[0], set(), skipped, aliases)
    zones = _zones_for(calendar, default_timezone, aliases)
    calendars = [calendar]
    meta = (
        _header_text(calendars, "X-WR-CALNAME", "NAME"),
        _calendar_timezone(calendars),
        _header_text(calendars, "PRODID"),
    )
    return zones, meta


def parse_simple_groups(
    split: SplitFeed,
    groups: Sequence[Group],
    window: tuple[datetime, datetime],
    default_timezone: str,
    limits: ParseLimits,
) -> FastResults:
    """The groups of ``groups`` that are one simple VEVENT, parsed without icalendar's tree."""
    singles = [
        g
        for g in groups
        if len(g.spans) == 1 and _candidate(split.data[g.spans[0][0] : g.spans[0][1]])
    ]
    if not singles:
        return FastResults({})
    try:
        header = _header_context(split, window, default_timezone, limits)
    except Exception:  # the slow path reports whatever is wrong with the header
        return FastResults({})
    if header is None:
        return FastResults({})
    context, meta = header
    results: dict[bytes, Parsed] = {}
    for group in singles:
        begin, finish = group.spans[0]
        parsed = parse_simple_vevent(split.data[begin:finish], context)
        if parsed is not None:
            results[group.digest] = parsed
    return FastResults(results, meta)
