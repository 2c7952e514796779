"""Weekly digest rules: the spec, which week, when it may go out, and what fits in it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.models import Occurrence, OccurrenceKey, SeminarDetails
from bot.core.weekly_digest import (
    current_week,
    description,
    digest_nonce,
    may_post,
    parse_spec,
    span_label,
)

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("text", "weekday", "at"),
    [("mon 09:00", 0, time(9)), ("Monday 9:05", 0, time(9, 5)), (" SUN 23:59 ", 6, time(23, 59))],
)
def test_parse_spec(text: str, weekday: int, at: time) -> None:
    spec = parse_spec(text)
    assert (spec.weekday, spec.at) == (weekday, at)


@pytest.mark.parametrize(
    "text", ["", "09:00", "mon", "xyz 09:00", "mon 24:00", "mon 9:60", "mon 9"]
)
def test_parse_spec_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_spec(text)


def test_week_follows_the_local_clock_across_dst() -> None:
    spec = parse_spec("mon 09:00")
    # Monday 2 Nov 2026, after the change to EST: 09:00 local is 14:00 UTC.
    week = current_week(spec, NY, datetime(2026, 11, 2, 14, 0, tzinfo=UTC))
    assert week.key == "2026-11-02" and week.due == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    # Monday 26 Oct, still EDT: 09:00 local is 13:00 UTC.
    week = current_week(spec, NY, datetime(2026, 10, 26, 13, 0, tzinfo=UTC))
    assert week.key == "2026-10-26"
    # One minute before the due time, the digest of the previous week is current.
    week = current_week(spec, NY, datetime(2026, 11, 2, 13, 59, tzinfo=UTC))
    assert week.key == "2026-10-26"


def test_may_post_at_the_time_or_up_to_a_day_late() -> None:
    spec = parse_spec("wed 09:00")
    due = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
    week = current_week(spec, NY, due)
    assert may_post(week, due) and may_post(week, due + timedelta(hours=23))
    assert not may_post(week, due + timedelta(days=1, minutes=1))
    assert span_label(week) == "Wed 2 Dec – Tue 8 Dec 2026"
    assert len(digest_nonce(10**15, week)) <= 25


def test_week_contains_timed_and_all_day_talks_by_local_day() -> None:
    week = current_week(parse_spec("mon 09:00"), NY, datetime(2026, 12, 7, 15, tzinfo=UTC))
    inside = Occurrence(OccurrenceKey("a"), datetime(2026, 12, 14, 4, 59, tzinfo=UTC))  # Sun 23:59
    outside = Occurrence(OccurrenceKey("b"), datetime(2026, 12, 14, 5, 0, tzinfo=UTC))
    assert week.contains(inside) and not week.contains(outside)
    assert week.contains(Occurrence(OccurrenceKey("c"), date(2026, 12, 13)))
    assert not week.contains(Occurrence(OccurrenceKey("d"), date(2026, 12, 14)))


def talk(i: int, **kw: object) -> Occurrence:
    return Occurrence(
        OccurrenceKey(f"t{i}"),
        datetime(2026, 12, 7, 15, tzinfo=UTC) + timedelta(hours=i),
        seminar=SeminarDetails(title=f"Talk {i} " + "x" * 150, speaker="Speaker " * 20),
        location="Room " * 30,
        **kw,  # type: ignore[arg-type]
    )


def test_description_fits_the_embed_and_counts_the_rest() -> None:
    text = description([talk(i) for i in range(60)], when=lambda o: "<t:1:F>", escape=str)
    assert len(text) <= 4096
    assert text.endswith("more: see `/seminars week`")
    shown = text.count("**Talk ")
    assert f"…and {60 - shown} more" in text


def test_cancelled_talks_are_marked_and_empty_weeks_say_so() -> None:
    text = description([talk(1, status="CANCELLED")], when=lambda o: "when", escape=str)
    assert "~~" in text and "(cancelled)" in text
    assert description([], when=lambda o: "", escape=str) == "No seminars this week."
