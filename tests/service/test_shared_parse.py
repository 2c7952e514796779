"""Many feeds following one calendar cost one parse per new body, yet each feed keeps its own
diff and announcements; feeds parsed under other settings never receive that result, and a
failed parse is never handed on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlite_utils import Database

from bench.feedgen import ZONE, Talk, render_feed
from bot.clock import FixedClock
from bot.config import FeedSettings
from bot.feeds.http import FeedFetcher
from bot.service.dbthread import DatabaseThread
from bot.service.poller import Poller, PollOutcome
from bot.service.shared_fetch import SharedFetcher
from bot.service.shared_parse import SharedParser
from bot.store.db import open_database
from bot.store.feeds import upsert_feed
from tests.feedserver import FeedServer
from tests.service.counting_parser import CountingParser
from tests.store.factories import T0
from tests.store.inspect_store import list_outbox

INTERVAL = timedelta(minutes=15)
TALKS = [Talk(post_id=i, start=T0 + timedelta(days=i)) for i in (1, 2)]


@dataclass
class Rig:
    poller: Poller
    db: Database
    clock: FixedClock
    server: FeedServer
    db_thread: DatabaseThread
    parser: CountingParser
    shared: SharedParser

    async def poll_all(self, feeds: list[tuple[int, FeedSettings]]) -> list[PollOutcome]:
        return await asyncio.gather(*(self.poller.poll(f, s, trusted=False) for f, s in feeds))

    async def add_feeds(
        self, count: int, *, first_guild: int = 1000
    ) -> list[tuple[int, FeedSettings]]:
        feeds = []
        for guild in range(first_guild, first_guild + count):
            row = await self.db_thread.run(
                lambda g=guild: upsert_feed(
                    self.db,
                    name="cs-seminar",
                    url=self.server.url,
                    guild_id=g,
                    channel_id=g * 10,
                    now=T0,
                )
            )
            settings = FeedSettings(
                name="cs-seminar",
                url=self.server.url,
                guild_id=guild,
                channel_id=guild * 10,
                poll_interval=INTERVAL,
                baseline="announce",
            )
            feeds.append((row.id, settings))
        return feeds

    async def outbox_sizes(self, feeds: list[tuple[int, FeedSettings]]) -> list[int]:
        return [len(await self.db_thread.run(list_outbox, self.db, f)) for f, _ in feeds]


@pytest.fixture
async def rig(feed_server: FeedServer) -> AsyncIterator[Rig]:
    feed_server.body = render_feed(TALKS)
    feed_server.etag = '"v1"'
    clock = FixedClock(T0)
    db_thread = DatabaseThread()
    port = int(feed_server.url.split(":")[2].split("/")[0])
    fetcher = FeedFetcher(
        allow_addresses=frozenset({("127.0.0.1", port)}), allowed_ports={80, 443, port}
    )
    parser = CountingParser()
    async with fetcher, parser:
        db = db_thread.call(open_database, None)
        shared = SharedParser(parser, db_thread, db, clock)
        poller = Poller(
            db=db,
            db_thread=db_thread,
            fetcher=fetcher,
            parser=parser,
            clock=clock,
            shared_fetch=SharedFetcher(fetcher, clock),
            shared_parse=shared,
        )
        yield Rig(poller, db, clock, feed_server, db_thread, parser, shared)
    db_thread.close()


async def test_fifty_guilds_on_one_calendar_cause_one_parse_per_new_body(rig: Rig) -> None:
    feeds = await rig.add_feeds(50)
    outcomes = await rig.poll_all(feeds)
    assert rig.server.hits == 1
    assert rig.parser.calls == 1 and rig.shared.parses == 1 and rig.shared.reused == 49
    assert [o.status for o in outcomes] == ["ok"] * 50
    assert await rig.outbox_sizes(feeds) == [len(TALKS)] * 50  # each guild announces both

    # The next interval brings a new talk: one request, one parse, one new row per guild.
    rig.server.body = render_feed([*TALKS, Talk(post_id=9, start=T0 + timedelta(days=3))])
    rig.server.etag = '"v2"'
    rig.clock.advance(minutes=15)
    outcomes = await rig.poll_all(feeds)
    assert rig.server.hits == 2 and rig.parser.calls == 2
    assert all(len(o.outbox_ids) == 1 for o in outcomes)
    assert await rig.outbox_sizes(feeds) == [len(TALKS) + 1] * 50


async def test_feeds_polled_seconds_apart_share_the_parse_in_their_own_window(rig: Rig) -> None:
    """A later poll has another window; it is assembled from the first feed's parse."""
    feeds = await rig.add_feeds(3)
    await rig.poll_all(feeds)  # the first polls: now each knows the others follow it too
    rig.server.body = render_feed([*TALKS, Talk(post_id=9, start=T0 + timedelta(days=3))])
    rig.server.etag = '"v2"'
    rig.clock.advance(minutes=15)
    hits, calls, reused = rig.server.hits, rig.parser.calls, rig.shared.reused
    first = await rig.poller.poll(*feeds[0], trusted=False)
    later = []
    for feed_id, settings in feeds[1:]:
        rig.clock.advance(seconds=20)
        later.append(await rig.poller.poll(feed_id, settings, trusted=False))
    assert rig.server.hits == hits + 1 and rig.parser.calls == calls + 1
    assert rig.shared.reused == reused + 2
    for outcome in later:
        assert outcome.parsed is not None and first.parsed is not None
        assert outcome.parsed.window_start > first.parsed.window_start  # its own window
        assert outcome.parsed.occurrences == first.parsed.occurrences
    assert await rig.outbox_sizes(feeds) == [len(TALKS) + 1] * 3


