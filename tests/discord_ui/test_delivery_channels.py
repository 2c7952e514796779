"""A channel Discord is slow to answer never holds up announcements for other channels."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bench.feedgen import Talk, render_feed
from bot.store import feeds as feed_store
from tests.discord_ui.harness import NOW, Harness, embeds_of
from tests.fakediscord.state import FakeChannel, snowflake

TALK = Talk(post_id=8101, start=NOW + timedelta(days=2), title="Two channels, one stuck")


async def test_a_hung_channel_does_not_delay_another_channels_announcement(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    guild = h.fake.defaults.guild
    second = FakeChannel(snowflake(), "physics-talks", 0, guild.id)
    guild.channels.append(second)
    h.extra_config = f"""
[[feeds]]
name = "physics"
url = "{h.feeds.url}"
channel_id = {second.id}
guild_id = {guild.id}
baseline = "announce"
"""
    h.feeds.body = render_feed([TALK])
    bot = await h.start()
    # The first feed's channel hangs (a Discord that never answers there).
    h.fake.stall("POST", f"/channels/{h.fake.defaults.seminars.id}/messages")
    feed_ids = []
    for name in ("cs-seminar", "physics"):
        row = await bot.run_db(feed_store.get_feed_by_name, name, guild.id)
        assert row is not None
        feed_ids.append(row.id)
    for feed_id in sorted(feed_ids):  # the stuck channel's feed first, as delivery orders them
        outcome = await bot.poll_feed(feed_id, force=True)
        assert outcome is not None and outcome.status == "ok"
    assert bot.delivery is not None
    drain = asyncio.create_task(bot.delivery.drain())
    try:
        (posted,) = await h.fake.wait_for_messages(second, 1, timeout=10)
        assert [e["title"] for e in embeds_of([posted])] == ["Two channels, one stuck"]
        assert h.fake.messages(h.fake.defaults.seminars) == []
    finally:
        h.fake.release_stalls()
        await asyncio.wait_for(drain, 10)
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 1  # sent once, when answered
