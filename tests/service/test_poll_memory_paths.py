"""A poller that keeps everything in memory between polls (parse cache, stored events, their
index) posts exactly what a poller starting from the bare table each time posts: talks that
enter the announce window with no change to the feed are announced, edited talks are edited,
and a restart in the middle changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.feedgen import Talk, render_feed
from bot.clock import FixedClock
from bot.config import FeedSettings
from bot.feeds.http import FeedFetcher
from bot.service.dbthread import DatabaseThread
from bot.service.poller import Poller
from bot.store.db import open_database
from bot.store.feeds import upsert_feed
from tests.feedserver import FeedServer
from tests.service.counting_parser import CountingParser
from tests.store.factories import T0

#: (minutes after the previous poll, talks edited in this poll, restart the kept poller).
STEPS = [
    (0, (), False),
    (30, (), False),
    (24 * 60, (), False),  # talks enter the announce window; the feed is the same
    (15, (16, 25), False),  # an announced talk and a far one retitled
    (15, (17,), True),  # a restart, then another announced talk edited
    (2 * 24 * 60, (), False),  # more talks enter the window after the restart
]


class _Side:
    """One poller over its own database file."""

    def __init__(self, path: Path, url: str, fetcher: FeedFetcher, clock: FixedClock) -> None:
        self.path, self.url, self.fetcher, self.clock = path, url, fetcher, clock
        self.thread: DatabaseThread | None = None

    def open(self) -> None:
        self.close()
        self.thread = DatabaseThread()
        self.db = self.thread.call(open_database, self.path)
        self.feed_id = self.thread.call(
            lambda: upsert_feed(self.db, name="talks", url=self.url, now=T0).id
        )

    def close(self) -> None:
        if self.thread is not None:
            self.thread.call(self.db.close)
            self.thread.close()
            self.thread = None

    async def poll(self, parser: CountingParser, settings: FeedSettings) -> list[dict[str, Any]]:
        assert self.thread is not None
        poller = Poller(
            db=self.db, db_thread=self.thread, fetcher=self.fetcher, parser=parser, clock=self.clock
        )
        outcome = await poller.poll(self.feed_id, settings, trusted=False)
        assert outcome.status == "ok", outcome.error
        return [a.to_dict() for a in outcome.actions]

    def rows(self) -> list[tuple[Any, ...]]:
        assert self.thread is not None
        return self.thread.call(
            lambda: self.db.conn.execute(
                "SELECT uid, recurrence_id, occurrence_json, fingerprint, state, start_utc,"
                " missing_count, announcement_id, revision, first_seen, last_seen"
                " FROM events ORDER BY uid, recurrence_id"
            ).fetchall()
        )


async def test_a_poller_with_everything_in_memory_posts_what_a_fresh_one_posts(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    talks = [Talk(post_id=i, start=T0 + timedelta(hours=11 * i)) for i in range(1, 31)]
    port = int(feed_server.url.split(":")[2].split("/")[0])
    fetcher = FeedFetcher(allow_addresses={("127.0.0.1", port)}, allowed_ports={80, 443, port})
    clock = FixedClock(T0)
    settings = FeedSettings(name="talks", url=feed_server.url, baseline="silent")
    kept = _Side(tmp_path / "kept.db", feed_server.url, fetcher, clock)
    fresh = _Side(tmp_path / "fresh.db", feed_server.url, fetcher, clock)
    kinds: list[set[str]] = []
    try:
        async with fetcher, CountingParser() as parser:
            kept.open()
            for step, (minutes, edited, restart) in enumerate(STEPS):
                clock.advance(minutes=minutes)
                for post in edited:
                    talks[post - 1] = replace(talks[post - 1], title=f"Revised at step {step}")
                feed_server.body = render_feed(talks, stamp=clock.now())
                if restart:
                    kept.open()
                fresh.open()  # nothing carried over but the table (and the parse cache rows)
                fresh.thread.call(  # type: ignore[union-attr]
                    lambda: fresh.db.conn.executescript(
                        "DELETE FROM parse_cache; DELETE FROM parse_cache_groups;"
                    )
                )
                got = await kept.poll(parser, settings)
                expected = await fresh.poll(parser, settings)
                assert got == expected, step
                assert kept.rows() == fresh.rows(), step
                kinds.append({a["kind"] for a in got})
    finally:
        kept.close()
        fresh.close()
    assert "announce" in kinds[2] and "announce" in kinds[5]  # entered the window unchanged
    assert "update" in kinds[3] and "update" in kinds[4]  # the announced talks retitled
