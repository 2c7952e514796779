"""A feed whose server has no free download slot in time is deferred, not failed: its health
is untouched, nothing is stored, and the next poll reads it as usual."""

from __future__ import annotations

from datetime import timedelta

from bench.feedgen import Talk, render_feed
from bot.clock import FixedClock
from bot.config import FeedSettings
from bot.feeds.http import FeedFetcher, FetchLimits
from bot.service.dbthread import DatabaseThread
from bot.service.poller import Poller
from bot.store.db import open_database
from bot.store.feeds import get_feed, upsert_feed
from tests.feedserver import FeedServer
from tests.service.counting_parser import CountingParser
from tests.store.factories import T0
from tests.store.inspect_store import list_outbox


async def test_a_poll_that_finds_its_server_busy_is_deferred_not_failed(
    feed_server: FeedServer,
) -> None:
    feed_server.body = render_feed([Talk(post_id=1, start=T0 + timedelta(days=1))])
    port = int(feed_server.url.split(":")[2].split("/")[0])
    limits = FetchLimits(per_host=1, max_overdue_per_host=0, max_queue_wait=0.2)
    fetcher = FeedFetcher(
        limits=limits, allow_addresses={("127.0.0.1", port)}, allowed_ports={80, 443, port}
    )
    db_thread = DatabaseThread()
    clock = FixedClock(T0)
    try:
        async with fetcher, CountingParser() as parser:
            db = db_thread.call(open_database, None)
            poller = Poller(db=db, db_thread=db_thread, fetcher=fetcher, parser=parser, clock=clock)
            row = await db_thread.run(
                lambda: upsert_feed(db, name="talks", url=feed_server.url, now=T0)
            )
            settings = FeedSettings(name="talks", url=feed_server.url, baseline="announce")

            async with fetcher.host_slots.slot(f"127.0.0.1:{port}"):  # another feed's download
                outcome = await poller.poll(row.id, settings, trusted=False)
            assert outcome.status == "deferred"
            assert outcome.error is not None and outcome.error.reason == "host_busy"
            assert feed_server.hits == 0
            after = await db_thread.run(get_feed, db, row.id)
            assert after is not None
            assert (after.fail_count, after.last_error) == (0, None)
            assert after.next_poll_at == row.next_poll_at  # still due: the next slot polls it

            outcome = await poller.poll(row.id, settings, trusted=False)
            assert outcome.status == "ok" and feed_server.hits == 1
            assert len(await db_thread.run(list_outbox, db, row.id)) == 1
    finally:
        db_thread.close()
