"""Cards as members see them on a phone: short, complete, no internal ids, one fact once."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import discord

from bench.feedgen import Talk, render_feed
from bot.cli import SAMPLE_NOW, SAMPLE_PATH
from bot.clock import FixedClock
from bot.store import outbox as outbox_store
from bot.store import reminders as reminder_store
from tests.discord_ui.harness import NOW, Harness, harness
from tests.discord_ui.reminder_helpers import announce, click_remind, command, tick_at
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer
from tests.store import inspect_store

SAMPLE_TITLE = (
    "Why Deep Learning Works: Traditional and Heavy-Tailed Implicit Self-Regularization in "
    "Deep Neural Networks"
)
SAMPLE_START = 1572968700  # 2019-11-05 10:45 America/New_York


def visible_text(message: dict[str, Any]) -> str:
    """Everything Discord renders as text: content and each embed's text parts (not links)."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds", []):
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [(embed.get("author") or {}).get("name") or ""]
        parts += [(embed.get("footer") or {}).get("text") or ""]
        for f in embed.get("fields", []):
            parts += [f.get("name") or "", f.get("value") or ""]
    return "\n".join(parts)


def discord_length(embed: dict[str, Any]) -> int:
    """Discord's count toward the 6,000 cap: title, description, fields, footer, author."""
    texts = [
        embed.get("title"),
        embed.get("description"),
        (embed.get("footer") or {}).get("text"),
        (embed.get("author") or {}).get("name"),
    ]
    for f in embed.get("fields", []):
        texts += [f.get("name"), f.get("value")]
    return sum(len(t.strip()) for t in texts if t)


def as_read(text: str) -> str:
    """What a reader sees of markup: link labels, not targets; dates, not timestamp tokens."""
    text = re.sub(r"\]\(https?://[^)]*\)", "]", text)
    return re.sub(r"<t:-?\d+(:[tTdDfFR])?>", "(a date)", text)


async def test_the_samples_card_fits_a_phone_and_shows_no_internal_id(
    fake_discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path
) -> None:
    async with harness(fake_discord, feed_server, tmp_path, clock=FixedClock(SAMPLE_NOW)) as h:
        h.feeds.body = SAMPLE_PATH.read_bytes()
        await h.start()
        await h.poll()
        (message,) = await h.fake.wait_for_messages(h.fake.defaults.seminars, 1)
        await h.deliver()
        (embed,) = message.message["embeds"]
        assert discord_length(embed) <= 1000

        assert embed["title"] == SAMPLE_TITLE
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Speaker"] == (
            "Michael Mahoney · ICSI and Department of Statistics, University of California at "
            "Berkeley"
        )
        assert fields["When"].startswith(f"<t:{SAMPLE_START}:F>")
        assert f"<t:{SAMPLE_START}:R>" in fields["When"]
        assert fields["Where"] == "Hackerman Hall B-17"
        # A few lines of abstract, cut after a word, with the event link for the rest.
        assert embed["description"].startswith("While deep neural networks")
        assert (
            "[Read more](https://www.cs.jhu.edu/event/cs-seminar-michael-mahoney"
            in (embed["description"])
        )
        assert "Bio" not in fields and "Mahoney is" not in visible_text(message.message)

        (row,) = await h.bot.run_db(inspect_store.list_outbox)  # type: ignore[union-attr]
        from bot.discord_ui.embeds import reference_marker

        marker = reference_marker(row.idem_key)
        shown = visible_text(message.message)
        assert marker not in shown and "ref " not in shown
        assert not re.search(r"\b[0-9a-f]{10}\b", as_read(shown))
        assert marker in embed["url"]  # kept where crash repair can find it, out of sight
        assert embed["url"].split("#")[0].startswith("https://www.cs.jhu.edu/event/")


TALK = Talk(
    post_id=7401,
    start=NOW + timedelta(days=2, hours=3),
    speaker="Grace Hopper",
    affiliation="Yale University",
    title="Compilers for everyone",
    abstract="We discuss compilers. They translate programs.",
)


async def test_the_reminder_names_the_speaker_and_says_each_fact_once(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)
    await tick_at(h, TALK.start - timedelta(minutes=15))
    (dm,) = h.fake.dms(alice)
    shown = visible_text(dm.message)
    assert "Grace Hopper" in shown and "Yale University" in shown
    assert shown.count("Compilers for everyone") == 1
    start = int(TALK.start.timestamp())
    assert shown.count(f"<t:{start}:R>") == 1  # the countdown
    assert shown.count(f"<t:{start}:F>") == 1  # the time itself
    assert "Hackerman Hall B-17" in shown
    assert "ref " not in shown and not re.search(r"\brm\d+\b", shown)


