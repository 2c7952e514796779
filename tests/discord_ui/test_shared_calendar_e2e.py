"""Three servers following one calendar: one download and one parse, yet each server gets its
own announcement in its own channel, through the real client and the fake Discord."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bench.feedgen import Talk, render_feed
from bot.store import feeds as feed_store
from tests.discord_ui.harness import NOW, Harness, embeds_of
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import (
    EMBED_LINKS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    snowflake,
)
from tests.service.counting_parser import CountingParser

TALK = Talk(post_id=8001, start=NOW + timedelta(days=2), title="One calendar, many servers")


def server_with_the_bot(fake: FakeDiscord, name: str) -> FakeGuild:
    guild_id = snowflake()
    everyone = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY
    guild = FakeGuild(
        guild_id,
        name,
        fake.defaults.owner.id,
        roles=[FakeRole(guild_id, "@everyone", everyone)],
        channels=[FakeChannel(snowflake(), "talks", 0, guild_id)],
        members=[FakeMember(fake.defaults.owner), FakeMember(fake.defaults.bot)],
    )
    fake.add_guild(guild)
    return guild


async def test_three_servers_on_one_url_each_get_their_own_announcement(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    others = [server_with_the_bot(h.fake, n) for n in ("Second Campus", "Third Campus")]
    h.extra_config = "".join(
        f"""
[[feeds]]
name = "cs-seminar"
url = "{h.feeds.url}"
channel_id = {g.channels[0].id}
guild_id = {g.id}
baseline = "announce"
"""
        for g in others
    )
    h.feeds.body = render_feed([TALK])
    parser = CountingParser()
    bot = await h.start(parser=parser)
    feed_ids = []
    for guild_id in (h.fake.defaults.guild.id, *(o.id for o in others)):
        row = await bot.run_db(feed_store.get_feed_by_name, "cs-seminar", guild_id)
        assert row is not None
        feed_ids.append(row.id)
    outcomes = await asyncio.gather(*(bot.poll_feed(f, force=True) for f in feed_ids))
    assert [o.status for o in outcomes if o is not None] == ["ok"] * 3
    assert h.feeds.hits == 1 and parser.calls == 1
    await h.deliver()
    for channel in (h.fake.defaults.seminars, *(o.channels[0] for o in others)):
        messages = await h.fake.wait_for_messages(channel, 1)
        assert [e["title"] for e in embeds_of(messages)] == ["One calendar, many servers"]
        assert messages[0].payload["allowed_mentions"]["parse"] == []
    assert len(h.fake.sent) == 3
