"""The reminder worker: sends due reminders from SQLite exactly once, paced.

SQLite is the truth (docs/reliability.md, rule 4). APScheduler only *wakes* the worker: an interval
tick with ``coalesce=True`` and ``misfire_grace_time=None``, so a blocked loop or a missed run
just means one later pass that finds every due row. Between ticks the worker also sleeps
exactly until the next due row. Each row is claimed (committed) before the request and
carries a deterministic nonce, so a crash mid-send is resent without doubling.

Membership: the bot has only the guilds intent, so it never hears that a member left. In the
hour before a DM is due it checks ``GET /guilds/{guild}/members/{user}`` at background
priority unless the member used the bot within ``membership_ttl`` (their own interactions
prove membership; answers are remembered for the same time). 404 / 10007 Unknown Member →
their subscriptions in that server stop, before any DM. A member who asks for a DM reminder is
present, so ``prepare_dm`` opens their DM channel and notes their membership right then: the
send at the due time is then the only request. Only when the bot was not running in that hour
does the send check membership itself. A DM refused with 50007 (DMs closed, or no server in
common any more) flags their DM subscriptions (no retries) and queues one hint.

Pacing: every request takes a turn from the bot's one ``Pacer`` (shared with announcements,
edits and the mirror), due reminders first. A large batch of DMs due together starts early,
``requests / (2 × rate)`` seconds before the due time (never more than 30 s), so the spread is
centred on it; channel reminders are never early.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiohttp
import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlite_utils import Database

from bot.clock import Clock
from bot.core.delivery_policy import Verdict, classify, retry_delay
from bot.core.reminders import DEFAULT_GRACE, MAX_EARLY, Decision, decide, early_start
from bot.discord_ui import message_fit
from bot.discord_ui.pacer import DEFAULT_RATE, Pacer, Priority
from bot.discord_ui.reminder_texts import render_reminder
from bot.service import reminder_queue as queue
from bot.service.dbthread import DatabaseThread
from bot.service.feeds import settings_from_row
from bot.service.records import FeedRow, ReminderRow
from bot.service.reminders import PlanStats, plan_all_feeds, plan_feed_reminders
from bot.service.subscriptions import remember_dm_channel, users_with_pending_hint
from bot.waiting import wait_for_event

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

UNKNOWN_MEMBER = 10007
#: Discord keeps nonces for a few minutes; an older interrupted send is treated as sent.
NONCE_WINDOW = timedelta(minutes=3)
MAX_ATTEMPTS = 6
#: Rows claimed per batch, and requests in flight at once (the pacer sets the rate).
BATCH = 100
CONCURRENCY = 8


class _DMClosed(Exception):
    pass


class _LeftGuild(Exception):
    pass


class ReminderWorker:
    def __init__(
        self,
        client: discord.Client,
        *,
        db: Database,
        db_thread: DatabaseThread,
        clock: Clock,
        default_timezone: str = "UTC",
        rate_per_second: float = DEFAULT_RATE,
        pacer: Pacer | None = None,
        grace: timedelta = DEFAULT_GRACE,
        tick_seconds: float = 30.0,
        replan_seconds: float = 3600.0,
        membership_ttl: timedelta = timedelta(hours=24),
        check_ahead: timedelta = timedelta(hours=1),
    ) -> None:
        self._client = client
        self._database = db
        self._db_thread = db_thread
        self._clock = clock
        self._zone = default_timezone
        self._grace = grace
        self._tick_seconds = tick_seconds
        self._replan_seconds = replan_seconds
        self._membership_ttl = membership_ttl
        self._check_ahead = check_ahead
        #: Shared with every other worker that talks to Discord (the bot passes its own).
        self.pacer = pacer or Pacer(rate_per_second)
        self._checking: asyncio.Task[int] | None = None
        self._check_lock = asyncio.Lock()
        self._rng = random.Random()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stopping = False
        self._members: dict[tuple[int, int], datetime] = {}
        self._scheduler: AsyncIOScheduler | None = None
        #: Users to tell (once, at their next command) that their DMs are closed.
        self.hint_users: set[int] = set()
        #: Set after each pass; tests wait on it instead of sleeping.
        self.passed = asyncio.Event()
        self.ticks = 0
        #: Called right after each reminder is sent (before it is recorded); the bench times it.
        self.on_sent: Callable[[ReminderRow], None] | None = None
        self._pass_cache: dict[tuple[int, str], tuple[Any, str]] = {}
        self._dm_channels: dict[int, int] = {}
        #: Set each time a member's DM channel was opened ahead; tests wait on it.
        self.dm_prepared = asyncio.Event()

    # --- lifecycle --------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def _tick(self) -> None:
        self.ticks += 1
        self.wake()

    async def start(self) -> None:
        """Load state and start the wake-up tick (needs the running loop)."""
        self.hint_users = await self._db(users_with_pending_hint)
        scheduler = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=self._tick_seconds),
            id="reminders:tick",
            replace_existing=True,
        )
        scheduler.add_job(
            self._replan_soon,
            IntervalTrigger(seconds=self._replan_seconds),
            id="reminders:replan",
            replace_existing=True,
        )
        scheduler.start()
        self._scheduler = scheduler

    async def _replan_soon(self) -> None:
        self._replan_due = True
        self.wake()

    _replan_due = True

    async def run_forever(self) -> None:
        await self._client.wait_until_ready()
        await self.recover_interrupted()
        while not self._stopping:
            self._wake.clear()
            try:
                if self._replan_due:
                    self._replan_due = False
                    await self.plan_all()
                await self.run_due()
                self._check_ahead_soon()
            except Exception:  # one bad row must never stop reminders for everyone
                log.exception("reminder pass failed; retrying on the next wake-up")
            if self._stopping:
                break
            timeout = await self._sleep_seconds()
            await wait_for_event(self._wake, timeout)

    async def _sleep_seconds(self) -> float:
        now = self._clock.now()
        next_due: datetime | None = await self._db(queue.next_due_at)
        cluster = await self._db(queue.next_dm_cluster, after=now, span=MAX_EARLY)
        if cluster is not None:
            start, count = cluster
            early = start - early_start(count, self.pacer.rate)
            next_due = early if next_due is None else min(next_due, early)
        if next_due is None:
            return self._tick_seconds
        seconds = (next_due - now).total_seconds()
        return min(self._tick_seconds, max(1.0, seconds))

    async def _dm_release(self, now: datetime) -> datetime:
        """DMs due up to this instant may go now: a large batch starts early, centred on its
        due time (channel reminders are never early)."""
        cluster = await self._db(queue.next_dm_cluster, after=now, span=MAX_EARLY)
        if cluster is None:
            return now
        start, count = cluster
        early = early_start(count, self.pacer.rate)
        return now + early if now >= start - early else now

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._checking is not None:
            self._checking.cancel()
            await asyncio.gather(self._checking, return_exceptions=True)
        async with self._lock:
            pass

    async def _db(
        self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await self._db_thread.run(fn, self._database, *args, **kwargs)

    # --- planning ---------------------------------------------------------------------------

    async def plan_feed(self, feed_id: int) -> PlanStats:
        stats: PlanStats = await self._db(
            plan_feed_reminders, feed_id, now=self._clock.now(), default_timezone=self._zone
        )
        if stats.changed:
            self.wake()
        return stats

    async def plan_all(self) -> list[PlanStats]:
        stats: list[PlanStats] = await self._db(
            plan_all_feeds, now=self._clock.now(), default_timezone=self._zone
        )
        if any(s.changed for s in stats):
            self.wake()
        return stats

    # --- sending ----------------------------------------------------------------------------

    async def run_due(self) -> int:
        """Send (or record as missed) every row due now; returns how many were handled."""
        async with self._lock:
            try:
                return await self._run_due_locked()
            finally:
                self.passed.set()

    async def _run_due_locked(self) -> int:  # noqa: C901 - claim, send and settle each due row; one branch per outcome
        handled = 0
        feeds: dict[int, FeedRow | None] = {}
        self._pass_cache = {}
        # About a second of sends per batch, so a channel reminder coming due in the middle
        # of a large batch of DMs waits at most that long.
        size = max(1, min(BATCH, int(self.pacer.rate)))
        for _ in range(10_000):  # bounded: at most 10,000 batches per pass
            now = self._clock.now()
            release = await self._dm_release(now)
            rows: list[ReminderRow] = await self._db(
                queue.due_reminders, now=now, limit=size, dm_until=release
            )
            if not rows or self._stopping:
                break
            batch: list[tuple[ReminderRow, FeedRow, bool]] = []
            users: set[int] = set()
            for row in rows:
                if row.feed_id not in feeds:
                    feeds[row.feed_id] = await self._db(queue.feed, row.feed_id)
                feed = feeds[row.feed_id]
                early = row.target_kind == "dm" and now < row.due_at <= release
                decision = self._decide(row, row.due_at if early else now)
                if decision is Decision.NOT_DUE:
                    continue
                handled += 1
                if decision is Decision.MISSED:
                    reason = f"due {row.due_at:%Y-%m-%d %H:%M} UTC; too late at {now:%H:%M} UTC"
                    log.warning("reminder %s missed (%s)", row.idem_key, reason)
                    await self._db(queue.mark_missed, row.id, reason, now=now)
                elif feed is None:
                    await self._db(queue.mark_cancelled, row.id, "feed gone", now=now)
                elif row.user_id is not None and row.user_id in users:
                    handled -= 1  # one request per user at a time: the next batch takes it
                else:
                    if row.user_id is not None:
                        users.add(row.user_id)
                    batch.append((row, feed, decision is Decision.LATE))
            if not batch:
                if handled == 0:
                    break
                continue
            claimed: list[ReminderRow] = await self._db(
                queue.claim_many, [r.id for r, _, _ in batch], now=self._clock.now()
            )
            by_id = {r.id: r for r in claimed}
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(
                row: ReminderRow, feed: FeedRow, late: bool, gate: asyncio.Semaphore = gate
            ) -> tuple[int, int, bool] | None:
                async with gate:
                    return await self._deliver(row, feed, late)

            results = await asyncio.gather(
                *(one(by_id[r.id], f, late) for r, f, late in batch if r.id in by_id)
            )
            done = [r for r in results if r is not None]
            if done:
                await self._db(queue.mark_sent_many, done, now=self._clock.now())
            if self._stopping:
                break
        return handled

    def _decide(self, row: ReminderRow, now: datetime) -> Decision:
        if row.kind == "reminder":
            return decide(row.due_at, row.anchor, now, grace=self._grace)
        # Change notices are due at once; pointless once the event is well under way.
        return Decision.MISSED if now > row.anchor + self._grace else Decision.ON_TIME

    async def _deliver(
        self, claimed: ReminderRow, feed: FeedRow, late: bool
    ) -> tuple[int, int, bool] | None:
        """One claimed row; returns (id, message id, late) when sent, else records why not."""
        now = self._clock.now()
        try:
            message_id = await self._send(claimed, feed, late=late)
        except _DMClosed:
            await self._dm_closed(claimed)
        except _LeftGuild:
            log.info("user %s left guild %s; their reminders stop", claimed.user_id, feed.guild_id)
            await self._db(
                queue.member_left,
                claimed.id,
                guild_id=feed.guild_id,
                user_id=claimed.user_id,
                now=now,
            )
        except discord.RateLimited as exc:
            await self._retry(claimed, f"rate limited {exc.retry_after:.0f} s", exc.retry_after)
        except discord.HTTPException as exc:
            await self._http_failure(claimed, exc)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self._retry(claimed, f"network error: {exc!r}", None)
        else:
            if message_id is not None:
                if self.on_sent is not None:
                    self.on_sent(claimed)
                return claimed.id, message_id, late
        return None

    async def _send(self, row: ReminderRow, feed: FeedRow, *, late: bool) -> int | None:
        cache_key = (row.feed_id, row.announcement_id)
        cached = self._pass_cache.get(cache_key)
        if cached is None:
            found = await self._db(queue.reminder_event, row.announcement_id, feed_id=row.feed_id)
            cached = (found, await self._jump_url(row, feed) if found else "")
            self._pass_cache[cache_key] = cached
        event, jump = cached
        if event is None:
            await self._db(
                queue.mark_cancelled, row.id, "event no longer known", now=self._clock.now()
            )
            return None
        content, embed = render_reminder(row, event.occurrence, late=late, jump_url=jump)
        allowed = discord.AllowedMentions.none()
        if row.target_kind == "dm":
            assert row.user_id is not None
            await self._check_member(feed.guild_id, row.user_id)
            channel = await self._dm_channel(row.user_id)
        else:
            channel = self._client.get_partial_messageable(row.target_id)
            if row.target_kind == "channel":
                role_id = settings_from_row(feed).mention_role_id
                if role_id is not None:
                    content = f"<@&{role_id}> {content}"
                    allowed = discord.AllowedMentions(
                        everyone=False, users=False, roles=[discord.Object(role_id)]
                    )
            elif row.user_id is not None:
                content = f"<@{row.user_id}> {content}"
                allowed = discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(row.user_id)]
                )
        await self.pacer.take(Priority.DUE_REMINDER)
        message = await channel.send(
            content=message_fit.fit_content(content, what="reminder"),
            embed=message_fit.fit_embed(embed, what="reminder"),
            nonce=row.nonce,
            allowed_mentions=allowed,
        )
        return message.id

    async def _jump_url(self, row: ReminderRow, feed: FeedRow) -> str:
        if feed.channel_id is None:
            return ""
        message_id = await self._db(
            queue.announcement_message, row.announcement_id, feed.channel_id
        )
        if message_id is None:
            return ""
        return f"https://discord.com/channels/{feed.guild_id}/{feed.channel_id}/{message_id}"

    async def _check_member(self, guild_id: int, user_id: int) -> None:
        """Ask Discord only when nothing recent proves membership.

        The check ahead of time (``check_memberships_ahead``) normally leaves a fresh answer
        here; only a bot that was not running in the hour before asks at the due time.
        """
        now = self._clock.now()
        known = self._members.get((guild_id, user_id))
        if known is None or now - known >= self._membership_ttl:
            # The member may have used the bot since: their interactions are stored.
            seen = await self._db(queue.member_seen_at, user_id)
            if seen is not None and (known is None or seen > known):
                known = seen
        if known is not None and now - known < self._membership_ttl:
            return
        await self._fetch_member(guild_id, user_id, Priority.DUE_REMINDER)

    async def _fetch_member(self, guild_id: int, user_id: int, priority: Priority) -> None:
        now = self._clock.now()
        await self.pacer.take(priority)
        try:
            await self._client.http.get_member(guild_id, user_id)
        except discord.NotFound as exc:
            if exc.code == UNKNOWN_MEMBER:
                raise _LeftGuild from exc
            raise
        self._note_member(guild_id, user_id, now)

    def _note_member(self, guild_id: int, user_id: int, at: datetime) -> None:
        """Remember the latest proof of membership (a slow older proof never replaces it)."""
        known = self._members.get((guild_id, user_id))
        if known is None or at > known:
            self._members[(guild_id, user_id)] = at

    def _check_ahead_soon(self) -> None:
        """Start the ahead-of-time membership check unless one is still running."""
        if self._stopping:
            return
        if self._checking is None or self._checking.done():
            self._checking = asyncio.create_task(
                self.check_memberships_ahead(), name="reminders:membership"
            )

    async def check_memberships_ahead(self) -> int:
        """Check, at background priority, that members with a DM due within the hour are
        still in the server, unless they used the bot recently.

        A member who left gets no DM (their subscriptions there stop), and the DM at the due
        time is the only request then. Returns how many members were asked about.
        """
        async with self._check_lock:  # one check at a time: a second finds the answers fresh
            try:
                return await self._check_memberships_ahead()
            except Exception:  # a background check must never stop the reminders
                log.exception("membership check ahead failed; the due-time send checks instead")
                return 0

    async def _check_memberships_ahead(self) -> int:
        now = self._clock.now()
        members = await self._db(
            queue.upcoming_dm_members, after=now, until=now + self._check_ahead
        )
        asked = 0
        for guild_id, user_id, seen in members:
            if self._stopping:
                break
            known = self._members.get((guild_id, user_id))
            latest = max((t for t in (known, seen) if t is not None), default=None)
            if latest is not None and now - latest < self._membership_ttl:
                continue
            asked += 1
            try:
                await self._fetch_member(guild_id, user_id, Priority.BACKGROUND)
            except _LeftGuild:
                log.info("user %s left guild %s; their reminders stop", user_id, guild_id)
                await self._db(
                    queue.left_guild, guild_id=guild_id, user_id=user_id, now=self._clock.now()
                )
            except (
                discord.HTTPException,
                discord.RateLimited,
                aiohttp.ClientError,
                OSError,
                TimeoutError,
            ) as exc:
                # Nothing learnt: the due-time send checks for itself.
                log.info("membership check of %s ahead failed: %r", user_id, exc)
        return asked

    async def _dm_channel(self, user_id: int) -> discord.PartialMessageable:
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            channel_id = await self._db(queue.dm_channel_id, user_id)
        if channel_id is None:
            await self.pacer.take(Priority.DUE_REMINDER)
            data = await self._client.http.start_private_message(user_id)
            channel_id = int(data["id"])
            await self._db(queue.set_dm_channel_id, user_id, channel_id)
        self._dm_channels[user_id] = channel_id
        return self._client.get_partial_messageable(channel_id, type=discord.ChannelType.private)

    async def prepare_dm(self, user: discord.User | discord.Member, guild_id: int) -> None:
        """Open the member's DM channel and note their membership while they interact.

        A member who asks for a DM reminder is present, so both facts are known now; learnt
        here, the reminder at its due time costs one request instead of three. A failure
        changes nothing: the due-time send opens the channel and checks membership itself.
        """
        now = self._clock.now()
        channel_id = self._dm_channels.get(user.id)
        try:
            if channel_id is None:
                channel_id = await self._db(queue.dm_channel_id, user.id)
            if channel_id is None:
                await self.pacer.take(Priority.ANNOUNCEMENT)
                channel_id = (await user.create_dm()).id
            await self._db(remember_dm_channel, user.id, channel_id, now=now)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("could not open the DM channel of %s ahead: %r", user.id, exc)
            return
        self._dm_channels[user.id] = channel_id
        self._note_member(guild_id, user.id, now)
        self.dm_prepared.set()

    # --- failures ---------------------------------------------------------------------------

    async def _dm_closed(self, row: ReminderRow) -> None:
        assert row.user_id is not None
        now = self._clock.now()
        cancelled = await self._db(queue.dm_closed, row.id, user_id=row.user_id, now=now)
        self.hint_users.add(row.user_id)
        log.info("user %s does not accept DMs; %d pending DMs cancelled", row.user_id, cancelled)

    async def _retry(self, row: ReminderRow, error: str, seconds: float | None) -> None:
        now = self._clock.now()
        if row.attempts >= MAX_ATTEMPTS:
            await self._db(queue.mark_failed, row.id, error, now=now)
            return
        if seconds is None:
            seconds = retry_delay(row.attempts, self._rng).total_seconds()
        delay = seconds
        at = now + timedelta(seconds=max(1.0, delay))
        await self._db(queue.retry_later, row.id, error, at, now=now)

    async def _http_failure(self, row: ReminderRow, exc: discord.HTTPException) -> None:
        verdict = classify(exc.status, exc.code, direct_message=row.target_kind == "dm")
        error = f"HTTP {exc.status} code {exc.code}: {exc.text[:200]}"
        if verdict is Verdict.DM_CLOSED and row.target_kind == "dm":
            await self._dm_closed(row)
        elif verdict is Verdict.RETRY:
            await self._retry(row, error, None)
        elif verdict is Verdict.RATE_LIMITED:
            await self._retry(row, error, 60.0)
        else:  # the channel is unusable or the payload refused: record it, never retry blindly
            log.warning("reminder %s failed for good: %s", row.idem_key, error)
            await self._db(queue.mark_failed, row.id, error, now=self._clock.now())

    # --- crash recovery ---------------------------------------------------------------------

    async def recover_interrupted(self) -> int:
        """Rows a previous run claimed but never recorded.

        Inside the nonce window they are resent with the same nonce (Discord returns the first
        message). Older ones may or may not have reached Discord: we record them as sent with
        a note rather than risk a duplicate (the documented residual risk).
        """
        recovery = await self._db(
            queue.recover_interrupted, now=self._clock.now(), nonce_window=NONCE_WINDOW
        )
        for row_id in recovery.given_up:
            log.warning("reminder %s was interrupted mid-send long ago; not resent", row_id)
        return recovery.total
