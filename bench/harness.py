"""The real poller driven with an in-memory body, plus loop-stall and 304 measurements."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from bench.procstat import status_mb
from bot.clock import FixedClock
from bot.config import FeedSettings
from bot.core.parse import ParseLimits
from bot.feeds.http import Downloaded, FeedFetcher, Validators
from bot.feeds.isolate import ParserPool
from bot.service.dbthread import DatabaseThread
from bot.service.poller import Poller, PollOutcome
from bot.store import feeds as feed_store
from bot.store.db import open_database


class _BodyFetcher:
    """Stands in for FeedFetcher: the body is already in memory (the floor reads it too)."""

    def __init__(self) -> None:
        self.body = b""

    async def fetch(
        self, url: str, *, validators: Validators | None = None, trusted: bool = False
    ) -> Downloaded:
        return Downloaded(self.body, Validators(), url, None, "text/calendar")


class BenchPoller:
    def __init__(self, db_path: Path, *, now: datetime) -> None:
        self.clock = FixedClock(now)
        self._db_path = db_path
        self._fetcher = _BodyFetcher()
        self._db_thread = DatabaseThread()
        self._pool = ParserPool()
        self.settings = FeedSettings(name="bench", url="https://bench.invalid/events/?ical=1")

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, **delta: float) -> None:
        self.clock.advance(**delta)

    async def __aenter__(self) -> BenchPoller:
        self._db = await self._db_thread.run(open_database, self._db_path)
        row = await self._db_thread.run(
            feed_store.upsert_feed, self._db, name="bench", url=self.settings.url, now=self.now
        )
        self._feed_id = row.id
        self._poller = Poller(
            db=self._db,
            db_thread=self._db_thread,
            fetcher=self._fetcher,  # type: ignore[arg-type]
            parser=self._pool,
            clock=self.clock,
            # The generated 50,000-event feed is ~36 MB: the operator raised the body cap for it.
            parse_limits=ParseLimits(max_bytes=64 * 1024 * 1024),
        )
        return self

    def parser_peak_mb(self) -> float:
        """Peak RSS (VmHWM) of the live parser workers."""
        return max((status_mb(pid, "VmHWM:") for pid in self._pool.worker_pids()), default=0.0)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._pool.close()
        await self._db_thread.run(self._db.close)
        self._db_thread.close()

    async def poll(self, body: bytes) -> PollOutcome:
        self._fetcher.body = body
        outcome = await self._poller.poll(self._feed_id, self.settings, trusted=True)
        if outcome.status == "failed":
            raise RuntimeError(f"bench poll failed: {outcome.error}")
        return outcome


async def max_stall(work: Callable[[], Awaitable[Any]]) -> float:
    """The largest gap (ms) a 1 ms ticker saw while ``work`` ran on the same loop."""
    done = asyncio.Event()
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        await work()
    finally:
        done.set()
        await task
    return worst * 1000


async def not_modified_poll(body: bytes) -> float:
    """Median ms of a poll answered 304 by a real aiohttp server on 127.0.0.1."""

    async def handle(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=body, content_type="text/calendar", headers={"ETag": '"v1"'})

    app = web.Application()
    app.router.add_get("/events/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    db_thread = DatabaseThread()
    try:
        db = await db_thread.run(open_database, None)
        url = f"http://127.0.0.1:{port}/events/"
        row = await db_thread.run(feed_store.upsert_feed, db, name="n", url=url)
        settings = FeedSettings(name="n", url=url)
        clock = FixedClock(datetime.now().astimezone())
        async with (
            FeedFetcher(allow_addresses=[("127.0.0.1", port)], allowed_ports=[port]) as fetcher,
            ParserPool() as pool,
        ):
            poller = Poller(db=db, db_thread=db_thread, fetcher=fetcher, parser=pool, clock=clock)
            first = await poller.poll(row.id, settings, trusted=True)
            assert first.status == "ok", first
            times = []
            for _ in range(7):
                clock.advance(minutes=15)
                start = time.perf_counter()
                outcome = await poller.poll(row.id, settings, trusted=True)
                times.append((time.perf_counter() - start) * 1000)
                assert outcome.status == "not_modified", outcome.status
        await db_thread.run(db.close)
    finally:
        db_thread.close()
        await runner.cleanup()
    times.sort()
    return times[len(times) // 2]


__all__ = ["BenchPoller", "max_stall", "not_modified_poll", "timedelta"]
