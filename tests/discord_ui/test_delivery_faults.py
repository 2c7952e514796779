"""Delivery faults from the reliability fault matrix (rows 24-27, 29, 33, 37) end to end."""

from __future__ import annotations

from datetime import timedelta

import discord

from bench.feedgen import Talk, render_feed
from bot.core.models import ActionKind
from bot.discord_ui.embeds import announcement_embed, reference_marker
from bot.store import feeds as feed_store
from bot.store import outbox as outbox_store
from tests.discord_ui.harness import NOW, Harness
from tests.store import inspect_store

TALK = Talk(post_id=9001, start=NOW + timedelta(days=1), title="Fault tolerant systems")


async def queue_announcement(h: Harness) -> outbox_store.OutboxRow:
    """Poll without delivering: the announcement waits in the outbox."""
    bot = h.bot
    assert bot is not None and bot.poller is not None
    from bot.service.feeds import settings_from_row

    feed = await bot.run_db(feed_store.get_feed, await h.feed_id())
    h.feeds.body = render_feed([TALK])
    await bot.poller.poll(feed.id, settings_from_row(feed), trusted=True)
    (row,) = await bot.run_db(inspect_store.list_outbox)
    return row


async def crash_after_post(h: Harness, row: outbox_store.OutboxRow) -> int:
    """What a crash between the POST and its commit leaves behind: a posted, unrecorded row."""
    bot = h.bot
    assert bot is not None
    claimed = await bot.run_db(outbox_store.claim_outbox_row, row.id, now=h.clock.now())
    assert claimed is not None and claimed.kind == ActionKind.ANNOUNCE.value
    channel = bot.get_partial_messageable(h.fake.defaults.seminars.id)
    message = await channel.send(
        embed=announcement_embed(claimed.action, marker=reference_marker(claimed.idem_key)),
        nonce=claimed.nonce,
        allowed_mentions=discord.AllowedMentions.none(),
    )
    return message.id


