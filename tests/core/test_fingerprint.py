"""The fingerprint changes exactly when something a reader sees changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.fingerprint import FINGERPRINT_FIELDS, fingerprint, format_when, visible_changes
from bot.core.models import Occurrence, OccurrenceKey, SeminarDetails

START = datetime(2026, 3, 5, 15, 45, tzinfo=UTC)


def talk(**fields: Any) -> Occurrence:
    base: dict[str, Any] = {
        "key": OccurrenceKey("1962355-1572950700-1572954300@www.cs.jhu.edu"),
        "start": START,
        "end": START + timedelta(hours=1),
        "timezone": "America/New_York",
        "summary": "CS Seminar: Jane Doe",
        "description": "Abstract: graphs.",
        "location": "Hackerman B17",
        "url": "https://www.cs.jhu.edu/event/cs-seminar-jane-doe/",
        "categories": ("Seminar", "Theory"),
        "seminar": SeminarDetails(
            series="CS Seminar", speaker="Jane Doe", title="Graphs", abstract="graphs."
        ),
    }
    base.update(fields)
    return Occurrence(**base)


def test_volatile_stamps_do_not_change_the_fingerprint() -> None:
    a = talk(last_modified=datetime(2026, 1, 1, tzinfo=UTC), sequence=0)
    b = talk(last_modified=datetime(2026, 2, 9, tzinfo=UTC), sequence=7)
    assert fingerprint(a) == fingerprint(b)


def test_property_order_whitespace_and_category_order_do_not_change_it() -> None:
    original = talk()
    data = original.to_dict()
    reordered = Occurrence.from_dict(dict(reversed(list(data.items()))))
    padded = talk(summary="  CS Seminar: Jane Doe \n", categories=("Theory", "Seminar"))
    assert fingerprint(reordered) == fingerprint(padded) == fingerprint(original)


def test_same_instant_in_another_offset_is_the_same_fingerprint() -> None:
    eastern = START.astimezone(ZoneInfo("America/New_York"))
    assert eastern.utcoffset() != timedelta(0)
    assert fingerprint(talk(start=eastern)) == fingerprint(talk())


def _changed(name: str, occ: Occurrence) -> Occurrence:
    if name == "start":
        return occ.with_changes(start=occ.start + timedelta(minutes=30))  # type: ignore[operator]
    if name == "end":
        return occ.with_changes(end=occ.end + timedelta(minutes=30))  # type: ignore[operator]
    if name == "timezone":
        return occ.with_changes(timezone="Europe/Berlin")
    if name == "timezone_assumed":
        return occ.with_changes(timezone_assumed=True)
    if name == "categories":
        return occ.with_changes(categories=("Seminar",))
    if name.startswith("seminar."):
        attr = name.split(".", 1)[1]
        old = getattr(occ.seminar, attr)
        seminar = SeminarDetails(**{**occ.seminar.to_dict(), attr: old + " (changed)"})
        return occ.with_changes(seminar=seminar)
    return occ.with_changes(**{name: getattr(occ, name) + " (changed)"})


@pytest.mark.parametrize("name", FINGERPRINT_FIELDS)
def test_every_fingerprinted_field_changes_it_and_is_reported(name: str) -> None:
    # seminar.location is only shown when LOCATION is empty, so test it there.
    old = talk(location="") if name == "seminar.location" else talk()
    new = _changed(name, old)
    assert fingerprint(new) != fingerprint(old)
    assert visible_changes(old, new), f"{name} changed but no visible change was reported"


def test_visible_changes_are_human_old_to_new() -> None:
    old = talk()
    new = talk(
        start=START + timedelta(days=1),
        end=START + timedelta(days=1, hours=1),
        location="Malone 228",
        seminar=SeminarDetails(series="CS Seminar", speaker="John Roe", title="Graphs"),
    )
    changes = {c.field: (c.old, c.new) for c in visible_changes(old, new)}
    assert changes["time"] == (
        "Thu 5 Mar 2026 10:45–11:45 (America/New_York)",
        "Fri 6 Mar 2026 10:45–11:45 (America/New_York)",
    )
    assert changes["place"] == ("Hackerman B17", "Malone 228")
    assert changes["speaker"] == ("Jane Doe", "John Roe")
    # The abstract changed too, so the raw description is not listed on top of it.
    assert "description" not in changes


def test_cancelled_prefix_on_the_summary_is_reported_when_the_title_is_unchanged() -> None:
    old = talk()
    new = talk(summary="CANCELLED--CS Seminar: Jane Doe")
    assert [(c.field, c.new) for c in visible_changes(old, new)] == [
        ("summary", "CANCELLED--CS Seminar: Jane Doe")
    ]


def test_long_texts_are_shortened_in_change_lists() -> None:
    old = talk(seminar=SeminarDetails(), description="a")
    new = talk(seminar=SeminarDetails(), description="word " * 500)
    (change,) = visible_changes(old, new)
    assert change.field == "description" and len(change.new) <= 300 and change.new.endswith("…")


def test_all_day_events_display_as_dates() -> None:
    day = talk(start=date(2026, 3, 5), end=date(2026, 3, 6), timezone="")
    span = talk(start=date(2026, 3, 5), end=date(2026, 3, 8), timezone="")
    assert format_when(day) == "Thu 5 Mar 2026 (all day)"
    assert format_when(span) == "Thu 5 Mar 2026 – Sat 7 Mar 2026 (all day)"


def test_unknown_zone_falls_back_to_utc_and_says_when_assumed() -> None:
    assert format_when(talk(timezone="Mars/Base", timezone_assumed=True)) == (
        "Thu 5 Mar 2026 15:45–16:45 (UTC) (time zone assumed)"
    )


def test_fingerprints_stay_the_values_stored_rows_hold() -> None:
    """Stored events keep their fingerprint across restarts and upgrades: a different hash for
    the same content would make every stored talk look edited."""
    from dataclasses import replace

    from tests.store.factories import T0, tec_occ

    occurrence = tec_occ(
        7,
        T0,
        location=" Room 5 ",
        categories=("Talk", " Logic"),
        description="Abstract  ",
        seminar=SeminarDetails(speaker="Ada Lovelace", title="On engines"),
    )
    all_day = replace(occurrence, start=date(2026, 3, 2), end=date(2026, 3, 3), status="CANCELLED")
    assert fingerprint(occurrence) == (
        "e26dc05ac1fd7a44d9351f29a6ddc95e9b3a908df2d0741847b1b54d9f91cdac"
    )
    assert fingerprint(all_day) == (
        "9f0e4089af0fafc9cbb033c3bf9a151b50d713b878fd01f771814bf630bc38e1"
    )