async def test_a_calendar_no_other_feed_follows_is_parsed_without_the_shared_digest(
    rig: Rig,
) -> None:
    (feed,) = await rig.add_feeds(1)
    outcome = await rig.poller.poll(*feed, trusted=False)
    assert outcome.status == "ok" and rig.parser.calls == 1
    assert rig.shared.parses == 0 and rig.shared.reused == 0


async def test_other_parse_settings_never_receive_the_result(rig: Rig) -> None:
    # Floating times: the feed's time zone decides when a talk starts.
    rig.server.body = render_feed(TALKS).replace(f";TZID={ZONE}".encode(), b"")
    plain, berlin, patterned, twin = await rig.add_feeds(4)
    berlin = (berlin[0], replace(berlin[1], timezone="Europe/Berlin"))
    patterned = (
        patterned[0],
        replace(patterned[1], seminar_summary_pattern=r"^(?P<series>[^:]+): (?P<title>.+)$"),
    )
    outcomes = await rig.poll_all([plain, berlin, patterned, twin])
    assert rig.server.hits == 1
    assert rig.parser.calls == 3  # the twin of the first shares; the other two parse

    def first_talk(outcome: PollOutcome) -> Any:
        assert outcome.parsed is not None
        return outcome.parsed.occurrences[0]

    assert first_talk(outcomes[0]) == first_talk(outcomes[3])
    assert first_talk(outcomes[1]).start != first_talk(outcomes[0]).start
    assert first_talk(outcomes[2]).seminar.title.startswith("Ada Lovelace")
    assert first_talk(outcomes[0]).seminar.title == "Notes on the Analytical Engine"


async def test_a_failed_parse_is_not_handed_on(rig: Rig) -> None:
    rig.server.body = b"this is not a calendar at all\r\n"
    feeds = await rig.add_feeds(3)
    outcomes = await rig.poll_all(feeds)
    assert [o.status for o in outcomes] == ["failed"] * 3
    assert rig.server.hits == 1 and rig.shared.reused == 0
    assert rig.parser.calls >= 3  # each feed parsed, and failed, on its own

    rig.server.body = render_feed(TALKS)
    rig.server.etag = '"v2"'
    rig.clock.advance(minutes=15)
    calls = rig.parser.calls
    outcomes = await rig.poll_all(feeds)
    assert [o.status for o in outcomes] == ["ok"] * 3
    assert rig.parser.calls == calls + 1


async def test_a_result_is_kept_only_for_a_while(rig: Rig) -> None:
    early, late = await rig.add_feeds(2)
    await rig.poller.poll(*early, trusted=False)
    rig.clock.advance(minutes=30)  # past the reuse of the download and of the parse
    await rig.poller.poll(*late, trusted=False)
    assert rig.server.hits == 2 and rig.parser.calls == 2 and rig.shared.reused == 0
