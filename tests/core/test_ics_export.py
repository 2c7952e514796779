"""A one-event .ics a calendar app accepts, and a Google Calendar link within Discord's limit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from bot.core.ics_export import LINK_LIMIT, event_ics, google_calendar_link, ics_filename
from bot.core.models import Occurrence, OccurrenceKey, SeminarDetails
from bot.core.parse import parse_feed

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
START = datetime(2026, 12, 3, 20, 30, tzinfo=UTC)


def talk(**changes: object) -> Occurrence:
    base = Occurrence(
        key=OccurrenceKey("talk-1@example.edu"),
        start=START,
        end=START + timedelta(hours=1),
        summary="Seminar: Ünïcode, commas; and \\ slashes",
        location="Hackerman Hall B-17",
        url="https://example.edu/talk-1",
        seminar=SeminarDetails(
            speaker="Grace Hopper", affiliation="Yale", abstract="Line one\nline two " + "x" * 200
        ),
    )
    return base.with_changes(**changes)


def test_ics_round_trips_through_our_own_parser() -> None:
    body = event_ics(talk(), now=NOW)
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    parsed = parse_feed(body, window_start=NOW, window_end=NOW + timedelta(days=30))
    (occ,) = parsed.occurrences
    assert occ.start == START and occ.end == START + timedelta(hours=1)
    assert occ.summary == "Seminar: Ünïcode, commas; and \\ slashes"
    assert occ.location == "Hackerman Hall B-17"
    assert "Grace Hopper (Yale)" in occ.description and "line two" in occ.description


def test_all_day_event_uses_dates() -> None:
    body = event_ics(talk(start=date(2026, 12, 4), end=None), now=NOW)
    assert b"DTSTART;VALUE=DATE:20261204" in body and b"DTEND;VALUE=DATE:20261205" in body
    link = google_calendar_link(talk(start=date(2026, 12, 4), end=None))
    assert parse_qs(urlsplit(link).query)["dates"] == ["20261204/20261205"]


def test_google_link_has_times_in_utc_and_fits_the_button_limit() -> None:
    link = google_calendar_link(talk())
    assert len(link) <= LINK_LIMIT
    query = parse_qs(urlsplit(link).query)
    assert query["action"] == ["TEMPLATE"]
    assert query["dates"] == ["20261203T203000Z/20261203T213000Z"]
    assert query["location"] == ["Hackerman Hall B-17"]
    huge = talk(summary="T" * 2000, location="L" * 2000)
    assert len(google_calendar_link(huge)) <= LINK_LIMIT
    assert "dates=" in google_calendar_link(huge)


def test_filename_is_safe() -> None:
    assert ics_filename(talk(summary="../../etc/passwd: a talk")) == "etc-passwd-a-talk.ics"
    assert ics_filename(talk(summary="???")) == "event.ics"
