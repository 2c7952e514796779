"""End to end: the weekly "This week's seminars" message, driven by the bot's clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.feedgen import Talk, render_feed
from tests.discord_ui.harness import NOW, Harness
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer

# NOW is Tuesday 1 Dec 2026, 12:00 UTC. The digest is due Wednesday 09:00 in New York.
DUE = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
THIS_WEEK = Talk(
    post_id=9001,
    start=datetime(2026, 12, 3, 15, 0, tzinfo=UTC),
    speaker="Grace Hopper",
    affiliation="Yale University",
    title="Compilers for everyone",
)
ALSO_THIS_WEEK = replace(
    THIS_WEEK, post_id=9002, start=datetime(2026, 12, 8, 20, 0, tzinfo=UTC), title="Late talk"
)
NEXT_WEEK = replace(
    THIS_WEEK, post_id=9003, start=datetime(2026, 12, 10, 15, 0, tzinfo=UTC), title="Next week"
)
TITLE = "This week's seminars"


@pytest.fixture
async def dh(
    fake_discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path
) -> AsyncIterator[Harness]:
    h = Harness(
        fake=fake_discord,
        feeds=feed_server,
        tmp_path=tmp_path,
        extra_config='digest = "wed 09:00"\ntimezone = "America/New_York"\nannounce_window = "14d"',
    )
    try:
        yield h
    finally:
        await h.stop()


async def check(h: Harness) -> None:
    assert h.bot is not None
    cog: Any = h.bot.get_cog("WeeklyDigest")
    assert cog is not None
    await cog.check_all()


def digests(h: Harness) -> list[Any]:
    return [
        m
        for m in h.fake.messages(h.fake.defaults.seminars)
        if any(e.get("title") == TITLE for e in m.message.get("embeds", []))
    ]


def text_of(message: Any) -> str:
    return str(message.message["embeds"][0]["description"])


async def test_digest_is_posted_once_at_its_time(dh: Harness) -> None:
    h = dh
    h.feeds.body = render_feed([THIS_WEEK, ALSO_THIS_WEEK, NEXT_WEEK])
    await h.start()
    await h.poll()
    await check(h)
    assert digests(h) == []  # Tuesday: not due yet

    h.clock.set(DUE - timedelta(minutes=1))
    await check(h)
    assert digests(h) == []
    h.clock.set(DUE)
    await check(h)
    await h.fake.wait_for(lambda: len(digests(h)) == 1)
    (digest,) = digests(h)
    text = text_of(digest)
    assert "Compilers for everyone" in text and "Late talk" in text
    assert "Next week" not in text
    assert f"<t:{int(THIS_WEEK.start.timestamp())}:F>" in text
    assert text.index("Compilers") < text.index("Late talk")
    assert digest.payload["allowed_mentions"]["parse"] == []
    assert "Wed 2 Dec – Tue 8 Dec 2026" in digest.message["embeds"][0]["footer"]["text"]
    assert "ref " not in digest.message["embeds"][0]["footer"]["text"]  # no internal id shown

    h.clock.advance(hours=2)
    await check(h)
    await h.poll()
    assert len(digests(h)) == 1 and h.fake.edits == []


async def test_digest_is_edited_when_the_week_changes(dh: Harness) -> None:
    h = dh
    h.feeds.body = render_feed([THIS_WEEK])
    h.clock.set(DUE)
    await h.start()
    await h.poll()
    await check(h)
    await h.fake.wait_for(lambda: len(digests(h)) == 1)
    (digest,) = digests(h)
    h.clock.advance(days=1)
    h.feeds.body = render_feed([replace(THIS_WEEK, title="Compilers, revised"), ALSO_THIS_WEEK])
    await h.poll()  # the after-poll check edits the digest
    await h.fake.wait_for(lambda: any(e.message_id == digest.id for e in h.fake.edits))
    assert len(digests(h)) == 1
    text = text_of(digest)
    assert "Compilers, revised" in text and "Late talk" in text
    edit = next(e for e in h.fake.edits if e.message_id == digest.id)
    assert edit.payload["allowed_mentions"]["parse"] == []

    h.feeds.body = render_feed([replace(THIS_WEEK, title="Compilers, revised", status="CANCELLED")])
    await h.poll()
    await h.fake.wait_for(lambda: "(cancelled)" in text_of(digest))
    assert len(digests(h)) == 1


async def test_restart_does_not_repost_and_next_week_gets_its_own(dh: Harness) -> None:
    h = dh
    h.feeds.body = render_feed([THIS_WEEK, NEXT_WEEK])
    h.clock.set(DUE + timedelta(minutes=5))
    await h.start()
    await check(h)
    await h.fake.wait_for(lambda: len(digests(h)) == 1)
    await h.restart()
    await check(h)
    await h.poll()
    await check(h)
    assert len(digests(h)) == 1

    h.clock.set(DUE + timedelta(days=7))
    await h.poll()
    await check(h)
    await h.fake.wait_for(lambda: len(digests(h)) == 2)
    assert "Next week" in text_of(digests(h)[1])


async def test_crash_mid_post_is_repaired_without_a_second_message(dh: Harness) -> None:
    h = dh
    h.feeds.body = render_feed([THIS_WEEK])
    h.clock.set(DUE)
    await h.start()
    await h.poll()
    await check(h)
    await h.fake.wait_for(lambda: len(digests(h)) == 1)
    assert h.bot is not None

    # As if the bot died after Discord created the message but before the store recorded it.
    def forget_the_post(db: Any) -> None:
        with db.conn:  # committed, as the claim was before the crash
            db.conn.execute("UPDATE weekly_digests SET state = 'posting', message_id = NULL")

    await h.bot.run_db(forget_the_post)
    h.clock.advance(hours=1)
    h.fake.advance(60 * 60)  # Discord has forgotten the nonce: only the channel's history helps
    await h.restart()
    await check(h)
    await check(h)
    assert len(digests(h)) == 1
    rows = await h.bot.run_db(
        lambda db: db.conn.execute("SELECT state, message_id FROM weekly_digests").fetchall()
    )
    assert [tuple(r) for r in rows] == [("posted", digests(h)[0].id)]


async def test_digest_missed_by_more_than_a_day_is_skipped(dh: Harness) -> None:
    h = dh
    h.feeds.body = render_feed([THIS_WEEK])
    h.clock.set(DUE + timedelta(days=1, minutes=1))
    await h.start()
    await h.poll()
    await check(h)
    assert digests(h) == []
    assert NOW < DUE


async def settings(h: Harness, options: dict[str, Any]) -> str:
    iid = h.fake.inject_command(
        "feeds settings", {"feed": "cs-seminar", **options}, user=h.fake.defaults.admin
    )
    record = await h.fake.wait_for_interaction_response(iid, timeout=10)
    assert record.rejected == []
    return str(record.response_data["content"])


async def test_feeds_settings_sets_validates_and_stops_the_digest(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    assert "Weekly digest: off" in await settings(h, {"paused": False})
    refused = await settings(h, {"digest": "fri 25:00"})
    assert "`digest`:" in refused and "Weekly digest" not in refused
    assert "Weekly digest: mon 09:00" in await settings(h, {"digest": "Monday 9:00"})
    assert "Weekly digest: off" in await settings(h, {"digest": "-"})


async def test_digest_time_is_read_in_the_calendars_zone(
    fake_discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path
) -> None:
    h = Harness(
        fake=fake_discord, feeds=feed_server, tmp_path=tmp_path, extra_config='digest = "wed 09:00"'
    )
    try:
        h.feeds.body = render_feed([THIS_WEEK])  # written in America/New_York; bot default UTC
        await h.start()
        await h.poll()
        h.clock.set(datetime(2026, 12, 2, 9, 30, tzinfo=UTC))  # 09:30 UTC = 04:30 in New York
        await check(h)
        assert digests(h) == []
        h.clock.set(DUE)
        await check(h)
        await h.fake.wait_for(lambda: len(digests(h)) == 1)
    finally:
        await h.stop()


async def test_a_digest_stuck_on_discord_holds_up_no_other_feed(dh: Harness) -> None:
    """Every poll checks its feed's digest; one feed's hung post must not queue the others."""
    h = dh
    h.feeds.body = render_feed([THIS_WEEK])
    h.clock.set(DUE - timedelta(minutes=1))
    await h.start()
    await h.poll()
    assert h.bot is not None
    cog: Any = h.bot.get_cog("WeeklyDigest")
    h.clock.set(DUE)
    h.fake.stall("POST", "/channels/*/messages")
    stuck = asyncio.create_task(cog.check_feed(await h.feed_id()))
    await h.fake.wait_for(lambda: h.fake.stalled_count == 1)
    # Another feed's check (here one with nothing to post) answers at once.
    assert await asyncio.wait_for(cog.check_feed(await h.feed_id() + 1), 5) is None
    assert not stuck.done()
    h.fake.release_stalls()
    assert await asyncio.wait_for(stuck, 5) == "posted"
    assert len(digests(h)) == 1
