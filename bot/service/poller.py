"""One poll of one feed, top to bottom: fetch → parse (child process) → filter → diff → save.

This is the only module that composes the HTTP client, the parser, the core diff and the
store. A failure at any step before the save changes nothing but the feed's health record.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlite_utils import Database

from bot.clock import Clock
from bot.config import FeedSettings
from bot.core.backoff import next_poll_delay
from bot.core.diff import DiffPolicy, DiffResult, diff_feed
from bot.core.filters import apply_filters
from bot.core.models import Action, ParsedFeed
from bot.core.parse import ParseLimits
from bot.core.poll_slots import poll_period, slot_after
from bot.errors import FeedError, FeedHTTPError, HostBusy
from bot.feeds.http import Downloaded, FeedFetcher, FetchResult, NotModified, Validators
from bot.feeds.isolate import ParserPool
from bot.service.dbthread import DatabaseThread
from bot.service.incremental import parse_incrementally
from bot.service.shared_fetch import SharedFetcher
from bot.service.shared_parse import SharedParser
from bot.store import events as event_store
from bot.store import feeds as feed_store

log = logging.getLogger(__name__)

#: ``deferred``: the feed's server had no free slot in time; nothing was polled or recorded.
PollStatus = Literal["ok", "not_modified", "failed", "suspect", "deferred"]
Baseline = Literal["announce", "silent"]


@dataclass(frozen=True)
class PollWindow:
    """Which occurrences a poll expands: a day of history (to see endings) and half a year."""

    past: timedelta = timedelta(days=1)
    future: timedelta = timedelta(days=180)


@dataclass(frozen=True)
class PollOutcome:
    feed: str
    status: PollStatus
    actions: tuple[Action, ...] = ()
    outbox_ids: tuple[int, ...] = ()
    error: FeedError | None = None
    parsed: ParsedFeed | None = None
    next_poll_at: datetime | None = None
    suspect_reason: str = ""
    #: Due announcements held back by the per-poll budget; later polls announce them.
    deferred: int = 0


class Poller:
    def __init__(
        self,
        *,
        db: Database,
        db_thread: DatabaseThread,
        fetcher: FeedFetcher,
        parser: ParserPool,
        clock: Clock,
        default_timezone: str = "UTC",
        window: PollWindow = PollWindow(),
        rng: random.Random | None = None,
        parse_limits: ParseLimits | None = None,
        diff_policy: DiffPolicy | None = None,
        shared_fetch: SharedFetcher | None = None,
        shared_parse: SharedParser | None = None,
    ) -> None:
        self._db = db
        self._db_thread = db_thread
        self._fetcher = fetcher
        self._parser = parser
        self._clock = clock
        self._default_timezone = default_timezone
        self._window = window
        self._rng = rng or random.Random()
        #: An operator may raise the caps for one huge feed (the bench's 50,000 events).
        self._parse_limits = parse_limits or ParseLimits()
        #: The change policy; each feed's announce window replaces the default one.
        self._diff_policy = diff_policy or DiffPolicy()
        #: When set, feeds following the same calendar share its downloads.
        self._shared_fetch = shared_fetch
        #: When set, feeds that received the same body under the same parse settings share
        #: its parse (each still filters, diffs and saves on its own).
        self._shared_parse = shared_parse

    async def poll(
        self, feed_id: int, settings: FeedSettings, *, trusted: bool, fresh: bool = False
    ) -> PollOutcome:
        """Poll once. Never raises for feed problems: they come back as a failed outcome.

        ``fresh`` (a poll someone asked for) does not reuse another feed's recent download.
        """
        now = self._clock.now()
        asked_after = 0
        if self._shared_fetch is not None:
            self._shared_fetch.follow(
                feed_id, settings.url, trusted=trusted, interval=settings.poll_interval
            )
            # Any download that starts from here on is as fresh as this poll asks for.
            asked_after = self._shared_fetch.ticket()
        row = await self._db_thread.run(feed_store.get_feed, self._db, feed_id)
        if row is None:
            raise LookupError(f"feed {feed_id} is not in the database")
        validators = Validators(etag=row.etag, last_modified=row.last_modified)
        if validators and (
            row.deferred_announcements
            or await self._db_thread.run(
                event_store.has_due_pending,
                self._db,
                feed_id,
                now=now,
                horizon=now + settings.announce_window,
            )
        ):
            # Announcements are due now, changed feed or not (held back by the budget, or an
            # event that has just entered the window): a 304 would skip the diff that makes
            # them, so ask for the body unconditionally.
            validators = Validators(etag=None, last_modified=None)
        try:
            fetched = await self._fetch(feed_id, settings, validators, trusted, fresh, asked_after)
            if isinstance(fetched, NotModified):
                return await self._not_modified(feed_id, settings, now)
            parsed = await self._parse(feed_id, settings, fetched.body, now)
        except HostBusy as exc:
            return self._deferred(feed_id, settings, exc, now)
        except FeedError as exc:
            return await self._failed(feed_id, settings, row.fail_count, exc, now)

        parsed = replace(
            parsed,
            occurrences=apply_filters(parsed.occurrences, settings.include, settings.exclude),
        )
        baseline: Baseline | None = None
        if not row.baseline_done:
            baseline = "announce" if settings.baseline == "announce" else "silent"
        result, outbox_ids = await self._db_thread.run(
            self._diff_and_save, feed_id, settings, parsed, fetched, now, baseline
        )
        next_poll_at = slot_after(now, feed_id, poll_period(settings.poll_interval))
        if result.over_cap:
            log.warning(
                "feed %s: %d announcements held back by the budget of %d per poll; "
                "they stay queued and are announced by the next polls",
                settings.name,
                len(result.over_cap),
                self._policy(feed_id, settings).max_announcements_per_poll,
            )
        if result.suspect:
            log.warning(
                "feed %s looks broken, holding all changes: %s",
                settings.name,
                result.suspect_reason,
            )
        return PollOutcome(
            feed=settings.name,
            status="suspect" if result.suspect else "ok",
            actions=result.actions,
            outbox_ids=tuple(outbox_ids),
            parsed=parsed,
            next_poll_at=next_poll_at,
            suspect_reason=result.suspect_reason,
            deferred=len(result.over_cap),
        )

    async def _fetch(
        self,
        feed_id: int,
        settings: FeedSettings,
        validators: Validators,
        trusted: bool,
        fresh: bool,
        asked_after: int,
    ) -> FetchResult:
        if self._shared_fetch is None:
            return await self._fetcher.fetch(settings.url, validators=validators, trusted=trusted)
        return await self._shared_fetch.fetch(
            feed_id,
            settings.url,
            validators=validators,
            trusted=trusted,
            interval=settings.poll_interval,
            reuse=not fresh,
            asked_after=asked_after,
        )

    async def _parse(
        self, feed_id: int, settings: FeedSettings, body: bytes, now: datetime
    ) -> ParsedFeed:
        window_start = now - self._window.past
        window_end = now + self._window.future
        default_timezone = settings.timezone or self._default_timezone
        limits = replace(
            self._parse_limits,
            seminar_summary_pattern=settings.seminar_summary_pattern,
            seminar_description_pattern=settings.seminar_description_pattern,
        )
        # A calendar no other feed follows has nothing to share, and sharing costs a digest
        # of the whole body; the incremental parse below already skips the unchanged.
        if self._shared_parse is not None and (
            self._shared_fetch is None or self._shared_fetch.shares_calendar(feed_id)
        ):
            return await self._shared_parse.parse(
                feed_id,
                body,
                window_start=window_start,
                window_end=window_end,
                default_timezone=default_timezone,
                limits=limits,
            )
        return await parse_incrementally(
            self._parser,
            self._db_thread,
            self._db,
            feed_id,
            body,
            window_start=window_start,
            window_end=window_end,
            default_timezone=default_timezone,
            limits=limits,
        )

    def _policy(self, feed_id: int, settings: FeedSettings) -> DiffPolicy:
        return replace(
            self._diff_policy,
            announce_window=settings.announce_window,
            id_scope=f"feed {feed_id}",
        )

    def _diff_and_save(
        self,
        feed_id: int,
        settings: FeedSettings,
        parsed: ParsedFeed,
        fetched: Downloaded,
        now: datetime,
        baseline: Baseline | None,
    ) -> tuple[DiffResult, list[int]]:
        # Runs on the database thread: the diff of a large feed must not stall the event loop,
        # and loading, diffing and saving back to back keeps the single-writer rule simple.
        stored, index = event_store.load_for_diff(self._db, feed_id)
        result = diff_feed(
            settings.name,
            stored,
            parsed,
            now=now,
            policy=self._policy(feed_id, settings),
            baseline=baseline,
            stored_sorted=True,  # load_for_diff returns them soonest first
            index=index,
        )
        outbox_ids = event_store.save_poll_result(
            self._db,
            feed_id,
            result,
            now=now,
            etag=fetched.validators.etag,
            last_modified=fetched.validators.last_modified,
            # Nothing reads a hash of the raw body (the parse caches key bodies by their
            # stamp-free digest), and one costs most of the floor of a large feed's poll.
            body_hash=None,
            next_poll_at=slot_after(now, feed_id, poll_period(settings.poll_interval)),
        )
        return result, outbox_ids

    async def _not_modified(
        self, feed_id: int, settings: FeedSettings, now: datetime
    ) -> PollOutcome:
        next_poll_at = slot_after(now, feed_id, poll_period(settings.poll_interval))
        await self._db_thread.run(
            event_store.record_not_modified, self._db, feed_id, now=now, next_poll_at=next_poll_at
        )
        return PollOutcome(feed=settings.name, status="not_modified", next_poll_at=next_poll_at)

    def _deferred(
        self, feed_id: int, settings: FeedSettings, busy: HostBusy, now: datetime
    ) -> PollOutcome:
        """Not a failure: the feed keeps its health and its due time, so its next slot polls
        it (the stored due time is already past by then)."""
        log.warning("poll of feed %s deferred: %s", settings.name, busy)
        return PollOutcome(
            feed=settings.name,
            status="deferred",
            error=busy,
            next_poll_at=slot_after(now, feed_id, poll_period(settings.poll_interval)),
        )

    async def _failed(
        self,
        feed_id: int,
        settings: FeedSettings,
        previous_failures: int,
        error: FeedError,
        now: datetime,
    ) -> PollOutcome:
        retry_after = error.retry_after if isinstance(error, FeedHTTPError) else None
        delay = next_poll_delay(
            settings.poll_interval, previous_failures + 1, retry_after=retry_after, rng=self._rng
        )
        next_poll_at = now + delay
        log.warning("poll of feed %s failed (%s): %s", settings.name, error.reason, error)
        await self._db_thread.run(
            event_store.record_poll_failure,
            self._db,
            feed_id,
            now=now,
            reason=error.reason,
            message=str(error),
            next_poll_at=next_poll_at,
        )
        return PollOutcome(
            feed=settings.name, status="failed", error=error, next_poll_at=next_poll_at
        )
