"""One parse serves every feed that received the same calendar under the same parse settings.

Fifty servers following one calendar get one download (``shared_fetch``) and the same bytes;
parsing them fifty times would repeat the same work fifty times. Feeds share a parse by
(the body's stamp-free digest, parse-settings key). The digest is the one the incremental
cache knows bodies by, computed once per download and handed to it; the settings key holds
everything besides the body that decides a parse (parser version, default time zone, caps,
seminar patterns), so feeds with a different time zone or pattern never see each other's
result. What stays per feed: the
include/exclude filters, the diff against the feed's own stored events and its outbox rows.

A result is handed on in two ways, both exact:

* the same window (polls at the same instant): the parsed feed itself;
* another window: assembled from the groups the parsing feed left in its incremental cache,
  as that feed's own next poll would (same body but for stamps, same settings, window inside
  the horizon). When that cache no longer fits, the feed parses on its own.

Polls that overlap wait for the parse in flight; a result is kept for a short while (``keep``,
at most ``max_entries`` calendars) for feeds polled a little later. Failures are never shared:
a feed whose leader failed, or whose result does not fit, runs its own parse and records its
own outcome.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot.clock import Clock
from bot.core.incremental import settings_key
from bot.core.models import ParsedFeed
from bot.core.parse import ParseLimits
from bot.feeds.isolate import ParserPool
from bot.service.dbthread import DatabaseThread
from bot.service.incremental import answer_from_feed, body_digest, parse_incrementally

#: (the body's stamp-free digest, parse-settings key)
ParseKey = tuple[str, bytes]

#: How long a result stays available to feeds polled a little later.
DEFAULT_KEEP = timedelta(minutes=10)
#: Calendars whose last result is kept at once (the oldest goes first).
DEFAULT_MAX_ENTRIES = 32
#: Bodies whose digest is remembered by identity: a shared download is one ``bytes`` object.
#: Small, since each entry keeps a whole body alive.
_DIGEST_MEMO = 2


@dataclass(frozen=True)
class _Result:
    parsed: ParsedFeed
    #: The feed that parsed it; its incremental cache holds the groups behind it.
    feed_id: int
    at: datetime


class SharedParser:
    """Wraps the incremental parse so feeds with the same body and settings share one parse."""

    def __init__(
        self,
        parser: ParserPool,
        db_thread: DatabaseThread,
        db: Database,
        clock: Clock,
        *,
        keep: timedelta = DEFAULT_KEEP,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._parser = parser
        self._db_thread = db_thread
        self._db = db
        self._clock = clock
        self._keep = keep
        self._max_entries = max(1, max_entries)
        self._in_flight: dict[ParseKey, asyncio.Future[_Result | None]] = {}
        self._recent: OrderedDict[ParseKey, _Result] = OrderedDict()
        self._digests: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        #: Parses a feed ran itself (incremental or full), and results handed to another feed.
        self.parses = 0
        self.reused = 0

    async def parse(
        self,
        feed_id: int,
        body: bytes,
        *,
        window_start: datetime,
        window_end: datetime,
        default_timezone: str,
        limits: ParseLimits,
    ) -> ParsedFeed:
        """What ``parse_incrementally`` would answer this feed, sharing the work when it can."""
        settings = settings_key(default_timezone, limits)
        digest = await self._digest(body)
        key: ParseKey = (digest, settings)
        window = (window_start, window_end)
        waited = key in self._in_flight
        shared = await self._shared(key)
        if shared is not None:
            parsed = await self._adapt(shared, body, digest, window, settings, limits)
            if parsed is not None:
                self.reused += 1
                return parsed
        # Only a feed that found nothing to share leads. One whose shared result did not fit,
        # or whose leader failed, parses beside the others rather than making later feeds
        # wait for it in turn.
        lead = not waited and shared is None and key not in self._in_flight
        done: asyncio.Future[_Result | None] = asyncio.get_running_loop().create_future()
        if lead:
            self._in_flight[key] = done
        try:
            self.parses += 1
            parsed = await parse_incrementally(
                self._parser,
                self._db_thread,
                self._db,
                feed_id,
                body,
                window_start=window_start,
                window_end=window_end,
                default_timezone=default_timezone,
                limits=limits,
                body_hash=digest,
            )
            result = _Result(parsed, feed_id, self._clock.now())
            self._remember(key, result)
            done.set_result(result)
            return parsed
        finally:
            if not done.done():  # failed or cancelled: the waiters parse on their own
                done.set_result(None)
            if lead and self._in_flight.get(key) is done:
                del self._in_flight[key]

    async def _shared(self, key: ParseKey) -> _Result | None:
        """The parse in flight for this key (waited for), else a recent one, else nothing."""
        flight = self._in_flight.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        recent = self._recent.get(key)
        if recent is None:
            return None
        if self._clock.now() - recent.at >= self._keep:
            del self._recent[key]
            return None
        return recent

    async def _adapt(
        self,
        shared: _Result,
        body: bytes,
        digest: str,
        window: tuple[datetime, datetime],
        settings: bytes,
        limits: ParseLimits,
    ) -> ParsedFeed | None:
        if (shared.parsed.window_start, shared.parsed.window_end) == window:
            return shared.parsed  # same bytes, settings and window: the same answer
        return await self._db_thread.run(
            answer_from_feed, self._db, shared.feed_id, body, digest, window, settings, limits
        )

    def _remember(self, key: ParseKey, result: _Result) -> None:
        self._recent[key] = result
        self._recent.move_to_end(key)
        while len(self._recent) > self._max_entries:
            self._recent.popitem(last=False)

    async def _digest(self, body: bytes) -> str:
        """The body's stamp-free digest, off the event loop; once per shared download."""
        memo = self._digests.get(id(body))
        if memo is not None and memo[0] is body:
            return memo[1]
        digest = await self._db_thread.run(body_digest, body)
        # The memo holds the body itself, so its id cannot be reused while remembered.
        self._digests[id(body)] = (body, digest)
        while len(self._digests) > _DIGEST_MEMO:
            self._digests.popitem(last=False)
        return digest
