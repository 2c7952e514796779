"""A discussion thread per talk, started from its announcement, for feeds that turn it on.

The delivery worker calls :meth:`TalkThreads.announced` after a card is posted and
:meth:`TalkThreads.tell` after a reschedule or cancellation line is replied under it; a talk
announced before the setting was on gets its thread the first time such a line is due.

Never two threads for one talk, across crashes: the intent is committed before the request
(``creating``), a thread started from a message has the message's id, and Discord answers a
second start from the same message with "already created" (code 160004), which is taken as
success. Rows left ``creating`` are finished by :meth:`finish_unfinished` at start-up and on
every pass. The bot archives each thread itself a day after its talk (Discord's own timer
only counts inactivity) from ``archive_at`` in SQLite, so a restart forgets nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiohttp
import discord
from sqlite_utils import Database

from bot.clock import Clock
from bot.core.models import Action
from bot.core.talk_threads import AUTO_ARCHIVE_MINUTES, archive_time, thread_name
from bot.discord_ui import message_fit
from bot.discord_ui.pacer import Pacer, Priority
from bot.service import talk_threads as threads
from bot.service.dbthread import DatabaseThread
from bot.service.feed_admin import SettingsChanged
from bot.service.feeds import settings_from_row
from bot.service.records import FeedRow
from bot.service.talk_threads import ThreadRow, ThreadState
from bot.waiting import wait_for_event

log = logging.getLogger(__name__)

#: Discord's answer to a second thread start from the same message.
THREAD_ALREADY_CREATED = 160004
#: An unfinished thread request is retried this often before it is given up.
MAX_ATTEMPTS = 8
#: An archive Discord could not do now is tried again this much later.
ARCHIVE_RETRY = timedelta(minutes=10)

Notify = Callable[[int, str, str], Awaitable[None]]
P = ParamSpec("P")
R = TypeVar("R")


def missing_thread_permissions(channel: object) -> list[str]:
    """What the bot lacks in ``channel`` to start threads and post in them ([] if unknown)."""
    if not isinstance(channel, discord.abc.GuildChannel):
        return []
    me = channel.guild.me
    if me is None:
        return []
    perms = channel.permissions_for(me)
    needed = {
        "View Channel": perms.view_channel,
        "Read Message History": perms.read_message_history,
        "Create Public Threads": perms.create_public_threads,
        "Send Messages in Threads": perms.send_messages_in_threads,
    }
    return [name for name, ok in needed.items() if not ok]


class TalkThreads:
    def __init__(
        self,
        client: discord.Client,
        *,
        db: Database,
        db_thread: DatabaseThread,
        clock: Clock,
        notify: Notify,
        idle_seconds: float = 300.0,
        rest_pacer: Pacer | None = None,
    ) -> None:
        self._client = client
        #: The bot's one pacer under Discord's global budget.
        self._rest = rest_pacer or Pacer()
        self._database = db
        self._db_thread = db_thread
        self._clock = clock
        self._notify = notify
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()
        #: Feeds switched off during this run (a batch in flight still holds the old row).
        self._switched_off: set[int] = set()
        #: Set after each archive pass; tests wait on it instead of sleeping.
        self.passed = asyncio.Event()

    async def _db(
        self, fn: Callable[Concatenate[Database, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        return await self._db_thread.run(fn, self._database, *args, **kwargs)

    # --- called by delivery -----------------------------------------------------------------

    async def announced(
        self, feed: FeedRow, announcement_id: str, action: Action, message_id: int
    ) -> None:
        """The talk's card was just posted: start its thread (if the feed wants one)."""
        if announcement_id and self._wanted(feed):
            await self._ensure(feed, announcement_id, action, message_id)

    async def tell(
        self,
        feed: FeedRow,
        announcement_id: str,
        action: Action,
        message_id: int,
        line: str,
        *,
        nonce: str,
    ) -> None:
        """A reschedule or cancellation line was replied under the card: say it in the
        talk's thread too, starting the thread now for a talk announced before threads."""
        if not announcement_id or not self._wanted(feed):
            return
        row = await self._ensure(feed, announcement_id, action, message_id)
        if row is None or row.state not in (ThreadState.OPEN, ThreadState.ARCHIVED):
            return
        thread = self._client.get_partial_messageable(
            row.thread_id, guild_id=row.guild_id, type=discord.ChannelType.public_thread
        )
        try:
            # Discord reopens an archived thread when a message is posted in it.
            await self._rest.take(Priority.ANNOUNCEMENT)
            await thread.send(
                content=message_fit.fit_content(line),
                nonce=nonce,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.Forbidden:
            await self._switch_off(feed)
            return
        except discord.NotFound:
            await self._db(threads.gone, row, now=self._clock.now())
            return
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("could not post in thread %s: %s", row.thread_id, exc)
            return
        now = self._clock.now()
        await self._db(threads.moved, row, archive_time(action.occurrence), now=now)
        if row.state is ThreadState.ARCHIVED:
            await self._db(threads.opened, row, now=now)
        self.wake()

    def _wanted(self, feed: FeedRow) -> bool:
        return settings_from_row(feed).talk_threads and feed.id not in self._switched_off

    # --- starting a thread ------------------------------------------------------------------

    async def _ensure(
        self, feed: FeedRow, announcement_id: str, action: Action, message_id: int
    ) -> ThreadRow | None:
        """The talk's thread, started now if it has none; None when there is none to use."""
        assert feed.channel_id is not None
        row = await self._db(threads.thread_for, announcement_id, feed.channel_id)
        if row is not None and row.state is not ThreadState.CREATING:
            return row
        channel = self._client.get_channel(feed.channel_id)
        missing = missing_thread_permissions(channel)
        if missing:
            await self._switch_off(feed, missing)
            return None
        row = await self._db(
            threads.intend,
            announcement_id=announcement_id,
            channel_id=feed.channel_id,
            feed_id=feed.id,
            guild_id=feed.guild_id,
            message_id=message_id,
            name=thread_name(action.occurrence),
            archive_at=archive_time(action.occurrence),
            now=self._clock.now(),
        )
        if row.state is not ThreadState.CREATING:
            return row
        return await self._start(feed, row)

    async def _start(self, feed: FeedRow, row: ThreadRow) -> ThreadRow | None:
        """Ask Discord for the thread recorded in ``row``; the row as it stands afterwards."""
        channel = self._client.get_channel(row.channel_id)
        if not isinstance(channel, discord.TextChannel):
            return None  # not cached yet (or not a text channel): the next pass finishes it
        now = self._clock.now()
        await self._db(threads.attempted, row, now=now)
        try:
            await self._rest.take(Priority.ANNOUNCEMENT)
            await channel.get_partial_message(row.thread_id).create_thread(
                name=row.name,
                auto_archive_duration=AUTO_ARCHIVE_MINUTES,
                reason=f"seminar feed {feed.name}: discussion of the talk",
            )
        except discord.Forbidden:
            await self._db(threads.refused, row)
            await self._switch_off(feed)
            return None
        except discord.NotFound:
            await self._db(threads.gone, row, now=now)  # the card was deleted
            return None
        except discord.HTTPException as exc:
            if exc.code != THREAD_ALREADY_CREATED:
                await self._failed(row, exc)
                return None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("could not start thread for %s: %r", row.announcement_id, exc)
            return None
        await self._db(threads.opened, row, now=now)
        self.wake()
        return await self._db(threads.thread_for, row.announcement_id, row.channel_id)

    async def _failed(self, row: ThreadRow, exc: discord.HTTPException) -> None:
        """A refusal other than "already created": try later if it may pass, else give up."""
        if exc.status >= 500 or exc.status == 429:
            log.warning("Discord could not start thread %s now: %s", row.thread_id, exc)
            return
        log.error(
            "Discord refused thread %r for %s (%s %s): %s",
            row.name,
            row.announcement_id,
            exc.status,
            exc.code,
            exc.text[:200],
        )
        await self._db(threads.gone, row, now=self._clock.now())

    async def _switch_off(self, feed: FeedRow, missing: list[str] | None = None) -> None:
        what = ", ".join(missing or ["Create Public Threads", "Send Messages in Threads"])
        self._switched_off.add(feed.id)
        log.warning("threads for feed %s: missing %s; switched off", feed.name, what)
        await self._db(threads.switch_threads_off, feed.id, now=self._clock.now())
        await self._notify(
            feed.guild_id,
            threads.threads_notice_key(feed.id),
            f"I could not open a discussion thread for the talks of feed **{feed.name}** in "
            f"<#{feed.channel_id}>: I need {what} there. I switched threads off for this feed; "
            "announcements go on as before. Give my role those permissions, then turn threads "
            "back on with `/feeds settings talk_threads:True`.",
        )

    async def settings_changed(self, change: SettingsChanged) -> None:
        """Turned back on from ``/feeds settings``: a new refusal deserves a new notice."""
        if "talk_threads" in change.given and settings_from_row(change.after).talk_threads:
            self._switched_off.discard(change.after.id)
            await self._db(threads.allow_threads_notice_again, change.after.id)

    # --- the background pass: finish, archive -----------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        """Finish interrupted starts, then archive threads as they fall due."""
        await self._client.wait_until_ready()
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_pass()
            except Exception:  # a bad row must never stop the other threads
                log.exception("thread pass failed; retrying on the next wake-up")
            if self._stopping:
                break
            timeout = await self._sleep_seconds()
            await wait_for_event(self._wake, timeout)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        async with self._lock:
            pass

    async def _sleep_seconds(self) -> float:
        due: datetime | None = await self._db(threads.next_archive_at)
        if due is None:
            return self._idle_seconds
        wait = (due - self._clock.now()).total_seconds()
        return min(max(wait, 1.0), self._idle_seconds)

    async def run_pass(self) -> int:
        """One pass; returns how many threads were finished or archived."""
        async with self._lock:
            try:
                return await self.finish_unfinished() + await self.archive_due()
            finally:
                self.passed.set()

    async def finish_unfinished(self) -> int:
        """Threads requested but never recorded (a crash, a lost answer): ask again."""
        done = 0
        for row in await self._db(threads.unfinished):
            feed = await self._db(threads.feed, row.feed_id)
            if feed is None or not self._wanted(feed):
                continue
            if row.attempts >= MAX_ATTEMPTS:
                log.error("giving up on thread %r after %d attempts", row.name, row.attempts)
                await self._db(threads.gone, row, now=self._clock.now())
                continue
            if await self._start(feed, row) is not None:
                done += 1
        return done

    async def archive_due(self) -> int:
        """Archive every open thread whose talk ended more than a day ago."""
        done = 0
        for row in await self._db(threads.due_for_archive, now=self._clock.now()):
            if await self._archive(row):
                done += 1
        return done

    async def _archive(self, row: ThreadRow) -> bool:
        now = self._clock.now()
        try:
            thread = await self._thread(row)
            if thread is None:
                await self._db(threads.gone, row, now=now)
                return False
            if not thread.archived:
                await self._rest.take(Priority.UPKEEP)
                await thread.edit(archived=True, reason="the talk ended a day ago")
        except discord.NotFound:
            await self._db(threads.gone, row, now=now)
            return False
        except discord.Forbidden as exc:
            # Not ours to close any more (locked, rights changed): Discord's inactivity
            # timer closes it; asking again would only add refused requests.
            log.warning("may not archive thread %s (%s); leaving it to Discord", row.thread_id, exc)
            await self._db(threads.archived, row, now=now)
            return False
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("could not archive thread %s now: %s", row.thread_id, exc)
            await self._db(threads.moved, row, now + ARCHIVE_RETRY, now=now)
            return False
        await self._db(threads.archived, row, now=now)
        return True

    async def _thread(self, row: ThreadRow) -> discord.Thread | None:
        """The thread from the cache, else from Discord; None when the id is no thread."""
        guild = self._client.get_guild(row.guild_id)
        cached = guild.get_thread(row.thread_id) if guild is not None else None
        if cached is not None:
            return cached
        await self._rest.take(Priority.UPKEEP)
        fetched: Any = await self._client.fetch_channel(row.thread_id)
        return fetched if isinstance(fetched, discord.Thread) else None