async def test_crash_between_post_and_commit_within_nonce_window_posts_once(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    row = await queue_announcement(h)
    posted = await crash_after_post(h, row)
    await h.restart()  # recovery resends with the same nonce; Discord returns the first post
    await h.deliver()
    messages = h.fake.messages(h.fake.defaults.seminars)
    assert [m.id for m in messages] == [posted]
    (stored,) = await h.bot.run_db(inspect_store.list_outbox)  # type: ignore[union-attr]
    assert (stored.state, stored.discord_message_id) == ("sent", posted)


async def test_crash_beyond_nonce_window_is_found_by_its_marker(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    row = await queue_announcement(h)
    posted = await crash_after_post(h, row)
    await h.stop()
    h.clock.advance(minutes=30)
    h.fake.advance(30 * 60)  # Discord has forgotten the nonce by now
    await h.start()
    await h.deliver()
    assert [m.id for m in h.fake.messages(h.fake.defaults.seminars)] == [posted]
    (stored,) = await h.bot.run_db(inspect_store.list_outbox)  # type: ignore[union-attr]
    assert (stored.state, stored.discord_message_id) == ("sent", posted)
    # The stored message id is used for later edits.
    h.feeds.body = render_feed([Talk(post_id=9001, start=TALK.start, title="Renamed talk")])
    await h.poll()
    await h.deliver()
    assert [e.message_id for e in h.fake.edits] == [posted]


async def test_edit_of_a_deleted_message_is_recorded_and_not_retried(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    h.feeds.body = render_feed([TALK])
    await h.poll()
    (message,) = await h.fake.wait_for_messages(h.fake.defaults.seminars, 1)
    h.fake.inject_fault("PATCH", f"/channels/*/messages/{message.id}", 404, code=10008, times=100)
    h.feeds.body = render_feed([Talk(post_id=9001, start=TALK.start, title="Renamed")])
    await h.poll()
    await h.deliver()
    h.feeds.body = render_feed([Talk(post_id=9001, start=TALK.start, title="Renamed again")])
    await h.poll()
    await h.deliver()
    patches = [r for r in h.fake.requests if r.method == "PATCH"]
    assert len(patches) == 1
    assert set(await h.outbox_states()) == {"sent"}
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 1  # not re-posted


async def test_replayed_gateway_events_have_no_duplicate_side_effects(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    h.feeds.body = render_feed([TALK])
    await h.poll()
    await h.fake.wait_for_messages(h.fake.defaults.seminars, 1)
    h.fake.drop_gateway()
    await h.fake.wait_for(lambda: h.fake.resume_count == 1, timeout=10)
    await h.poll()
    await h.deliver()
    assert len(h.fake.messages(h.fake.defaults.seminars)) == 1


async def test_removal_from_the_guild_disables_its_feeds_and_stops_polling(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.feeds.body = render_feed([TALK])
    await h.start()
    guild_id = h.fake.defaults.guild.id
    h.fake.gateway.dispatch("GUILD_DELETE", {"id": str(guild_id)})
    bot = h.bot
    assert bot is not None

    async def disabled() -> bool:
        feed = await bot.run_db(feed_store.get_feed, await h.feed_id())
        return feed.status == "disabled"

    for _ in range(50):  # bounded: the gateway event is handled within a few loop turns
        if await disabled():
            break
        await bot.run_db(lambda db: None)
    assert await disabled()
    hits = h.feeds.hits
    assert await bot.poll_feed(await h.feed_id()) is None
    assert h.feeds.hits == hits


async def test_channel_deleted_disables_feed_and_tells_the_owner(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    channel = h.fake.defaults.seminars
    h.fake.gateway.dispatch(
        "CHANNEL_DELETE",
        {
            "id": str(channel.id),
            "type": 0,
            "guild_id": str(h.fake.defaults.guild.id),
            "name": "seminars",
            "position": 0,
        },
    )
    await h.fake.wait_for(lambda: len(h.fake.dms(h.fake.defaults.owner)) == 1)
    (notice,) = h.fake.dms(h.fake.defaults.owner)
    assert "was deleted" in notice.content
    feed = await h.bot.run_db(feed_store.get_feed, await h.feed_id())  # type: ignore[union-attr]
    assert (feed.status, feed.disabled_reason) == ("disabled", "channel_missing")


SIZE_REFUSAL = "Invalid Form Body: Embed size exceeds maximum size of 6000"


def talks(count: int) -> list[Talk]:
    return [
        Talk(post_id=9100 + i, start=NOW + timedelta(days=1, hours=i), title=f"Talk {i}")
        for i in range(count)
    ]


async def test_a_digest_refused_as_too_large_is_split_and_every_card_delivered_once(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    # Discord's count and ours disagree once: the digest is refused for its size.
    h.fake.inject_fault("POST", "/channels/*/messages", 400, code=50035, message=SIZE_REFUSAL)
    h.feeds.body = render_feed(talks(6))
    await h.poll()
    await h.deliver()
    messages = h.fake.messages(h.fake.defaults.seminars)
    assert [len(m.message["embeds"]) for m in messages] == [3, 3]  # halves, sent again
    titles = [e["title"] for m in messages for e in m.message["embeds"]]
    assert titles == [f"Talk {i}" for i in range(6)]
    assert await h.outbox_states() == ["sent"] * 6  # nothing dead, nothing twice


async def test_a_lone_card_refused_as_too_large_is_cut_and_sent_not_dead(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    h.fake.inject_fault("POST", "/channels/*/messages", 400, code=50035, message=SIZE_REFUSAL)
    h.feeds.body = render_feed([TALK])
    await h.poll()
    await h.deliver()
    (message,) = h.fake.messages(h.fake.defaults.seminars)
    assert message.message["embeds"][0]["title"] == TALK.title
    assert await h.outbox_states() == ["sent"]


async def test_a_card_discord_keeps_refusing_for_size_waits_instead_of_dying(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    h.fake.inject_fault(
        "POST", "/channels/*/messages", 400, code=50035, message=SIZE_REFUSAL, times=20
    )
    h.feeds.body = render_feed([TALK])
    await h.poll()
    await h.deliver()
    assert h.fake.messages(h.fake.defaults.seminars) == []
    (row,) = await h.bot.run_db(inspect_store.list_outbox)  # type: ignore[union-attr]
    assert row.state != "dead" and row.next_attempt_at is not None


async def test_one_refused_card_in_a_digest_costs_only_that_card(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    # Three refusals in a row: the digest of six, its first half of three, then that half's
    # first card alone: halving narrows a bad payload down to the one card that carries it.
    bad = "Invalid Form Body\nIn embeds.0.url: Not a well formed URL."
    h.fake.inject_fault("POST", "/channels/*/messages", 400, code=50035, message=bad, times=3)
    h.feeds.body = render_feed(talks(6))
    await h.poll()
    await h.deliver()
    messages = h.fake.messages(h.fake.defaults.seminars)
    titles = [e["title"] for m in messages for e in m.message["embeds"]]
    assert titles == [f"Talk {i}" for i in range(1, 6)]
    assert await h.outbox_states() == ["dead"] + ["sent"] * 5
