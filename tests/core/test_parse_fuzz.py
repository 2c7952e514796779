"""Whatever the bytes, parse_feed answers with a ParsedFeed or a FeedError subclass."""

from __future__ import annotations

from datetime import UTC, datetime

from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import vRecur

from bot.core.models import ParsedFeed
from bot.core.parse import ParseLimits, parse_feed
from bot.core.rrule_match import never_matches
from bot.errors import FeedError
from tests.conftest import corpus_files

WINDOW = {
    "window_start": datetime(2000, 1, 1, tzinfo=UTC),
    "window_end": datetime(2030, 1, 1, tzinfo=UTC),
}
LIMITS = ParseLimits(max_occurrences_per_series=20)
# Small, varied seeds keep each example fast: the seed feed plus a few quirky corpus files.
_SMALL = [p for p in corpus_files() if p.stat().st_size < 12_000]
SEEDS = [p.read_bytes() for p in _SMALL[:: max(1, len(_SMALL) // 12)]] or [
    b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20250101T100000Z\r\nRRULE:FREQ=DAILY"
    b"\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
]
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check(body: bytes) -> None:
    try:
        result = parse_feed(body, limits=LIMITS, **WINDOW)
    except FeedError as exc:
        # The catch-all in parse_feed keeps the contract, but reaching it means a bug here.
        assert not str(exc).startswith("parser failure"), exc
        return
    assert isinstance(result, ParsedFeed)


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(body: bytes) -> None:
    check(body)


@FUZZ
@given(st.binary(max_size=500))
def test_arbitrary_bytes_inside_a_calendar(junk: bytes) -> None:
    check(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" + junk + b"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from(SEEDS)))
    lines = bytes(body).split(b"\n")
    kind = draw(st.sampled_from(["flip", "delete", "truncate", "duplicate", "insert"]))
    if kind == "flip" and body:
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(body) - 1))
            body[i] = draw(st.integers(0, 255))
        return bytes(body)
    if kind == "delete" and len(lines) > 1:
        i = draw(st.integers(0, len(lines) - 1))
        return b"\n".join(lines[:i] + lines[i + 1 :])
    if kind == "truncate":
        return bytes(body[: draw(st.integers(0, len(body)))])
    if kind == "duplicate" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        return b"\n".join(lines[: i + 1] + lines[i:])
    i = draw(st.integers(0, len(lines)))
    extra = draw(
        st.sampled_from(
            [
                b"RRULE:FREQ=SECONDLY",
                b"RRULE:FREQ=DAILY;INTERVAL=0",
                b"DTSTART:99991231T999999",
                b"BEGIN:VEVENT",
                b"END:VCALENDAR",
                b"DTSTART;TZID=Nowhere/Land:20250101T000000",
                b"SEQUENCE:-99999999999999",
                b"EXDATE:garbage",
                b"RRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",
                b"RRULE:FREQ=WEEKLY;BYDAY=MO;BYSETPOS=3",
                b"RRULE:FREQ=MINUTELY;BYMONTH=4",
            ]
        )
    )
    return b"\n".join([*lines[:i], extra, *lines[i:]])


@FUZZ
@given(mutated())
def test_mutated_corpus_files(body: bytes) -> None:
    check(body)


_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw: st.DrawFn) -> str:
    """Recurrence rules built to contradict themselves often."""
    freq = draw(st.sampled_from(["YEARLY", "MONTHLY", "WEEKLY", "DAILY"]))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.sampled_from([2, 3, 4, 7, 12, 14, 24, 28]))}")

    def some(name: str, values: st.SearchStrategy[int], most: int = 3) -> None:
        if draw(st.booleans()):
            chosen = draw(st.lists(values, min_size=1, max_size=most, unique=True))
            parts.append(f"{name}={','.join(map(str, chosen))}")

    some("BYMONTH", st.integers(1, 12))
    some("BYMONTHDAY", st.integers(-31, 31).filter(bool))
    if freq == "YEARLY":
        some("BYYEARDAY", st.integers(-366, 366).filter(bool), 2)
        some("BYWEEKNO", st.integers(-53, 53).filter(bool), 2)
    if draw(st.booleans()):
        ordinal = st.sampled_from(["", "", "1", "2", "-1", "5", "-5", "6", "53", "-53"])
        days = draw(st.lists(st.tuples(ordinal, st.sampled_from(_DAYS)), min_size=1, max_size=2))
        parts.append("BYDAY=" + ",".join(n + d for n, d in days))
    some("BYSETPOS", st.sampled_from([1, 2, -1, 3, 6, -6, 40, 100]), 1)
    if draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(_DAYS))}")
    return ";".join(parts)


@settings(max_examples=60, deadline=None)
@given(
    rules(),
    st.datetimes(datetime(9800, 1, 1), datetime(9990, 12, 31)),
)
def test_a_rule_judged_never_matching_really_yields_nothing(rule: str, start: datetime) -> None:
    """Soundness of the pre-screen's model against dateutil itself (which stops at 9999, so a
    start late in the calendar keeps every search short)."""
    try:
        expansion = rrulestr(rule, dtstart=start.replace(second=0, microsecond=0))
    except ValueError:
        return  # dateutil refuses the rule outright: nothing to compare
    verdict = never_matches(vRecur.from_ical(rule), start)
    if verdict is not None:
        try:
            first = next(iter(expansion), None)
        except (IndexError, ValueError):
            return  # dateutil trips over some ordinals (53MO with BYMONTH): the parser skips them
        assert first is None, (rule, verdict)
