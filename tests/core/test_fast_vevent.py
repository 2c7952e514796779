"""The fast VEVENT path must read every event it accepts exactly as icalendar's path does.

Each group is parsed both ways over the same window: the fast path either declines or yields
the very occurrences, spans and UIDs the reference parse (the parser on the header plus that
group alone) yields. Corpus calendars, the bench feed and generated events are all tried.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.feedgen import render_feed, seminar_series
from bot.core.charset import to_utf8
from bot.core.fast_vevent import Parsed, parse_simple_groups
from bot.core.incremental import absorb, parse_changed
from bot.core.incremental.blocks import SplitFeed, group_body
from bot.core.incremental.split import split_feed
from bot.core.parse import ParseLimits, parse_by_uid, parse_feed
from bot.errors import FeedError
from tests.conftest import corpus_files

LIMITS = ParseLimits()
WIDE = (datetime(1971, 1, 1, tzinfo=UTC), datetime(2099, 1, 1, tzinfo=UTC))
HALF_YEAR = (datetime(2025, 10, 1, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC))


def reference(split: SplitFeed, index: int, window: tuple[datetime, datetime], tz: str) -> Parsed:
    group = split.groups[index]
    parsed = parse_by_uid(
        group_body(split, [group]),
        window_start=window[0],
        window_end=window[1],
        default_timezone=tz,
        limits=LIMITS,
    )
    occurrences, spans, found = [], [], set()
    for uid, part in parsed.by_uid.items():
        if part.skipped:
            return (), (), frozenset({"<skipped>"})
        found.add(uid)
        occurrences.extend(part.occurrences)
        spans.extend(part.spans)
    return tuple(occurrences), tuple(spans), frozenset(found)


def compare(body: bytes, window: tuple[datetime, datetime], tz: str = "UTC") -> int:
    """Assert fast == reference for every accepted group; return how many were accepted."""
    split = split_feed(
        to_utf8(body), max_vevents=LIMITS.max_vevents, max_nesting=LIMITS.max_nesting
    )
    if split is None:
        return 0
    fast = parse_simple_groups(split, split.groups, window, tz, LIMITS)
    if fast.results:
        header = parse_by_uid(
            group_body(split, []), window_start=window[0], window_end=window[1], default_timezone=tz
        )
        assert fast.meta == (header.calendar_name, header.calendar_timezone, header.producer)
    for index, group in enumerate(split.groups):
        got = fast.results.get(group.digest)
        if got is not None:
            assert got == reference(split, index, window, tz), group.uid_line
    return len(fast.results)


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_every_corpus_event_reads_the_same_both_ways(path: Path) -> None:
    body = path.read_bytes()
    try:
        parse_feed(body, window_start=WIDE[0], window_end=WIDE[1])
    except FeedError:
        return  # the whole feed is refused: the incremental poll never reaches its groups
    for window in (WIDE, HALF_YEAR):
        compare(body, window)
    compare(body, HALF_YEAR, "Europe/Berlin")


def test_the_corpus_feed_of_the_events_calendar_takes_the_fast_path() -> None:
    seed = [p for p in corpus_files() if p.name == "seed__jhu-cs-seminar.ics"]
    if not seed:
        pytest.skip("the shared corpus is not beside the repository")
    assert compare(seed[0].read_bytes(), WIDE) == 1


def test_the_bench_feed_reads_the_same_and_mostly_takes_the_fast_path() -> None:
    talks = seminar_series(60, first=datetime(2025, 12, 1, 15, tzinfo=UTC), recurring_share=0.1)
    body = render_feed(talks)
    assert compare(body, HALF_YEAR) >= 50
    assert compare(body, WIDE, "America/Chicago") >= 50


def test_the_incremental_poll_with_fast_groups_equals_the_full_parse() -> None:
    talks = seminar_series(40, first=datetime(2025, 12, 1, 15, tzinfo=UTC), recurring_share=0.1)
    body = render_feed(talks)
    out = parse_changed(body, window_start=HALF_YEAR[0], window_end=HALF_YEAR[1])
    full = parse_feed(body, window_start=HALF_YEAR[0], window_end=HALF_YEAR[1])
    state, _, _ = absorb(None, out, body_hash="", settings=b"")
    assert state is not None
    assembled = state.assemble(HALF_YEAR[0], HALF_YEAR[1], LIMITS, out.exact)
    assert assembled is not None
    assert assembled.occurrences == full.occurrences
    assert (assembled.calendar_name, assembled.producer) == (full.calendar_name, full.producer)


# --- generated events ----------------------------------------------------------------------

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
    "Etc/UTC",
    "US/Eastern",
    "GMT",
]
#: Header zones also in the names producers really write (Windows names, nonsense).
HEADER_ZONES = [
    *ZONES,
    "Eastern Standard Time",
    "Customized Time Zone",
    "/mozilla.org/Europe/Berlin",
]
TEXT = st.lists(
    st.sampled_from(
        [
            *"abcXYZ 019,;:\\\"'<>&/=",
            "\\n",
            "\\N",
            "\\,",
            "\\;",
            "\\\\",
            "é",
            "漢",
            "😀",
            "\t",
            "\u00a0",
            "  ",
        ]
    ),
    max_size=120,
).map("".join)


def _fold(line: str, width: int, newline: str) -> str:
    data = line.encode("utf-8")
    if width <= 0 or len(data) <= width:
        return line + newline
    parts = [data[i : i + width] for i in range(0, len(data), width)]  # may split a character
    return (newline + " ").encode().join(parts).decode("utf-8", "surrogateescape") + newline


@st.composite
def calendars(draw: st.DrawFn) -> tuple[bytes, str]:
    zone = draw(st.sampled_from(ZONES))
    base = draw(st.datetimes(min_value=datetime(2025, 9, 1), max_value=datetime(2026, 5, 1)))
    base = base.replace(microsecond=0)
    kind = draw(st.sampled_from(["tzid", "utc", "floating", "date"]))
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    width = draw(st.sampled_from([0, 0, 20, 74]))
    lines = ["BEGIN:VEVENT", f"UID:{draw(st.sampled_from(['a@x', 'b', ' spaced ', 'é-1']))}"]
    length = draw(
        st.sampled_from(
            [None, timedelta(0), timedelta(hours=1), timedelta(days=1), -timedelta(hours=2)]
        )
    )

    def stamp(name: str, value: datetime) -> str:
        if kind == "tzid":
            return f"{name};TZID={zone}:{value:%Y%m%dT%H%M%S}"
        if kind == "utc":
            return f"{name}:{value:%Y%m%dT%H%M%S}Z"
        if kind == "floating":
            return f"{name}:{value:%Y%m%dT%H%M%S}"
        return f"{name};VALUE=DATE:{value:%Y%m%d}"

    lines.append(stamp("DTSTART", base))
    end_kind = draw(st.sampled_from(["dtend", "duration", "none"]))
    if length is not None and end_kind == "dtend":
        lines.append(stamp("DTEND", base + length))
    elif length is not None and end_kind == "duration":
        sign = "-" if length < timedelta(0) else ""
        lines.append(f"DURATION:{sign}P{abs(length).days}DT{abs(length).seconds}S")
    for name in draw(
        st.lists(st.sampled_from(["SUMMARY", "DESCRIPTION", "LOCATION", "X-FOO"]), unique=True)
    ):
        language = draw(st.sampled_from(["", ";LANGUAGE=en-us"])) if name != "X-FOO" else ""
        lines.append(f"{name}{language}:{draw(TEXT)}")
    if draw(st.booleans()):
        lines.append("ATTACH;FMTTYPE=image/jpeg:https://example.org/a,b;c.jpg")
    if draw(st.booleans()):
        lines.append('ORGANIZER;CN="Dept, of: CS":MAILTO:cs@example.org')
    if draw(st.booleans()):
        lines.append(f"CATEGORIES:{draw(TEXT)}")
    if draw(st.booleans()):
        lines.append(f"STATUS:{draw(st.sampled_from(['CONFIRMED', 'cancelled', 'x y']))}")
    if draw(st.booleans()):
        lines.append(f"SEQUENCE:{draw(st.sampled_from(['0', '3', '-1', '99999999999']))}")
    if draw(st.booleans()):
        lines.append(
            f"LAST-MODIFIED:{draw(st.sampled_from(['20250101T000000Z', '20250101T000000']))}"
        )
    if draw(st.booleans()):
        lines.append(
            f"URL{draw(st.sampled_from(['', ';VALUE=URI']))}:https://example.org/event?a=1&b=2"
        )
    lines.append("DTSTAMP:20250101T000000Z")
    lines.append("END:VEVENT")
    header = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//fast//EN"]
    if draw(st.booleans()):
        header.append(f"X-WR-TIMEZONE:{draw(st.sampled_from(HEADER_ZONES))}")
    text = (
        "".join(_fold(line, width, newline) for line in [*header, *lines])
        + "END:VCALENDAR"
        + newline
    )
    return text.encode("utf-8", "surrogateescape"), draw(
        st.sampled_from(["UTC", "America/Chicago"])
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars(), st.sampled_from([HALF_YEAR, WIDE]))
def test_generated_simple_events_read_the_same_both_ways(
    case: tuple[bytes, str], window: tuple[datetime, datetime]
) -> None:
    body, default_timezone = case
    compare(body, window, default_timezone)


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(min_value=datetime(2025, 9, 20), max_value=datetime(2025, 10, 10)), st.booleans()
)
def test_window_edges_read_the_same_both_ways(start: datetime, all_day: bool) -> None:
    start = start.replace(microsecond=0, second=0, minute=0)
    when = f";VALUE=DATE:{start:%Y%m%d}" if all_day else f":{start:%Y%m%dT%H%M%S}Z"
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:edge\r\n"
        f"DTSTART{when}\r\nSUMMARY:edge\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    edge = datetime(2025, 10, 1, tzinfo=UTC)
    for window in ((edge, edge + timedelta(days=3)), (edge - timedelta(days=3), edge)):
        compare(body, window)


PLAIN = [
    "UID:decline@x",
    "DTSTART;TZID=America/New_York:20251201T160000",
    "DTEND;TZID=America/New_York:20251201T170000",
    "SUMMARY:A talk",
]


@pytest.mark.parametrize(
    "extra",
    [
        "RRULE:FREQ=WEEKLY;COUNT=3",
        "RDATE:20251208T160000Z",
        "EXDATE;TZID=America/New_York:20251208T160000",
        "RECURRENCE-ID:20251201T210000Z",
        "X-ALT-DESC;FMTTYPE=text/html:<p>A talk</p>",
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM",
        "SUMMARY;LANGUAGE=en:A second summary",
        'DESCRIPTION;ALTREP="cid:x":text',
        "EXRULE:FREQ=WEEKLY;COUNT=3",
        "LOCATION;ENCODING=QUOTED-PRINTABLE:Room=205",
        "URL;VALUE=TEXT:not a link",
        "summary:lower-case name",
        "SUMMARY:A duplicate summary",
    ],
)
def test_the_fast_path_leaves_what_it_does_not_know_to_icalendar(extra: str) -> None:
    body = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "BEGIN:VEVENT",
            *PLAIN,
            extra,
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    ).encode()
    assert compare(body, HALF_YEAR) == 0
    plain = body.replace(f"{extra}\r\n".encode(), b"")
    assert compare(plain, HALF_YEAR) == 1


@pytest.mark.parametrize(
    "tzid",
    ["Eastern Standard Time", "America/New York", "Customized Time Zone", "america/new_york"],
)
def test_a_zone_that_is_not_an_exact_iana_name_is_left_to_icalendar(tzid: str) -> None:
    body = "\r\n".join(
        [
            "BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:zone@x",
            f"DTSTART;TZID={tzid}:20251201T160000", "SUMMARY:A talk", "END:VEVENT", "END:VCALENDAR", "",
        ]
    ).encode()  # fmt: skip
    assert compare(body, HALF_YEAR) == 0


def test_a_header_read_before_is_not_taken_for_another() -> None:
    # The header's zones are remembered between polls by the header's digest and the
    # settings: a feed whose header changes, or a poll under another default zone, must read
    # its floating times the new way. Each body is compared twice (the second time from the
    # remembered header).
    talks = seminar_series(6, first=datetime(2026, 3, 2, 15, tzinfo=UTC))
    floating = render_feed(talks).replace(b";TZID=America/New_York:", b":")
    body = floating.replace(b"VERSION:2.0\r\n", b"VERSION:2.0\r\nX-WR-TIMEZONE:Asia/Tokyo\r\n")
    other = floating.replace(b"VERSION:2.0\r\n", b"VERSION:2.0\r\nX-WR-CALNAME:Talks\r\n")
    assert len({floating, body, other}) == 3
    variants = ((body, "UTC"), (other, "UTC"), (other, "Europe/Berlin"), (body, "UTC"))
    for variant, tz in variants:
        for _ in range(2):
            assert compare(variant, HALF_YEAR, tz) > 0
