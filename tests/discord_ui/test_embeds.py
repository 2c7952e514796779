"""Presentation rules: feed text is inert, cards fit Discord's limits, all-day stays a date."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.models import Action, ActionKind, Occurrence, OccurrenceKey, SeminarDetails
from bot.discord_ui.embeds import (
    announcement_embed,
    compact_embed,
    format_when_discord,
    inert,
    reference_marker,
)


def occurrence(**kw: object) -> Occurrence:
    base = dict(
        key=OccurrenceKey("u"),
        start=datetime(2026, 12, 3, 15, tzinfo=UTC),
        end=datetime(2026, 12, 3, 16, tzinfo=UTC),
        summary="Talk",
    )
    base.update(kw)
    return Occurrence(**base)  # type: ignore[arg-type]


def test_inert_neutralises_pings_links_and_markup() -> None:
    text = inert("@everyone @here <@123> <@&45> <#67> </cmd:1> <t:1:R> **bold** [x](http://y)")
    assert "@everyone" not in text and "@here" not in text
    for token in ("<@123>", "<@&45>", "<#67>", "</cmd:1>", "<t:1:R>"):
        assert token not in text
    assert "**" not in text
    assert "\\[x\\]\\(" in text  # escaped brackets: Discord shows them, never as a masked link
    assert "](" not in text


def test_timed_events_use_discord_timestamps_and_all_day_events_dates() -> None:
    timed = format_when_discord(occurrence())
    start, end = 1796310000, 1796313600  # 2026-12-03 15:00 and 16:00 UTC
    assert timed == f"<t:{start}:F> – <t:{end}:t> (<t:{start}:R>)"
    all_day = format_when_discord(occurrence(start=date(2026, 12, 3), end=date(2026, 12, 4)))
    assert all_day == "Thu 3 Dec 2026 (all day)"
    assert "<t:" not in all_day


@settings(max_examples=60, deadline=None)
@given(
    st.text(min_size=0, max_size=5000), st.text(min_size=0, max_size=5000), st.text(max_size=600)
)
def test_any_feed_text_fits_discords_embed_limits(
    summary: str, abstract: str, speaker: str
) -> None:
    occ = occurrence(
        summary=summary or "x",
        description=abstract,
        location=speaker,
        seminar=SeminarDetails(
            speaker=speaker, affiliation=speaker, abstract=abstract, bio=abstract, title=summary
        ),
    )
    for kind in ActionKind:
        embed = announcement_embed(
            Action(kind=kind, feed="f", occurrence=occ, previous=occ),
            marker=reference_marker("key"),
        )
        assert len(embed) <= 6000
        assert (embed.url or "").startswith("https://")  # the marker's carrier is a valid link
        assert len(embed.title or "") <= 256 and len(embed.description or "") <= 4096
        assert all(len(f.value or "") <= 1024 and len(f.name or "") <= 256 for f in embed.fields)
        assert len(compact_embed(Action(kind=kind, feed="f", occurrence=occ))) <= 600


def test_no_masked_link_survives_anywhere_in_an_announcement() -> None:
    from bot.core.models import FieldChange
    from bot.discord_ui.embeds import headline_text

    links = "[a](https://ok) and [Join on Zoom](https://phish.example/login)"
    occ = occurrence(
        summary=f"Talk {links}",
        location=links,
        seminar=SeminarDetails(speaker=links, affiliation=links, abstract=links, bio=links),
    )
    change = FieldChange("place", "Room 1", links)
    action = Action(
        kind=ActionKind.UPDATE, feed="f", occurrence=occ, previous=occ, changes=(change,)
    )
    data = announcement_embed(action).to_dict()
    texts = [data.get("title", ""), data.get("description", "")]
    texts += [f["name"] + f["value"] for f in data.get("fields", [])]
    assert all("](" not in t for t in texts)
    assert "](" not in headline_text(action)


link_bits = st.lists(
    st.sampled_from(["[", "]", "(", ")", "\\", "<", ">", "](", "[Join](", "https://p.example/",
                     " ", "\n", "*", "@everyone", "x"]),
    max_size=60,
).map("".join)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(link_bits, link_bits, link_bits)
def test_no_card_ever_carries_a_masked_link(summary: str, place: str, speaker: str) -> None:
    occ = occurrence(
        summary=summary or "x",
        location=place,
        seminar=SeminarDetails(speaker=speaker, affiliation=place, abstract=summary, bio=place),
    )
    for kind in ActionKind:
        action = Action(kind=kind, feed=place or "f", occurrence=occ, previous=occ)
        for embed in (announcement_embed(action), compact_embed(action)):
            data = embed.to_dict()
            texts = [data.get("title", ""), data.get("description", ""),
                     data.get("footer", {}).get("text", "")]  # fmt: skip
            texts += [f["name"] + "\n" + f["value"] for f in data.get("fields", [])]
            assert all("](" not in t for t in texts)


def test_an_online_talk_shows_its_join_link_as_the_place() -> None:
    join = "https://zoom.us/j/123?pwd=a_b"
    online = occurrence(seminar=SeminarDetails(speaker="A B", online_url=join))
    (where,) = [
        f.value
        for f in announcement_embed(Action(ActionKind.ANNOUNCE, "f", online)).fields
        if f.name == "Where"
    ]
    assert where == join
    hybrid = occurrence(location="Room 5", seminar=SeminarDetails(online_url=join))
    (where,) = [
        f.value
        for f in announcement_embed(Action(ActionKind.ANNOUNCE, "f", hybrid)).fields
        if f.name == "Where"
    ]
    assert where == f"Room 5\nJoin online: {join}"
