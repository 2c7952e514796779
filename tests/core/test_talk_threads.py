"""A talk's thread name and archive time: one line, inert, within Discord's limit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.core.models import Occurrence, OccurrenceKey, SeminarDetails
from bot.core.talk_threads import NAME_LIMIT, archive_time, thread_name

START = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def talk(summary: str = "", speaker: str = "", title: str = "", **kw: object) -> Occurrence:
    seminar = SeminarDetails(speaker=speaker, title=title)
    return Occurrence(  # type: ignore[arg-type]
        key=OccurrenceKey("u"), start=START, summary=summary, seminar=seminar, **kw
    )


def test_the_name_is_speaker_and_title() -> None:
    assert thread_name(talk(speaker="Mahoney", title="Graph minors")) == "Mahoney — Graph minors"


def test_a_speaker_already_in_the_title_is_not_repeated() -> None:
    assert thread_name(talk(summary="Mahoney: Graph minors", speaker="Mahoney")) == (
        "Mahoney: Graph minors"
    )


def test_a_talk_without_a_title_still_gets_a_name() -> None:
    assert thread_name(talk()) == "(untitled event)"


def test_a_long_name_is_cut_with_an_ellipsis_and_keeps_the_title_visible() -> None:
    name = thread_name(talk(speaker="S" * 300, title="T" * 300))
    assert len(name) == NAME_LIMIT and name.endswith("…")
    assert "T" in name


def test_pings_and_discord_tokens_are_made_inert() -> None:
    name = thread_name(talk(title="@everyone and @here see <#123> <@&456> <t:1:F>"))
    assert "@everyone" not in name and "@here" not in name
    assert "<#" not in name and "<@" not in name and "<t:" not in name


@given(st.text(max_size=400), st.text(max_size=400))
def test_every_name_is_one_line_of_1_to_100_characters(speaker: str, title: str) -> None:
    name = thread_name(talk(speaker=speaker, title=title))
    assert 1 <= len(name) <= NAME_LIMIT and name.strip() == name
    assert "\n" not in name and "\r" not in name


def test_the_thread_closes_a_day_after_the_talk_ends() -> None:
    timed = talk(title="x", end=START + timedelta(hours=1))
    assert archive_time(timed) == START + timedelta(hours=25)
    all_day = Occurrence(key=OccurrenceKey("d"), start=date(2026, 12, 3))
    assert archive_time(all_day) == datetime(2026, 12, 5, tzinfo=UTC)
