"""What happens around a poll and when a feed's target goes away: the bot's policy, not its I/O.

``FeedSupervisor.poll`` decides whether a scheduled tick polls at all (paused, disabled and
backing-off feeds are skipped), disables a feed that has failed for a day, warns about a
suspect feed, wakes delivery and runs the post-poll hooks. Telling admins is a callback: the
Discord layer owns how a notice reaches them, this module owns when and what.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlite_utils import Database

from bot.clock import Clock
from bot.core.backoff import should_disable
from bot.service.dbthread import DatabaseThread
from bot.service.feeds import settings_from_row
from bot.service.poller import Poller, PollOutcome
from bot.service.scheduler import wait_until_due
from bot.store import feeds as feed_store

log = logging.getLogger(__name__)

#: (guild id, dedupe key, text): tell a server's admins something once.
Notify = Callable[[int, str, str], Awaitable[None]]
#: Awaited after every poll with (feed id, outcome), e.g. to plan reminders.
AfterPollHook = Callable[[int, PollOutcome], Awaitable[None]]


def settings_trusted(row: feed_store.FeedRow) -> bool:
    """Feeds from the operator's config file are trusted; feeds added from Discord are not."""
    return row.settings.get("source") == "config"


def is_running(row: feed_store.FeedRow) -> bool:
    """A scheduled tick polls only feeds that are neither paused nor disabled."""
    return not (settings_from_row(row).paused or row.status in ("disabled", "paused"))


def disable_if_failing_too_long(
    db: Database, feed_id: int, *, now: datetime
) -> feed_store.FeedRow | None:
    """Disable a feed that has failed continuously for a day; the row when it was disabled."""
    row = feed_store.get_feed(db, feed_id)
    if row is None:
        return None
    failing_since = row.last_ok_at or row.created_at
    if not should_disable(failing_since, row.fail_count, now=now):
        return None
    feed_store.disable_feed(db, feed_id, reason="failing", now=now)
    return row


def disable_feeds_of_guild(db: Database, guild_id: int, *, now: datetime) -> int:
    """The bot left a server: its feeds stop (kept, so a re-invite can resume them)."""
    return feed_store.disable_feeds_of_guild(db, guild_id, reason="removed", now=now)


def disable_feeds_of_deleted_channel(
    db: Database, channel_id: int, *, now: datetime
) -> list[feed_store.FeedRow]:
    """A channel was deleted: stop the feeds that announce there; the rows that were stopped."""
    ids = feed_store.disable_feeds_of_channel(db, channel_id, reason="channel_missing", now=now)
    rows = [feed_store.get_feed(db, feed_id) for feed_id in ids]
    return [row for row in rows if row is not None]


class FeedSupervisor:
    """Runs one poll with the policy around it; shared by the scheduler and ``/feeds``."""

    def __init__(
        self,
        *,
        poller: Poller,
        db: Database,
        db_thread: DatabaseThread,
        clock: Clock,
        notify: Notify,
        wake_delivery: Callable[[], None],
        after_poll_hooks: list[AfterPollHook],
        is_closing: Callable[[], bool] = lambda: False,
    ) -> None:
        self._poller = poller
        self._db = db
        self._db_thread = db_thread
        self._clock = clock
        self._notify = notify
        self._wake_delivery = wake_delivery
        #: Shared with the bot, so a feature registers its follow-up in one place.
        self.after_poll_hooks = after_poll_hooks
        self._is_closing = is_closing

    async def poll(self, feed_id: int, *, force: bool = False) -> PollOutcome | None:
        """One poll; None when the feed is gone or (unless forced) not due."""
        row = await self._db_thread.run(feed_store.get_feed, self._db, feed_id)
        if row is None:
            return None
        settings = settings_from_row(row)
        if not force and (
            not is_running(row)
            # An early wake-up waits until the feed is due; a backing-off one is skipped.
            or not await wait_until_due(
                self._clock, feed_id, settings.poll_interval, row.next_poll_at
            )
            or self._is_closing()
        ):
            return None
        now = self._clock.now()
        outcome = await self._poller.poll(
            feed_id, settings, trusted=settings_trusted(row), fresh=force
        )
        if outcome.status == "failed":
            await self._after_failure(feed_id, now)
        elif outcome.status == "suspect":
            await self._notify(
                row.guild_id,
                f"suspect:{feed_id}:{row.last_ok_at}",
                f"Feed **{row.name}** suddenly lost most of its upcoming events "
                f"({outcome.suspect_reason}). I am holding all changes until it looks normal "
                "again, so nothing was announced as cancelled.",
            )
        if outcome.outbox_ids:
            self._wake_delivery()
        for hook in list(self.after_poll_hooks):
            try:
                await hook(feed_id, outcome)
            except Exception:  # a feature's follow-up must never break polling
                log.exception("after-poll hook failed for feed %s", feed_id)
        return outcome

    async def _after_failure(self, feed_id: int, now: datetime) -> None:
        row = await self._db_thread.run(disable_if_failing_too_long, self._db, feed_id, now=now)
        if row is None:
            return
        await self._notify(
            row.guild_id,
            f"failing:{feed_id}:{row.last_ok_at}",
            f"Feed **{row.name}** has failed for over a day "
            f"({row.last_error_reason}: {row.last_error}), so I stopped polling it. "
            "Check the calendar address, then re-enable it with `/feeds settings`.",
        )

    async def guild_removed(self, guild_id: int) -> int:
        """The bot was removed from a server; how many feeds were stopped."""
        return await self._db_thread.run(
            disable_feeds_of_guild, self._db, guild_id, now=self._clock.now()
        )

    async def channel_deleted(self, guild_id: int, channel_id: int) -> None:
        """A feed's channel was deleted: stop its feeds and tell the admins how to resume."""
        rows = await self._db_thread.run(
            disable_feeds_of_deleted_channel, self._db, channel_id, now=self._clock.now()
        )
        for row in rows:
            await self._notify(
                guild_id,
                f"target:{channel_id}:channel_missing",
                f"The channel of feed **{row.name}** was deleted, so I stopped announcing it. "
                "Pick a new channel with `/feeds settings`.",
            )
