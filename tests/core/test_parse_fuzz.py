"""Whatever the bytes, parse_feed answers with a ParsedFeed or a FeedError subclass."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.models import ParsedFeed
from bot.core.parse import ParseLimits, parse_feed
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
            ]
        )
    )
    return b"\n".join([*lines[:i], extra, *lines[i:]])


@FUZZ
@given(mutated())
def test_mutated_corpus_files(body: bytes) -> None:
    check(body)
