"""parse_feed: instants, keys, text and hostile input, as a user of the posts would see them."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.models import Occurrence, OccurrenceKey, ParsedFeed
from bot.core.parse import ParseLimits, parse_feed
from bot.errors import CalendarError, EmptyFeed, NotACalendar, ParseLimitExceeded
from tests.conftest import CORPUS_DIR, SHARED_DIR

WIDE = {
    "window_start": datetime(1990, 1, 1, tzinfo=UTC),
    "window_end": datetime(2040, 1, 1, tzinfo=UTC),
}
SEED = SHARED_DIR / "seeds" / "jhu-cs-seminar.ics"
needs_corpus = pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason="shared corpus not present")


def parse(body: bytes | str, **kwargs: object) -> ParsedFeed:
    data = body.encode() if isinstance(body, str) else body
    return parse_feed(data, **{**WIDE, **kwargs})  # type: ignore[arg-type]


def corpus(name: str) -> ParsedFeed:
    return parse((CORPUS_DIR / name).read_bytes())


def calendar(*events: str, header: str = "") -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{header}{body}END:VCALENDAR\r\n"
    )


def only(feed: ParsedFeed) -> Occurrence:
    assert len(feed.occurrences) == 1, feed.occurrences
    return feed.occurrences[0]


# --- the seed ----------------------------------------------------------------------------


@pytest.mark.skipif(not SEED.is_file(), reason="seed feed not present")
def test_seed_golden_values() -> None:
    feed = parse(SEED.read_bytes())
    occ = only(feed)
    # Regression: the TEC VTIMEZONE is wrong (UTC instants written as local); the IANA name wins.
    assert occ.start == datetime(2019, 11, 5, 15, 45, tzinfo=UTC)
    assert occ.end == datetime(2019, 11, 5, 16, 45, tzinfo=UTC)
    assert occ.timezone == "America/New_York"
    assert not occ.timezone_assumed
    assert occ.key == OccurrenceKey("1962355-1572950700-1572954300@www.cs.jhu.edu", "")
    assert occ.url.startswith("https://www.cs.jhu.edu/event/")
    assert occ.last_modified == datetime(2021, 6, 29, 21, 7, 20, tzinfo=UTC)
    s = occ.seminar
    assert s.series == "CS Seminar"
    assert s.speaker == "Michael Mahoney"
    assert (
        s.affiliation == "ICSI and Department of Statistics, University of California at Berkeley"
    )
    assert s.title == (
        "Why Deep Learning Works: Traditional and Heavy-Tailed Implicit Self-Regularization in "
        "Deep Neural Networks"
    )
    assert occ.title == s.title
    assert s.location == "Hackerman Hall B-17"
    assert occ.place == "Hackerman Hall B-17"
    assert s.abstract.startswith("While deep neural networks (DNNs)")
    assert s.abstract.endswith("why deep learning works.")
    assert s.bio.startswith("Michael W. Mahoney is at")
    assert s.bio.endswith("at UC Berkeley.")
    assert s.video == "Watch seminar video."
    assert feed.calendar_name == "Department of Computer Science"
    assert "ECPv5.12.3" in feed.producer
    assert feed.event_count == 1
    assert ParsedFeed.from_dict(feed.to_dict()) == feed


# --- time zones (corpus spot checks against producer intent) ------------------------------------


@needs_corpus
@pytest.mark.parametrize(
    ("name", "uid_prefix", "start", "zone", "assumed"),
    [
        # Windows zone name with an Outlook VTIMEZONE: 08:00 Berlin in November = 07:00Z
        (
            "icalevents__cest_with_deleted.ics",
            "040000008200E",
            datetime(2021, 11, 11, 7, 0),
            "Europe/Berlin",
            False,
        ),
        # WordPress manual offset TZID=UTC+0 without VTIMEZONE (icalendar gives a naive time)
        (
            "lsjoyous__test_vcalendar-L340-bloor-spadina.ics",
            "978-",
            datetime(2018, 4, 7, 9, 30),
            "",
            False,
        ),
        # Unknown TZID and no VTIMEZONE: fallback zone (UTC here), flagged as a guess
        (
            "allenporter__office_365_invalid_timezone.ics",
            "040000008200E",
            datetime(2024, 4, 26, 14, 0),
            "",
            True,
        ),
        # X-WR-TIMEZONE with UTC times: same instant, displayed in the calendar zone
        (
            "rie__x_wr_timezone_simple_events_issue_59.ics",
            "3bc4jff",
            datetime(2021, 12, 22, 17, 0),
            "America/New_York",
            False,
        ),
        # X-WR-TIMEZONE with floating times: 20:00 US/Eastern (EDT) = 00:00Z next day
        (
            "nodeical__tv-show-episode.ics",
            "20110519T200000Z-79",
            datetime(2011, 5, 20, 0, 0),
            "US/Eastern",
            False,
        ),
        # TZID without VTIMEZONE (old TEC): the IANA name is enough
        (
            "foodtruck__ICalStopReaderTest-smokinbbq.ics",
            "50-1538758800",
            datetime(2018, 10, 5, 22, 0),
            "America/Chicago",
            False,
        ),
        # quoted TZID="America/Chicago" (TEC 4.9.4)
        ("foodtruck__toasty2.ics", "11253-", datetime(2019, 7, 4, 13, 0), "America/Chicago", False),
    ],
)
def test_corpus_instants_match_producer_intent(
    name: str, uid_prefix: str, start: datetime, zone: str, assumed: bool
) -> None:
    feed = corpus(name)
    matches = [o for o in feed.occurrences if o.key.uid.startswith(uid_prefix)]
    assert matches, f"no occurrence with uid {uid_prefix}…"
    occ = min(matches, key=lambda o: o.start)  # type: ignore[arg-type, return-value]
    assert occ.start == start.replace(tzinfo=UTC)
    assert (occ.timezone, occ.timezone_assumed) == (zone, assumed)


@needs_corpus
def test_floating_times_without_calendar_zone_use_the_default_and_say_so() -> None:
    body = (CORPUS_DIR / "calagator__ical_eventful_many.ics").read_bytes()
    feed = parse(body, default_timezone="America/Los_Angeles")
    occ = next(o for o in feed.occurrences if o.key.uid == "E0-001-013482024-7")
    assert occ.start == datetime(2008, 7, 3, 22, 0, tzinfo=UTC)  # 15:00 PDT
    assert (occ.timezone, occ.timezone_assumed) == ("America/Los_Angeles", True)


@needs_corpus
def test_all_day_events_stay_dates_with_exclusive_end() -> None:
    feed = corpus("allenporter__google_calendar_public_holidays.ics")
    occ = next(o for o in feed.occurrences if o.key.uid.startswith("20231110_"))
    assert occ.start == date(2023, 11, 10)
    assert occ.end == date(2023, 11, 11)
    assert occ.all_day


def test_unknown_tzid_falls_back_to_calendar_zone_then_default() -> None:
    event = "UID:a\r\nDTSTART;TZID=Mars/Olympus_Mons:20250101T120000\r\nSUMMARY:x"
    with_xwr = only(parse(calendar(event, header="X-WR-TIMEZONE:Europe/Berlin\r\n")))
    assert with_xwr.start == datetime(2025, 1, 1, 11, 0, tzinfo=UTC)
    assert (with_xwr.timezone, with_xwr.timezone_assumed) == ("Europe/Berlin", True)
    default = only(parse(calendar(event), default_timezone="Asia/Tokyo"))
    assert default.start == datetime(2025, 1, 1, 3, 0, tzinfo=UTC)
    assert (default.timezone, default.timezone_assumed) == ("Asia/Tokyo", True)
    bad_default = only(parse(calendar(event), default_timezone="Not/AZone"))
    assert bad_default.start == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def test_windows_zone_without_vtimezone_is_mapped() -> None:
    event = 'UID:a\r\nDTSTART;TZID="W. Europe Standard Time":20250701T120000\r\nSUMMARY:x'
    occ = only(parse(calendar(event)))
    assert occ.start == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    assert (occ.timezone, occ.timezone_assumed) == ("Europe/Berlin", False)


def test_missing_dtend_uses_duration_or_zero_length_or_one_day() -> None:
    feed = parse(
        calendar(
            "UID:d\r\nDTSTART:20250101T100000Z\r\nDURATION:PT90M",
            "UID:z\r\nDTSTART:20250101T100000Z",
            "UID:a\r\nDTSTART;VALUE=DATE:20250105",
        )
    )
    by_uid = {o.key.uid: o for o in feed.occurrences}
    assert by_uid["d"].end == datetime(2025, 1, 1, 11, 30, tzinfo=UTC)
    assert by_uid["z"].end == by_uid["z"].start
    assert by_uid["a"].end == date(2025, 1, 6)


# --- keys, duplicates, recurrence --------------------------------------------------------


def test_recurring_keys_use_utc_recurrence_ids_and_overrides_win() -> None:
    master = (
        "UID:r\r\nDTSTART;TZID=Europe/Berlin:20250106T100000\r\nDTEND;TZID=Europe/Berlin:"
        "20250106T110000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=Europe/Berlin:"
        "20250113T100000\r\nSUMMARY:Weekly"
    )
    moved = (
        "UID:r\r\nRECURRENCE-ID;TZID=Europe/Berlin:20250120T100000\r\nDTSTART;TZID=Europe/"
        "Berlin:20250121T150000\r\nDTEND;TZID=Europe/Berlin:20250121T160000\r\nSUMMARY:Moved\r\n"
        "STATUS:CANCELLED"
    )
    feed = parse(calendar(master, moved))
    keys = [o.key.recurrence_id for o in feed.occurrences]
    assert keys == ["20250106T090000Z", "20250120T090000Z", "20250127T090000Z"]
    override = feed.occurrences[1]
    assert override.summary == "Moved"
    assert override.start == datetime(2025, 1, 21, 14, 0, tzinfo=UTC)
    assert override.cancelled


def test_all_day_recurrence_ids_are_dates() -> None:
    event = "UID:y\r\nDTSTART;VALUE=DATE:20250301\r\nRRULE:FREQ=YEARLY;COUNT=2\r\nSUMMARY:x"
    feed = parse(calendar(event))
    assert [o.key.recurrence_id for o in feed.occurrences] == ["20250301", "20260301"]


def test_identical_duplicates_collapse_and_uidless_events_get_stable_keys() -> None:
    dup = "UID:same\r\nDTSTART:20250101T100000Z\r\nSUMMARY:x"
    no_uid = "DTSTART:20250102T100000Z\r\nSUMMARY:y\r\nURL:https://e.org/y"
    no_uid2 = "DTSTART:20250103T100000Z\r\nSUMMARY:z"
    first = parse(calendar(dup, dup, no_uid, no_uid2))
    assert first.event_count == 4
    assert len(first.occurrences) == 3
    synthetic = [o.key.uid for o in first.occurrences if o.key.uid.startswith("synthetic-")]
    assert len(set(synthetic)) == 2
    again = parse(calendar(no_uid2, no_uid, dup))
    assert {o.key for o in again.occurrences} == {o.key for o in first.occurrences}


def test_window_limits_occurrences() -> None:
    feed = parse_feed(
        calendar(
            "UID:in\r\nDTSTART:20250101T100000Z", "UID:out\r\nDTSTART:20260101T100000Z"
        ).encode(),
        window_start=datetime(2024, 12, 1, tzinfo=UTC),
        window_end=datetime(2025, 2, 1, tzinfo=UTC),
    )
    assert [o.key.uid for o in feed.occurrences] == ["in"]
    assert feed.event_count == 2


def test_text_fields_are_normalised_once() -> None:
    event = (
        "UID:t\r\nDTSTART:20250101T100000Z\r\nSUMMARY:Talk \u202eevil &amp; more\r\n"
        "DESCRIPTION:<p>Hi<br>there</p>\r\nLOCATION:Room\\, 1\r\nURL:javascript:alert(1)\r\n"
        "CATEGORIES:A,B\r\nCATEGORIES:B,C\r\nSEQUENCE:99999999999\r\nstatus:confirmed"
    )
    occ = only(parse(calendar(event)))
    assert occ.summary == "Talk evil & more"
    assert occ.description == "Hi\nthere"
    assert occ.location == "Room, 1"
    assert occ.url == ""
    assert occ.categories == ("A", "B", "C")
    assert occ.status == "CONFIRMED"
    assert 0 <= occ.sequence < 2**31


def test_long_text_is_capped() -> None:
    event = f"UID:t\r\nDTSTART:20250101T100000Z\r\nSUMMARY:{'s' * 1000}\r\nDESCRIPTION:{'d' * 9000}"
    occ = only(parse(calendar(event)))
    assert len(occ.summary) == 256
    assert len(occ.description) == 4000


# --- envelope problems --------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \r\n\t", b"\xef\xbb\xbf"])
def test_empty_bodies(body: bytes) -> None:
    with pytest.raises(EmptyFeed):
        parse(body)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<!DOCTYPE html><html><title>Just a moment...</title></html>", "HTML"),
        (b'{"message":"Group not found"}', "JSON"),
        (b"hello world", "BEGIN:VCALENDAR"),
    ],
)
def test_non_calendars_are_named(body: bytes, words: str) -> None:
    with pytest.raises(NotACalendar, match=words):
        parse(body)


def test_truncated_download_is_an_error_not_fewer_events() -> None:
    body = calendar("UID:a\r\nDTSTART:20250101T100000Z", "UID:b\r\nDTSTART:20250102T100000Z")
    with pytest.raises(CalendarError, match="truncated"):
        parse(body[: len(body) // 2 + 10])


def test_leading_junk_bom_lone_cr_and_latin1_are_tolerated() -> None:
    body = calendar("UID:a\r\nDTSTART:20250101T100000Z\r\nSUMMARY:Caf\xe9")
    raw = b"INFO: \xef\xbb\xbf\n" + body.replace("\r\n", "\r").encode("latin-1")
    occ = only(parse(raw))
    assert occ.summary == "Café"


def test_body_and_event_caps() -> None:
    body = calendar("UID:a\r\nDTSTART:20250101T100000Z").encode()
    with pytest.raises(ParseLimitExceeded):
        parse(body, limits=ParseLimits(max_bytes=50))
    many = calendar(*[f"UID:{i}\r\nDTSTART:20250101T100000Z" for i in range(6)]).encode()
    with pytest.raises(ParseLimitExceeded):
        parse(many, limits=ParseLimits(max_vevents=5))


# --- hostile events ------------------------------------------------------------------------


def test_rrule_bomb_is_skipped_and_other_events_survive_quickly() -> None:
    bomb = "UID:bomb\r\nDTSTART:20240101T000000Z\r\nRRULE:FREQ=SECONDLY\r\nSUMMARY:bomb"
    normal = [f"UID:n{i}\r\nDTSTART:2025010{i + 1}T100000Z\r\nSUMMARY:n{i}" for i in range(3)]
    started = time.monotonic()
    feed = parse(calendar(bomb, *normal))
    assert time.monotonic() - started < 5
    assert [o.key.uid for o in feed.occurrences] == ["n0", "n1", "n2"]
    assert [s.uid for s in feed.skipped] == ["bomb"]
    assert "SECONDLY" in feed.skipped[0].reason


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MINUTELY",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=HOURLY;BYMINUTE=0,10,20,30,40,50",
        "FREQ=DAILY;COUNT=2000000000",
        "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11;BYMINUTE=1,2,3,4,5,6,7,8,9,10",
    ],
)
def test_expensive_rules_are_prescreened(rule: str) -> None:
    event = f"UID:x\r\nDTSTART:19900101T000000Z\r\nRRULE:{rule}"
    feed = parse(calendar(event, "UID:ok\r\nDTSTART:20250101T100000Z"))
    assert [o.key.uid for o in feed.occurrences] == ["ok"]
    assert [s.uid for s in feed.skipped] == ["x"]


def test_cheap_long_running_rules_are_expanded_up_to_the_series_cap() -> None:
    event = "UID:y\r\nDTSTART:19700101T000000Z\r\nRRULE:FREQ=YEARLY;COUNT=200"
    feed = parse(calendar(event), limits=ParseLimits(max_occurrences_per_series=10))
    assert len(feed.occurrences) == 10
    assert [s.uid for s in feed.skipped] == ["y"]


@pytest.mark.parametrize(
    "event",
    [
        "UID:bad\r\nDTSTART:20261345T250000",
        "UID:bad\r\nDTSTART:18000101T000000Z",
        "UID:bad\r\nSUMMARY:no start",
        "UID:bad\r\nDTSTART:20250101T100000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=XX",
    ],
)
def test_one_bad_event_never_sinks_the_feed(event: str) -> None:
    feed = parse(calendar(event, "UID:good\r\nDTSTART:20250101T100000Z"))
    assert [o.key.uid for o in feed.occurrences] == ["good"]
    assert [s.uid for s in feed.skipped] == ["bad"]
    assert feed.event_count == 2


#: Rules whose BY* parts contradict each other: dateutil searched each until the year 9999.
NEVER_MATCHING = [
    "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=DAILY;BYMONTH=4,6,9,11;BYMONTHDAY=31",
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30",
    "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=1,2,3",
    "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
]
#: Also never matching, caught by the same reasoning (cheap before, but counted as skipped now).
ALSO_NEVER = [
    "FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1",
    "FREQ=YEARLY;BYWEEKNO=1;BYMONTH=6",
    "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=DAILY;INTERVAL=7;BYDAY=TU",
    "FREQ=MONTHLY;BYDAY=6MO",
    "FREQ=DAILY;UNTIL=20200101T000000Z",
]
NEAR = {
    "window_start": datetime(2026, 12, 5, tzinfo=UTC),
    "window_end": datetime(2027, 6, 5, tzinfo=UTC),
}


def never_event(uid: str, rule: str, start: str = "20260105T100000Z") -> str:
    return f"UID:{uid}\r\nDTSTART:{start}\r\nSUMMARY:{uid}\r\nRRULE:{rule}"


def test_six_never_matching_rules_cost_their_events_not_the_feed() -> None:
    bad = [never_event(f"bad{i}", rule) for i, rule in enumerate(NEVER_MATCHING)]
    good = [f"UID:good{i}\r\nDTSTART:2026121{i}T150000Z\r\nSUMMARY:talk {i}" for i in range(3)]
    started = time.monotonic()
    feed = parse(calendar(*bad[:3], *good, *bad[3:]), **NEAR)
    assert time.monotonic() - started < 3  # 25-40 s before: the parser child was killed
    assert [o.key.uid for o in feed.occurrences] == ["good0", "good1", "good2"]
    assert sorted(s.uid for s in feed.skipped) == sorted(f"bad{i}" for i in range(6))
    assert all("never match" in s.reason for s in feed.skipped)
    assert feed.skipped_total == 6


@pytest.mark.parametrize("rule", ALSO_NEVER)
def test_rules_that_cannot_match_are_skipped_with_a_reason(rule: str) -> None:
    feed = parse(calendar(never_event("bad", rule), "UID:ok\r\nDTSTART:20261210T100000Z"), **NEAR)
    assert [o.key.uid for o in feed.occurrences] == ["ok"]
    assert [s.uid for s in feed.skipped] == ["bad"]


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=TH",  # 29 February 2024 was a Thursday
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=MONTHLY;BYMONTHDAY=31",
        "FREQ=YEARLY;BYWEEKNO=53;BYMONTH=1",  # January days of a 53-week year's last week
        "FREQ=MONTHLY;BYDAY=5FR",
        "FREQ=WEEKLY;BYDAY=MO,WE;BYSETPOS=-1",
    ],
)
def test_rare_but_possible_rules_are_kept(rule: str) -> None:
    feed = parse(calendar(never_event("rare", rule, "20240101T100000Z")))
    assert not any("never" in s.reason for s in feed.skipped)
    assert len(feed.occurrences) >= 2


def test_a_rule_the_screen_cannot_judge_is_stopped_by_the_per_event_budget() -> None:
    # A week never holds two 1sts of a month, but the model allows it at the turn of the year.
    rule = "FREQ=WEEKLY;BYMONTHDAY=1;BYSETPOS=2"
    limits = ParseLimits(max_series_cpu_seconds=0.3)
    started = time.monotonic()
    feed = parse(
        calendar(never_event("odd", rule), "UID:ok\r\nDTSTART:20261210T100000Z"),
        limits=limits,
        **NEAR,
    )
    assert time.monotonic() - started < 3
    assert [o.key.uid for o in feed.occurrences] == ["ok"]
    assert [s.uid for s in feed.skipped] == ["odd"]
    assert "CPU" in feed.skipped[0].reason


def test_count_rules_still_expand_fully_inside_the_window() -> None:
    event = never_event("c", "FREQ=WEEKLY;COUNT=5;BYDAY=TU", "20261208T100000Z")
    feed = parse(calendar(event), **NEAR)
    assert len(feed.occurrences) == 5
    assert feed.skipped == ()


def zone(rule: str, tzid: str = "Bad Zone", extra: str = "") -> str:
    return (
        f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n{extra}"
        "BEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+0200\r\n"
        f"TZOFFSETTO:+0100\r\nRRULE:{rule}\r\nEND:STANDARD\r\n"
        "BEGIN:DAYLIGHT\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+0100\r\n"
        "TZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
        "END:VTIMEZONE\r\n"
    )


def zoned_events(tzid: str = "Bad Zone") -> list[str]:
    return [
        f"UID:zoned\r\nDTSTART;TZID={tzid}:20261210T100000\r\nSUMMARY:in the zone",
        "UID:good\r\nDTSTART:20261211T100000Z\r\nSUMMARY:good",
    ]


def test_vtimezone_with_a_minutely_rule_from_1601_falls_back_and_keeps_the_feed() -> None:
    started = time.monotonic()
    feed = parse(calendar(*zoned_events(), header=zone("FREQ=MINUTELY")), **NEAR)
    assert time.monotonic() - started < 3  # ran for minutes before
    zoned, good = feed.occurrences
    assert good.key.uid == "good"
    assert zoned.key.uid == "zoned"
    assert zoned.start == datetime(2026, 12, 10, 10, 0, tzinfo=UTC)  # the default zone, UTC
    assert zoned.timezone_assumed  # and the post says the zone was a guess


@pytest.mark.parametrize(
    "rule",
    ["FREQ=MINUTELY", "FREQ=DAILY", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=WEEKLY;BYDAY=SU"],
)
def test_a_costly_vtimezone_falls_back_to_the_iana_zone_it_names(rule: str) -> None:
    header = zone(rule, "Berlin time", "X-LIC-LOCATION:Europe/Berlin\r\n")
    feed = parse(calendar(*zoned_events("Berlin time"), header=header), **NEAR)
    zoned = feed.occurrences[0]
    assert zoned.start == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    assert zoned.timezone == "Europe/Berlin"
    assert not zoned.timezone_assumed
    windows = zone(rule, "W. Europe Standard Time")
    feed = parse(calendar(*zoned_events("W. Europe Standard Time"), header=windows), **NEAR)
    assert feed.occurrences[0].start == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


def test_a_vtimezone_with_thousands_of_parts_falls_back() -> None:
    part = (
        "BEGIN:STANDARD\r\nDTSTART:{year}0101T000000\r\nTZOFFSETFROM:+0100\r\n"
        "TZOFFSETTO:+0100\r\nRDATE:{year}0101T000000\r\nEND:STANDARD\r\n"
    )
    parts = "".join(part.format(year=1000 + i) for i in range(5000))
    header = f"BEGIN:VTIMEZONE\r\nTZID:Bad Zone\r\n{parts}END:VTIMEZONE\r\n"
    events = [
        f"UID:z{i}\r\nDTSTART;TZID=Bad Zone:20261210T{i % 24:02}{i // 24:02}00" for i in range(500)
    ]
    started = time.monotonic()
    feed = parse(calendar(*events, header=header), **NEAR)
    assert time.monotonic() - started < 3  # 7 s before: every lookup asked all 5,000 parts
    assert len(feed.occurrences) == 500
    assert all(o.timezone_assumed for o in feed.occurrences)


def test_a_yearly_vtimezone_is_still_used() -> None:
    feed = parse(
        calendar(*zoned_events(), header=zone("FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU")), **NEAR
    )
    assert feed.occurrences[0].start == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    assert not feed.occurrences[0].timezone_assumed


def test_a_costly_vtimezone_nested_in_an_event_costs_that_event() -> None:
    nested = zone("FREQ=MINUTELY").strip()
    event = f"UID:nested\r\nDTSTART;TZID=Bad Zone:20261210T100000\r\n{nested}"
    started = time.monotonic()
    feed = parse(calendar(event, zoned_events()[1]), **NEAR)
    assert time.monotonic() - started < 3
    assert [o.key.uid for o in feed.occurrences] == ["good"]
    assert [s.uid for s in feed.skipped] == ["nested"]


def test_thousands_of_rdates_are_capped_per_event_and_the_surplus_counted() -> None:
    first = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    stamps = ",".join(
        f"{first.replace(hour=0) + timedelta(minutes=10 * i):%Y%m%dT%H%M%SZ}" for i in range(5000)
    )
    event = f"UID:flood\r\nDTSTART:{first:%Y%m%dT%H%M%SZ}\r\nSUMMARY:flood\r\nRDATE:{stamps}"
    feed = parse(calendar(event, "UID:ok\r\nDTSTART:20261210T100000Z"), **NEAR)
    flood = [o for o in feed.occurrences if o.key.uid == "flood"]
    assert len(flood) == ParseLimits().max_occurrences_per_series == 200
    assert flood == sorted(flood, key=lambda o: o.start)  # the earliest are kept
    assert [s.uid for s in feed.skipped] == ["flood"]
    assert feed.skipped_total == 5000 - 200  # DTSTART is one of the RDATEs
    assert "4,800 occurrences" in feed.skipped[0].reason
    assert ParsedFeed.from_dict(feed.to_dict()).skipped_total == feed.skipped_total


def test_utf16_and_utf32_feeds_are_decoded() -> None:
    text = calendar("UID:wide\r\nDTSTART:20261210T100000Z\r\nSUMMARY:Café – 日本語 talk")
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        for body in (text.encode(encoding), "\ufeff".encode(encoding) + text.encode(encoding)):
            occ = only(parse(body))
            assert occ.summary == "Café – 日本語 talk", encoding
    with pytest.raises(NotACalendar, match="HTML"):
        parse("<html><body>not here</body></html>".encode("utf-16"))
    with pytest.raises(EmptyFeed):
        parse("\ufeff  \r\n".encode("utf-16"))


def test_deep_nesting_is_skipped_not_recursed() -> None:
    nested = "BEGIN:VEVENT\r\n" * 20_000 + "UID:deep\r\n" + "END:VEVENT\r\n" * 20_000
    body = calendar("UID:ok\r\nDTSTART:20250101T100000Z").replace(
        "BEGIN:VEVENT", nested + "BEGIN:VEVENT", 1
    )
    started = time.monotonic()
    feed = parse(body)
    assert time.monotonic() - started < 5
    assert [o.key.uid for o in feed.occurrences] == ["ok"]
    assert [s.uid for s in feed.skipped] == ["deep"]


def test_unparseable_block_is_dropped_and_the_rest_kept() -> None:
    body = calendar(
        "UID:ok\r\nDTSTART:20250101T100000Z",
        header="BEGIN:VTIMEZONE\r\nTZID:X\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
        "TZOFFSETFROM:+5328\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
    )
    assert [o.key.uid for o in parse(body).occurrences] == ["ok"]


def test_multiple_calendars_are_merged() -> None:
    body = calendar("UID:a\r\nDTSTART:20250101T100000Z") + calendar(
        "UID:b\r\nDTSTART:20250102T100000Z"
    )
    assert [o.key.uid for o in parse(body).occurrences] == ["a", "b"]


def test_reversed_event_order_gives_the_same_result() -> None:
    events = [f"UID:e{i}\r\nDTSTART:2025010{i + 1}T100000Z\r\nSUMMARY:{i}" for i in range(5)]
    assert parse(calendar(*events)).occurrences == parse(calendar(*reversed(events))).occurrences


def test_naive_window_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_feed(b"", window_start=datetime(2025, 1, 1), window_end=datetime(2026, 1, 1))


_ = Path  # keep import for type checkers of helpers
