"""``python -m bench.fleet``: many feeds on the real scheduler and poller, in real time.

What it runs: one loopback HTTP server serving N feeds (30 events each, Events-Calendar
style), a SQLite database with N feed rows, the bot's own ``PollScheduler`` (APScheduler, the
per-feed slots), the same due-time gate as the bot's scheduled poll, the real ``Poller`` with
the real ``FeedFetcher`` (trusted loopback feeds, so the address guard is not exercised) and
the real ``ParserPool``. Each cycle most bodies are unchanged (answered 304 from the ETag), a
third of the feeds are re-stamped (DTSTAMP churn) and a tenth carry a real edit. ``--slow K``
makes K feeds hang until the fetch times out, to show that they do not hold up the others.

What it does not run: Discord. Nothing is delivered (outbox rows are written, not sent), no
gateway, no slash commands, no reminders; the feed server shares the process and the event
loop with the poller, so its own CPU is counted too. The period is the shortest the bot
accepts (60 s), so a cycle takes a real minute.

Printed: poll-start lateness against each feed's slot (p50, p99, max), the longest gap between
two polls of one feed in periods, polls per feed, and CPU seconds per cycle (this process plus
its parser children) with the share of one core, and how long healthy feeds' polls took (a slow
feed holding them up would show there, not in the start lateness).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from bench.feedgen import render_feed, seminar_series
from bot.clock import SystemClock
from bot.config import FeedSettings
from bot.core.poll_slots import nearest_slot, poll_period
from bot.feeds.http import FeedFetcher, FetchLimits
from bot.feeds.isolate import ParserPool
from bot.service.dbthread import DatabaseThread
from bot.service.poller import Poller
from bot.service.scheduler import PollScheduler, wait_until_due
from bot.store import feeds as feed_store
from bot.store.db import open_database

PERIOD = timedelta(seconds=60)
EVENTS_PER_FEED = 30
SLOW_FETCH_TIMEOUT = 5.0


class FleetServer:
    """Serves ``/feed/<i>.ics``; the body of each feed changes on a fixed pattern per cycle."""

    def __init__(self, feeds: int, slow: int, started: float) -> None:
        self._feeds = feeds
        self._slow = set(range(slow))
        self._started = started
        first = datetime.now(UTC) + timedelta(days=1)
        self._talks = seminar_series(EVENTS_PER_FEED, first=first)
        self.requests = 0
        self.not_modified = 0

    def _body(self, index: int, cycle: int) -> tuple[bytes, str]:
        edit = (cycle + index) // 10  # a real change every tenth cycle of a feed
        stamp_round = (cycle + index) // 3  # a new DTSTAMP every third
        talks = [
            replace(t, title=f"{t.title} (rev {edit})") if i == 0 else t
            for i, t in enumerate(self._talks)
        ]
        stamp = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=stamp_round)
        return render_feed(talks, stamp=stamp), f'"{index}-{edit}-{stamp_round}"'

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        index = int(request.match_info["index"])
        if index in self._slow:
            await asyncio.sleep(SLOW_FETCH_TIMEOUT * 3)  # the client gives up first
        cycle = int((time.monotonic() - self._started) // PERIOD.total_seconds())
        body, etag = self._body(index, cycle)
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="text/calendar", headers={"ETag": etag})


def _tree_cpu_seconds() -> float:
    """CPU time of this process and every descendant (the parser children), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    mine = {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                grew = True
    return sum(cpu.get(pid, 0.0) for pid in mine)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


async def run_fleet(feeds: int, cycles: int, slow: int) -> None:
    started = time.monotonic()
    server = FleetServer(feeds, slow, started)
    app = web.Application()
    app.router.add_get("/feed/{index}.ics", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    clock = SystemClock()
    db_thread = DatabaseThread()
    fetcher = FeedFetcher(limits=FetchLimits(total_timeout=SLOW_FETCH_TIMEOUT))
    pool = ParserPool()
    with tempfile.TemporaryDirectory() as tmp:
        db = await db_thread.run(open_database, Path(tmp) / "fleet.db")
        settings: dict[int, FeedSettings] = {}
        for index in range(feeds):
            url = f"http://127.0.0.1:{port}/feed/{index}.ics"
            row = await db_thread.run(
                feed_store.upsert_feed, db, name=f"feed-{index}", url=url, now=clock.now()
            )
            settings[row.id] = FeedSettings(name=f"feed-{index}", url=url, poll_interval=PERIOD)
        poller = Poller(db=db, db_thread=db_thread, fetcher=fetcher, parser=pool, clock=clock)
        period = poll_period(PERIOD)
        slow_ids = set(sorted(settings)[:slow])
        lateness: list[float] = []
        starts: dict[int, list[float]] = {feed_id: [] for feed_id in settings}
        statuses: dict[str, int] = {}
        durations: dict[int, list[float]] = {}

        async def poll(feed_id: int) -> None:
            # The bot's scheduled poll, minus Discord: read the due time, wait if early, poll.
            row = await db_thread.run(feed_store.get_feed, db, feed_id)
            feed = settings[feed_id]
            if not await wait_until_due(clock, feed_id, feed.poll_interval, row.next_poll_at):
                return
            now = clock.now()
            starts[feed_id].append(time.monotonic())
            if len(starts[feed_id]) > 1 and feed_id not in slow_ids:  # first = start-up catch-up
                lateness.append((now - nearest_slot(now, feed_id, period)).total_seconds())
            began = time.monotonic()
            outcome = await poller.poll(feed_id, feed, trusted=True)
            durations.setdefault(feed_id, []).append(time.monotonic() - began)
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1

        scheduler = PollScheduler(poll)
        scheduler.start()
        scheduler.schedule_fleet([(feed_id, PERIOD, None) for feed_id in settings])
        cpu_before = _tree_cpu_seconds()
        wall_before = time.monotonic()
        await asyncio.sleep(PERIOD.total_seconds() * cycles + 5)
        cpu = _tree_cpu_seconds() - cpu_before
        wall = time.monotonic() - wall_before
        scheduler.shutdown()
        # Polls still waiting or fetching are cut short: that is the end of the run, not news.
        logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
        logging.getLogger("bot").setLevel(logging.CRITICAL)
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await fetcher.close()
        await pool.close()
        await db_thread.run(db.close)
        db_thread.close()
    await runner.cleanup()

    healthy = [feed_id for feed_id in settings if feed_id not in slow_ids]
    gaps = [
        (b - a) / PERIOD.total_seconds()
        for feed_id in healthy
        for a, b in zip(starts[feed_id], starts[feed_id][1:], strict=False)
    ]
    polls = [len(starts[feed_id]) for feed_id in healthy]
    took = [d for feed_id in healthy for d in durations.get(feed_id, [])]
    print(
        f"fleet: {feeds} feeds ({slow} time out after {SLOW_FETCH_TIMEOUT:g} s), "
        f"period {PERIOD.total_seconds():g} s, {cycles} cycles, {wall:.0f} s of real time"
    )
    if lateness:
        print(
            f"poll start lateness vs slot: p50 {statistics.median(lateness) * 1000:.0f} ms, "
            f"p99 {_percentile(lateness, 0.99) * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms"
        )
    print(f"longest gap between polls of one healthy feed: {max(gaps, default=0):.2f} periods")
    print(f"polls per healthy feed: min {min(polls, default=0)}, max {max(polls, default=0)}")
    if took:
        print(
            f"healthy poll duration (fetch, parse, diff, save): p99 "
            f"{_percentile(took, 0.99) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms"
        )
    print(
        f"outcomes: {dict(sorted(statuses.items()))}; requests {server.requests}, "
        f"304s {server.not_modified}"
    )
    print(
        f"CPU: {cpu / (wall / PERIOD.total_seconds()):.2f} s per cycle, "
        f"{cpu / wall * 100:.1f} % of one core (process and parser children)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--slow", type=int, default=0, help="feeds whose fetch times out")
    parser.add_argument("--full", action="store_true", help="1,000 feeds, 10 slow, 3 cycles")
    args = parser.parse_args()
    if args.full:
        args.feeds, args.slow, args.cycles = 1000, 10, 3
    asyncio.run(run_fleet(args.feeds, args.cycles, args.slow))


if __name__ == "__main__":
    main()
