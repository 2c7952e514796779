"""Feed administration: add, change, remove and inspect feeds, with the schedule kept in step.

The ``/feeds`` commands validate what a member typed and render the answer; every decision
about state (what status a change leads to, when the poll schedule moves, who hears about a
change) is made here. Other features learn about a settings change through
``FeedAdmin.settings_hooks`` rather than being looked up by the command.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlite_utils import Database

from bot.clock import Clock
from bot.config import FeedSettings
from bot.errors import SeminarBotError
from bot.feeds.http import FeedFetcher
from bot.feeds.isolate import ParserPool
from bot.service.dbthread import DatabaseThread
from bot.service.feed_probe import Probe, probe_feed
from bot.service.feeds import settings_from_row, settings_to_dict
from bot.service.poller import PollOutcome
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store.feeds import FeedRow, FeedStatus

#: A re-enabled or resumed feed is polled this soon, not a whole interval later.
RESUME_DELAY = timedelta(seconds=5)


class FeedAdminRefusal(SeminarBotError):
    """The request cannot be done as asked; the message says why, for the admin."""

    reason = "refused"


class FeedSchedule(Protocol):
    """The part of the poll scheduler feed administration moves."""

    def schedule_feed(
        self, feed_id: int, interval: timedelta, *, first_run: datetime | None = None
    ) -> None: ...

    def unschedule_feed(self, feed_id: int) -> None: ...

    def next_run(self, feed_id: int) -> datetime | None: ...


@dataclass(frozen=True)
class SettingsChanged:
    """What a settings hook learns: the row before and after, and which options were given."""

    before: FeedRow
    after: FeedRow
    given: frozenset[str]


SettingsHook = Callable[[SettingsChanged], Awaitable[None]]
PollNow = Callable[[int], Awaitable[PollOutcome | None]]


@dataclass(frozen=True)
class AddedFeed:
    probe: Probe
    row: FeedRow


@dataclass(frozen=True)
class FeedCounts:
    stored: int
    upcoming: int


def name_from_calendar(probe: Probe) -> str:
    """A feed name made from the calendar's own name, when the admin gave none."""
    base = re.sub(r"[^a-z0-9]+", "-", (probe.parsed.calendar_name or "calendar").lower())
    return base.strip("-")[:32].strip("-") or "calendar"


def status_after_change(
    row: FeedRow, *, paused: bool | None, enabled: bool | None
) -> FeedStatus | None:
    """The feed status a settings change leads to; None keeps the current one."""
    if paused is True:
        return FeedStatus.PAUSED
    if paused is False or enabled:
        return FeedStatus.ACTIVE if row.status in ("paused", "disabled") else None
    return None


def count_events(db: Database, feed_id: int, *, now: datetime) -> FeedCounts:
    return FeedCounts(
        stored=event_store.count_events(db, feed_id),
        upcoming=event_store.count_upcoming(db, feed_id, now=now),
    )


