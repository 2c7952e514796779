"""Many feeds following one calendar cost its server one request, yet each feed keeps its own
announcements; trust policies never share a body and a failure is never reused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlite_utils import Database

from bench.feedgen import Talk, render_feed
from bot.clock import FixedClock
from bot.config import FeedSettings
from bot.feeds.http import Downloaded, FeedFetcher, NotModified, Validators
from bot.feeds.isolate import ParserPool
from bot.service.dbthread import DatabaseThread
from bot.service.poller import Poller, PollOutcome
from bot.service.shared_fetch import SharedFetcher, normalise_url
from bot.store.db import open_database
from bot.store.feeds import upsert_feed
from tests.feedserver import FeedServer
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
    shared: SharedFetcher

    async def poll_all(self, feeds: list[tuple[int, FeedSettings, bool]]) -> list[PollOutcome]:
        return await asyncio.gather(
            *(self.poller.poll(fid, s, trusted=trusted) for fid, s, trusted in feeds)
        )


def _port(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


@pytest.fixture
async def rig(feed_server: FeedServer) -> AsyncIterator[Rig]:
    feed_server.body = render_feed(TALKS)
    feed_server.etag = '"v1"'
    clock = FixedClock(T0)
    db_thread = DatabaseThread()
    port = _port(feed_server.url)
    fetcher = FeedFetcher(
        allow_addresses=frozenset({("127.0.0.1", port)}), allowed_ports={80, 443, port}
    )
    shared = SharedFetcher(fetcher, clock)
    async with fetcher, ParserPool(in_process=True) as parser:
        db = db_thread.call(open_database, None)
        poller = Poller(
            db=db,
            db_thread=db_thread,
            fetcher=fetcher,
            parser=parser,
            clock=clock,
            shared_fetch=shared,
        )
        yield Rig(poller, db, clock, feed_server, db_thread, shared)
    db_thread.close()


async def _feeds(
    rig: Rig, count: int, *, trusted: bool = False, first_guild: int = 1000
) -> list[tuple[int, FeedSettings, bool]]:
    feeds = []
    for n in range(count):
        guild = first_guild + n
        settings = FeedSettings(
            name="cs-seminar",
            url=rig.server.url,
            guild_id=guild,
            channel_id=guild * 10,
            poll_interval=INTERVAL,
            baseline="announce",
        )
        row = await rig.db_thread.run(
            lambda g=guild: upsert_feed(
                rig.db,
                name="cs-seminar",
                url=rig.server.url,
                guild_id=g,
                channel_id=g * 10,
                now=T0,
            )
        )
        feeds.append((row.id, settings, trusted))
    return feeds


async def test_fifty_guilds_on_one_calendar_cause_one_request_per_interval(rig: Rig) -> None:
    feeds = await _feeds(rig, 50)
    outcomes = await rig.poll_all(feeds[:45])
    assert rig.server.hits == 1
    # Polls a little apart (not overlapping) within the interval reuse the body.
    rig.clock.advance(minutes=1)
    outcomes += [await rig.poller.poll(fid, s, trusted=t) for fid, s, t in feeds[45:]]
    assert rig.server.hits == 1
    assert [o.status for o in outcomes] == ["ok"] * 50
    for feed_id, _, _ in feeds:
        rows = await rig.db_thread.run(list_outbox, rig.db, feed_id)
        assert len(rows) == len(TALKS)  # each guild announces both talks itself

    # The next interval: one conditional request answers every feed that holds the body.
    rig.clock.advance(minutes=15)
    outcomes = await rig.poll_all(feeds)
    assert rig.server.hits == 2 and rig.server.not_modified == 1
    assert {o.status for o in outcomes} == {"not_modified"}

    # A new talk reaches every guild once, from one request.
    rig.server.body = render_feed([*TALKS, Talk(post_id=9, start=T0 + timedelta(days=3))])
    rig.server.etag = '"v2"'
    rig.clock.advance(minutes=15)
    outcomes = await rig.poll_all(feeds)
    assert rig.server.hits == 3
    assert all(len(o.outbox_ids) == 1 for o in outcomes)


async def test_same_named_feeds_of_two_guilds_get_their_own_announcement_ids(rig: Rig) -> None:
    # Same name, same calendar, first seen at the same instant: a button press carries only
    # the announcement id, so an id shared by two guilds would find the other guild's talk.
    feeds = await _feeds(rig, 2)
    await rig.poll_all(feeds)
    ids = [
        {row.announcement_id for row in await rig.db_thread.run(list_outbox, rig.db, feed_id)}
        for feed_id, _, _ in feeds
    ]
    assert all(len(each) == len(TALKS) for each in ids)
    assert not ids[0] & ids[1]


async def test_trusted_and_untrusted_feeds_never_share_a_body(rig: Rig) -> None:
    feeds = [
        *(await _feeds(rig, 2, trusted=True, first_guild=1)),
        *(await _feeds(rig, 2, trusted=False, first_guild=100)),
    ]
    outcomes = await rig.poll_all(feeds[:3])
    assert [o.status for o in outcomes] == ["ok"] * 3
    assert rig.server.hits == 2  # one per policy
    rig.clock.advance(minutes=1)
    later = await rig.poller.poll(feeds[3][0], feeds[3][1], trusted=False)
    assert later.status == "ok"
    assert rig.server.hits == 2  # reused within its own policy only


async def test_a_failed_download_is_not_reused(rig: Rig) -> None:
    first, second = await _feeds(rig, 2)
    rig.server.status = 500
    failed = await rig.poller.poll(first[0], first[1], trusted=False)
    assert failed.status == "failed"
    rig.server.status = 200
    ok = await rig.poller.poll(second[0], second[1], trusted=False)
    assert ok.status == "ok" and rig.server.hits == 2
    retried = await rig.poller.poll(first[0], first[1], trusted=False)
    assert retried.status == "ok" and rig.server.hits == 2  # now the good body is shared


async def test_a_304_for_one_feed_is_not_a_body_for_another(rig: Rig) -> None:
    url = rig.server.url
    held = Validators(etag='"v1"')
    answers = await asyncio.gather(
        rig.shared.fetch(1, url, validators=held, trusted=False, interval=INTERVAL),
        rig.shared.fetch(2, url, validators=Validators(), trusted=False, interval=INTERVAL),
    )
    assert isinstance(answers[0], NotModified)
    assert isinstance(answers[1], Downloaded) and answers[1].body == rig.server.body
    assert rig.server.hits == 2 and rig.server.not_modified == 1


async def test_a_poll_asked_for_now_does_not_reuse_a_recent_body(rig: Rig) -> None:
    (feed,) = await _feeds(rig, 1)
    await rig.poller.poll(feed[0], feed[1], trusted=False)
    rig.server.body = render_feed(TALKS[:1])
    rig.server.etag = '"v2"'
    outcome = await rig.poller.poll(feed[0], feed[1], trusted=False, fresh=True)
    assert rig.server.hits == 2 and outcome.status == "ok"


async def test_polls_asked_for_at_once_share_one_request_even_one_after_another(rig: Rig) -> None:
    # A refresh of every feed on one calendar: the first download may finish before the
    # others reach the fetcher, and it is still as fresh as they asked for.
    url = rig.server.url
    asked = rig.shared.ticket()
    for feed_id in (1, 2, 3):
        answer = await rig.shared.fetch(
            feed_id,
            url,
            validators=Validators(),
            trusted=False,
            interval=INTERVAL,
            reuse=False,
            asked_after=asked,
        )
        assert isinstance(answer, Downloaded)
    assert rig.server.hits == 1
    # A poll asked for after that download gets a new one.
    later = rig.shared.ticket()
    await rig.shared.fetch(
        1,
        url,
        validators=Validators(),
        trusted=False,
        interval=INTERVAL,
        reuse=False,
        asked_after=later,
    )
    assert rig.server.hits == 2


def test_spellings_of_one_calendar_share_a_key() -> None:
    assert normalise_url(" webcal://CS.Example.edu/events/?ical=1") == normalise_url(
        "https://cs.example.edu/events/?ical=1"
    )
    assert normalise_url("https://a.example/x?ical=1") != normalise_url("https://a.example/x")


async def test_the_shortest_interval_bounds_how_long_a_body_is_reused(rig: Rig) -> None:
    hourly, frequent = await _feeds(rig, 2)
    hourly = (hourly[0], replace(hourly[1], poll_interval=timedelta(hours=1)), False)
    frequent = (frequent[0], replace(frequent[1], poll_interval=timedelta(minutes=2)), False)
    await rig.poll_all([hourly, frequent])
    assert rig.server.hits == 1
    rig.clock.advance(minutes=2)  # within the hour, but two minutes have passed
    rig.server.body = render_feed(TALKS[:1])
    rig.server.etag = '"v2"'
    outcome = await rig.poller.poll(hourly[0], hourly[1], trusted=False)
    assert rig.server.hits == 2 and outcome.status == "ok"


async def test_feeds_polled_across_the_interval_cause_one_request_per_interval(rig: Rig) -> None:
    """Each feed has its own phase, so fifty followers of one URL poll spread over the interval."""
    feeds = await _feeds(rig, 50)
    step = INTERVAL / 50
    for interval in range(3):
        for feed_id, settings, trusted in feeds:
            outcome = await rig.poller.poll(feed_id, settings, trusted=trusted)
            assert outcome.status in ("ok", "not_modified")
            rig.clock.advance(seconds=step.total_seconds())
        assert rig.server.hits == interval + 1


async def test_a_feed_alone_on_its_url_downloads_at_every_poll(rig: Rig) -> None:
    """A body is never handed back to the feed that got it, however recent it still is."""
    ((feed_id, settings, trusted),) = await _feeds(rig, 1)
    await rig.poller.poll(feed_id, settings, trusted=trusted)
    rig.clock.advance(seconds=INTERVAL.total_seconds() - 5)  # its last poll ran a little late
    rig.server.body = render_feed(TALKS[:1])
    rig.server.etag = '"v2"'
    outcome = await rig.poller.poll(feed_id, settings, trusted=trusted)
    assert rig.server.hits == 2 and outcome.status == "ok"