async def test_a_cancelled_card_says_so_and_drops_abstract_and_bio(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    assert "We discuss compilers." in card.message["embeds"][0]["description"]
    h.feeds.body = render_feed([replace(TALK, status="CANCELLED")])
    await h.poll()
    await h.deliver()
    (embed,) = card.message["embeds"]  # the same message, edited
    assert embed["title"].startswith("❌ Cancelled: ")
    assert embed["color"] != 0x2B6CB0
    shown = visible_text(card.message)
    assert "We discuss compilers" not in shown and "researcher at" not in shown
    assert "cancelled" in embed["description"].lower()
    assert ":R>" not in shown  # no countdown to a talk that will not happen


def digest_menu(message: Any) -> dict[str, Any]:
    for row in message.message.get("components", []):
        for child in row.get("components", []):
            if str(child.get("custom_id", "")).startswith("remindpick:"):
                return dict(child)
    raise AssertionError("digest has no reminder menu")


async def test_a_digest_keeps_a_way_to_ask_for_a_reminder_across_restarts(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    talks = [
        replace(TALK, post_id=7500 + i, title=f"Talk {i}", start=TALK.start + timedelta(hours=i))
        for i in range(5)
    ]
    await h.start()
    h.feeds.body = render_feed(talks)
    await h.poll()
    (digest,) = await h.fake.wait_for_messages(h.fake.defaults.seminars, 1)
    await h.deliver()
    assert len(digest.message["embeds"]) == 5
    menu = digest_menu(digest)
    labels = [o["label"] for o in menu["options"]]
    assert labels == [f"{i + 1}. Talk {i}" for i in range(5)]
    assert all("ref " not in e.get("footer", {}).get("text", "") for e in digest.message["embeds"])

    await h.restart()  # the menu is persistent: no view is stored, the message carries it
    alice = h.fake.defaults.member
    third = menu["options"][2]["value"]
    iid = h.fake.select_option(digest.id, menu["custom_id"], [third], user=alice)
    record = await h.fake.wait_for_interaction_response(iid, timeout=5)
    assert record.response_data is not None and record.response_data["flags"] & 64
    assert "Talk 2" in str(record.response_data.get("content", ""))
    rows = await h.bot.run_db(reminder_store.list_reminders)  # type: ignore[union-attr]
    mine = [r for r in rows if r.target_kind == "dm" and r.user_id == alice.id]
    assert [r.anchor for r in mine] == [talks[2].start]


async def test_a_post_from_an_older_release_is_still_found_by_its_footer_marker(
    bot_harness: Harness,
) -> None:
    """Upgrading while a send was in doubt: the old footer marker still prevents a double."""
    import hashlib

    from tests.discord_ui.test_delivery_faults import queue_announcement

    h = bot_harness
    await h.start()
    row = await queue_announcement(h)
    bot = h.bot
    assert bot is not None
    claimed = await bot.run_db(outbox_store.claim_outbox_row, row.id, now=h.clock.now())
    assert claimed is not None
    legacy = "ref " + hashlib.sha256(claimed.idem_key.encode()).hexdigest()[:10]
    channel = bot.get_partial_messageable(h.fake.defaults.seminars.id)
    posted = await channel.send(
        embed=discord.Embed(title="Fault tolerant systems").set_footer(text=f"f · {legacy}"),
        nonce=claimed.nonce,
        allowed_mentions=discord.AllowedMentions.none(),
    )
    await h.stop()
    h.clock.advance(minutes=30)
    h.fake.advance(30 * 60)
    await h.start()
    await h.deliver()
    assert [m.id for m in h.fake.messages(h.fake.defaults.seminars)] == [posted.id]


async def test_a_feeds_templates_shape_the_posted_card_and_its_edits(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    answer = await command(
        h,
        "feeds settings",
        {
            "feed": "cs-seminar",
            "title_template": "{series}: {speaker} ({affiliation}) — {title}",
            "lead_template": "@everyone {speaker} in {place}",
        },
        user=h.fake.defaults.admin,
    )
    assert "Title template" in answer
    (card,) = await announce(h, TALK)
    (embed,) = card.message["embeds"]
    assert embed["title"] == "CS Seminar: Grace Hopper (Yale University) — Compilers for everyone"
    lead, _, abstract = embed["description"].partition("\n\n")
    assert lead == "@\u200beveryone Grace Hopper in Hackerman Hall B-17"
    assert abstract.startswith("We discuss compilers.")
    # A member who looks the talk up reads the same title as the channel's card.
    iid = h.fake.inject_command("seminars show", {"event": "hopper"}, user=h.fake.defaults.member)
    shown = await h.fake.wait_for_interaction_response(iid, timeout=5)
    assert shown.response_data is not None
    (looked_up,) = shown.response_data["embeds"]
    assert looked_up["title"] == embed["title"]
    assert looked_up["description"].startswith(lead)
    h.feeds.body = render_feed([replace(TALK, status="CANCELLED")])
    await h.poll()
    await h.deliver()
    (edited,) = card.message["embeds"]
    assert edited["title"].startswith("❌ Cancelled: CS Seminar: Grace Hopper (Yale")