class FeedAdmin:
    """One bot's feed administration: the store on the database thread plus the schedule."""

    def __init__(self, *, db: Database, db_thread: DatabaseThread, clock: Clock) -> None:
        self._db = db
        self._db_thread = db_thread
        self._clock = clock
        #: The poll scheduler, once it runs (None in tests that poll by hand).
        self.schedule: FeedSchedule | None = None
        #: Awaited after every settings change (e.g. the Events tab mirror syncs the feed).
        self.settings_hooks: list[SettingsHook] = []

    # --- reads ------------------------------------------------------------------------------

    async def find(self, name: str, guild_id: int) -> FeedRow | None:
        return await self._db_thread.run(
            feed_store.get_feed_by_name, self._db, name.strip(), guild_id
        )

    async def list(self, guild_id: int | None) -> list[FeedRow]:
        return await self._db_thread.run(feed_store.list_feeds, self._db, guild_id)

    async def counts(self, feed_id: int) -> FeedCounts:
        return await self._db_thread.run(count_events, self._db, feed_id, now=self._clock.now())

    def next_run(self, feed_id: int) -> datetime | None:
        return self.schedule.next_run(feed_id) if self.schedule is not None else None

    # --- add and remove ---------------------------------------------------------------------

    async def add(
        self,
        *,
        url: str,
        guild_id: int,
        channel_id: int,
        name: str | None,
        announce: bool,
        fetcher: FeedFetcher | None,
        parser: ParserPool | None,
        default_timezone: str,
        poll_now: PollNow,
    ) -> AddedFeed:
        """Test the link, store the feed, take its baseline now and put it on the schedule.

        Raises ``FeedAdminRefusal`` (name taken, bot still starting) or the probe's
        ``FeedError``; nothing is stored in either case.
        """
        if name is not None and await self.find(name, guild_id) is not None:
            raise FeedAdminRefusal(f"This server already has a feed called **{name}**.")
        if fetcher is None or parser is None:
            raise FeedAdminRefusal("The bot is still starting; try again in a minute.")
        probe = await probe_feed(
            fetcher, parser, url, now=self._clock.now(), default_timezone=default_timezone
        )
        feed_name = name or name_from_calendar(probe)
        settings = settings_to_dict(
            FeedSettings(
                name=feed_name,
                url=probe.url,
                channel_id=channel_id,
                guild_id=guild_id,
                baseline="announce" if announce else "silent",
            )
        )
        settings["source"] = "discord"
        row = await self._db_thread.run(
            feed_store.create_feed,
            self._db,
            name=feed_name,
            url=probe.url,
            guild_id=guild_id,
            channel_id=channel_id,
            settings=settings,
            now=self._clock.now(),
        )
        if row is None:
            raise FeedAdminRefusal(
                f"This server already has a feed called **{feed_name}**; choose another `name`."
            )
        await poll_now(row.id)  # baseline now: silent, or announce the window
        if self.schedule is not None:
            interval = settings_from_row(row).poll_interval
            self.schedule.schedule_feed(row.id, interval, first_run=self._clock.now() + interval)
        return AddedFeed(probe=probe, row=row)

    async def remove(self, row: FeedRow) -> None:
        """Forget a feed added from Discord (config feeds are the operator's to remove)."""
        if row.settings.get("source") == "config":
            raise FeedAdminRefusal(
                f"**{row.name}** comes from the bot's configuration file; ask the operator to "
                "remove it there (you can pause it with `/feeds settings paused:True`)."
            )
        if self.schedule is not None:
            self.schedule.unschedule_feed(row.id)
        await self._db_thread.run(feed_store.delete_feed, self._db, row.id)

    # --- settings ---------------------------------------------------------------------------

    async def change_settings(
        self,
        row: FeedRow,
        changes: Mapping[str, Any],
        *,
        channel_id: int | None = None,
        paused: bool | None = None,
        enabled: bool | None = None,
    ) -> FeedRow:
        """Store the new settings, move the schedule to match and tell the settings hooks.

        ``changes`` maps ``FeedSettings`` fields to already validated values.
        """
        current = settings_from_row(row)
        data = settings_to_dict(dataclasses.replace(current, **changes))
        data["source"] = row.settings.get("source", "discord")
        status = status_after_change(row, paused=paused, enabled=enabled)
        updated = await self._db_thread.run(
            feed_store.update_feed,
            self._db,
            row.id,
            now=self._clock.now(),
            channel_id=channel_id,
            settings=data,
            status=status,
        )
        assert updated is not None
        if self.schedule is not None:
            if updated.status == "paused":
                self.schedule.unschedule_feed(row.id)
            elif updated.status != "disabled":
                interval = settings_from_row(updated).poll_interval
                first = self._clock.now() + RESUME_DELAY if status == "active" else None
                self.schedule.schedule_feed(row.id, interval, first_run=first)
        given = frozenset(changes) | frozenset(
            name
            for name, value in (("channel", channel_id), ("paused", paused), ("enabled", enabled))
            if value is not None
        )
        for hook in list(self.settings_hooks):
            await hook(SettingsChanged(before=row, after=updated, given=given))
        return updated
