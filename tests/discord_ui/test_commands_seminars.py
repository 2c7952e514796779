"""/seminars end to end: real bot, fake Discord, loopback feed, fixed clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bench.feedgen import Talk, render_feed
from bot.core.parse import parse_feed
from tests.discord_ui.harness import NOW, Harness
from tests.fakediscord.records import EPHEMERAL, InteractionRecord

pytestmark = pytest.mark.timeout(60)

TALKS = [
    Talk(
        post_id=1,
        start=NOW + timedelta(hours=3),
        speaker="Michael Mahoney",
        affiliation="UC Berkeley",
        title="Randomized numerical linear algebra",
    ),
    Talk(
        post_id=2,
        start=NOW + timedelta(days=2),
        speaker="Grace Hopper",
        affiliation="Yale University",
        title="Compilers for everyone",
        abstract="We revisit COBOL and friends.",
    ),
    Talk(
        post_id=3, start=NOW + timedelta(days=20), speaker="Ada Lovelace", title="Notes on engines"
    ),
] + [
    Talk(
        post_id=100 + i,
        start=NOW + timedelta(days=3, hours=i),
        speaker=f"Speaker {i}",
        title=f"Talk number {i} @everyone",
    )
    for i in range(12)
]


async def started(h: Harness) -> Harness:
    h.feeds.body = render_feed(TALKS)
    await h.start()
    await h.poll()
    return h


async def answer(
    h: Harness, name: str, options: dict[str, Any] | None = None, **kw: Any
) -> InteractionRecord:
    iid = h.fake.inject_command(name, options or {}, **kw)
    record = await h.fake.wait_for_interaction_response(iid)
    assert record.rejected == []
    return record


def embed(record: InteractionRecord) -> dict[str, Any]:
    (first,) = record.response_data["embeds"]
    return dict(first)


def ephemeral(record: InteractionRecord) -> bool:
    return bool(int(record.response_data.get("flags", 0)) & EPHEMERAL)


async def test_commands_are_synced_with_valid_payloads(bot_harness: Harness) -> None:
    h = await started(bot_harness)
    synced = h.fake.synced_commands()
    assert synced is not None
    seminars = next(c for c in synced if c["name"] == "seminars")
    subs = {o["name"]: o for o in seminars["options"]}
    assert set(subs) == {"upcoming", "today", "week", "next", "search", "show"}
    days = next(o for o in subs["upcoming"]["options"] if o["name"] == "days")
    assert (days["min_value"], days["max_value"]) == (1, 90)
    assert next(o for o in subs["show"]["options"] if o["name"] == "event")["autocomplete"]


async def test_upcoming_lists_with_timestamps_and_pages(bot_harness: Harness) -> None:
    h = await started(bot_harness)
    record = await answer(h, "seminars upcoming", {"days": 30})
    assert ephemeral(record)
    first = embed(record)
    assert first["description"].startswith(
        "**Randomized numerical linear algebra** — Michael Mahoney (UC Berkeley)"
    )
    start = int(TALKS[0].start.timestamp())
    assert f"<t:{start}:F> (<t:{start}:R>)" in first["description"]
    assert "@everyone" not in first["description"].replace("@\u200beveryone", "")
    assert "Page 1 of 2 · 15 events" in first["footer"]["text"]
    # Page with the buttons; the same message is edited in place.
    message = next(m for m in h.fake.sent if m.interaction_id == record.id)
    assert [c["custom_id"] for c in message.components[0]["components"]] == [
        "page:prev",
        "page:count",
        "page:next",
    ]
    click = h.fake.click_button(message.id, "page:next", user=h.fake.defaults.member)
    clicked = await h.fake.wait_for_interaction_response(click)
    assert clicked.response_type == 7
    assert "Page 2 of 2" in clicked.response_data["embeds"][0]["footer"]["text"]
    assert "Notes on engines" in clicked.response_data["embeds"][0]["description"]


async def test_today_week_and_shared_answers(bot_harness: Harness) -> None:
    h = await started(bot_harness)
    today = embed(await answer(h, "seminars today"))
    assert "Randomized" in today["description"] and "Compilers" not in today["description"]
    week = await answer(h, "seminars week", {"share": True})
    assert not ephemeral(week)
    assert "Compilers for everyone" in embed(week)["description"]
    assert "Notes on engines" not in "".join(embed(week)["description"])
    assert week.response_data["allowed_mentions"]["parse"] == []


async def test_next_shows_the_full_card_with_calendar_links(bot_harness: Harness) -> None:
    h = await started(bot_harness)
    record = await answer(h, "seminars next")
    card = embed(record)
    assert card["title"] == "Randomized numerical linear algebra"
    fields = {f["name"]: f["value"] for f in card["fields"]}
    assert fields["Speaker"] == "Michael Mahoney · UC Berkeley"
    assert "researcher at" in fields["Bio"]  # the bio is here, never on the channel's card
    (button,) = record.response_data["components"][0]["components"]
    assert button["style"] == 5 and button["url"].startswith("https://calendar.google.com/")
    assert len(button["url"]) <= 512
    message = next(m for m in h.fake.sent if m.interaction_id == record.id)
    (ics,) = message.files
    assert ics.filename.endswith(".ics")
    parsed = parse_feed(ics.data, window_start=NOW, window_end=NOW + timedelta(days=5))
    assert parsed.occurrences[0].start == TALKS[0].start


async def test_search_ranks_and_tolerates_typos(bot_harness: Harness) -> None:
    h = await started(bot_harness)
    found = embed(await answer(h, "seminars search", {"query": "mahony"}))
    assert found["description"].startswith("**Randomized numerical linear algebra**")
    assert "mahoney" in found["footer"]["text"]
    cobol = embed(await answer(h, "seminars search", {"query": "cobol"}))
    assert "Compilers for everyone" in cobol["description"]
    nothing = embed(await answer(h, "seminars search", {"query": "quantum gravity"}))
    assert "No upcoming seminar matches" in nothing["description"]


async def test_show_autocomplete_and_pick(bot_harness: Harness) -> None:
    h = await started(bot_harness)
    iid = h.fake.inject_autocomplete("seminars show", {"event": "hop"}, "event")
    record = await h.fake.wait_for_interaction_response(iid)
    assert record.response_type == 8
    (choice,) = record.response_data["choices"]
    assert "Grace Hopper — Compilers for everyone" in choice["name"]
    assert len(choice["name"]) <= 100 and len(choice["value"]) <= 100
    empty = await h.fake.wait_for_interaction_response(
        h.fake.inject_autocomplete("seminars show", {"event": ""}, "event")
    )
    assert 1 <= len(empty.response_data["choices"]) <= 25
    shown = await answer(h, "seminars show", {"event": choice["value"]})
    assert embed(shown)["title"] == "Compilers for everyone"
    typed = await answer(h, "seminars show", {"event": "lovelace"})
    assert embed(typed)["title"] == "Notes on engines"


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("seminars show", {"event": "xylophone quartet"}, "I know no upcoming seminar"),
        ("seminars show", {"event": "999999"}, "I know no upcoming seminar"),
        ("seminars upcoming", {"days": 500}, "between 1 and 90"),
        ("seminars upcoming", {"feed": "nope"}, "no feed called **nope**"),
        ("seminars next", {"feed": "nope"}, "no feed called **nope**"),
        ("seminars search", {"query": "   "}, "Type a name"),
    ],
)
async def test_bad_input_gets_a_clear_private_error(
    bot_harness: Harness, name: str, options: dict[str, Any], message: str
) -> None:
    h = await started(bot_harness)
    record = await answer(h, name, options)
    assert ephemeral(record)
    assert message in record.response_data["content"]
