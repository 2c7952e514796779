"""The real bot's scheduled poll against the fake Discord: an early wake-up still polls."""

from __future__ import annotations

from datetime import timedelta

from bench.feedgen import Talk, render_feed
from bot.store import feeds as feed_store
from tests.discord_ui.harness import NOW, Harness

TALK = Talk(
    post_id=7101,
    start=NOW + timedelta(days=3),
    speaker="Barbara Liskov",
    affiliation="MIT",
    title="Abstraction and its limits",
)


async def test_a_wake_up_before_the_due_time_polls_in_that_interval(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.feeds.body = render_feed([TALK])
    bot = await h.start()
    feed_id = await h.feed_id()
    first = await bot.poll_feed(feed_id)  # the scheduled path, not a forced poll
    assert first is not None and first.status == "ok"
    row = await bot.run_db(feed_store.get_feed, feed_id)
    assert row is not None and row.next_poll_at is not None
    assert row.next_poll_at - NOW <= timedelta(minutes=30)  # the feed's next slot
    hits = h.feeds.hits

    # The scheduler's next wake-up comes a quarter second before the stored due time (a
    # coarse timer, another clock): it waits for the due time and polls, instead of being
    # dropped and leaving the feed unpolled for a whole extra interval.
    h.clock.set(row.next_poll_at - timedelta(seconds=0.25))
    second = await bot.poll_feed(feed_id)
    assert second is not None and second.status in ("ok", "not_modified")
    assert h.feeds.hits == hits + 1
    after = await bot.run_db(feed_store.get_feed, feed_id)
    assert after is not None and after.last_poll_at is not None
    assert after.last_poll_at > row.last_poll_at  # type: ignore[operator]


async def test_a_backing_off_feed_is_not_polled_before_its_backoff_ends(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    h.feeds.body = render_feed([TALK])
    h.feeds.status = 500
    bot = await h.start()
    feed_id = await h.feed_id()
    failed = await bot.poll_feed(feed_id)
    assert failed is not None and failed.status == "failed"
    row = await bot.run_db(feed_store.get_feed, feed_id)
    assert row is not None and row.next_poll_at is not None
    hits = h.feeds.hits
    h.feeds.status = 200
    h.clock.set(NOW + timedelta(seconds=1))  # long before the backoff ends
    assert await bot.poll_feed(feed_id) is None
    assert h.feeds.hits == hits
