"""The outbox worker: turns queued actions into Discord posts and edits, exactly once.

At-least-once delivery made effectively exactly-once (docs/reliability.md, rule 3): a row is claimed
(committed) before the request, every create carries a deterministic nonce derived from the
row, and the resulting message id is stored. A crash between the POST and the commit is
repaired at start-up by resending with the same nonce (Discord returns the first message) or,
once the nonce window has passed, by finding the post's marker (hidden in its embed link) in
the channel history.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiohttp
import discord
from sqlite_utils import Database

from bot.clock import Clock
from bot.core import discord_limits
from bot.core.delivery_policy import (
    InvalidRequestBreaker,
    Verdict,
    classify,
    refused_for_size,
    retry_delay,
)
from bot.core.models import Action, ActionKind
from bot.discord_ui import message_fit
from bot.discord_ui.embeds import (
    DIGEST_EMBEDS,
    announcement_embed,
    carries_marker,
    compact_embed,
    digest_heading,
    headline_text,
    reference_marker,
)
from bot.discord_ui.pacer import Pacer, Priority
from bot.discord_ui.talk_threads import TalkThreads
from bot.service import outbox
from bot.service.dbthread import DatabaseThread
from bot.service.feeds import card_style, settings_from_row
from bot.service.records import Announcement, AnnouncementState, FeedRow, OutboxRow
from bot.waiting import wait_for_event

log = logging.getLogger(__name__)

#: This many new announcements for one channel in one drain become digest messages.
DIGEST_THRESHOLD = 4
#: Discord keeps nonces for "a few minutes"; older interrupted sends are checked in history.
NONCE_WINDOW = timedelta(minutes=3)
HISTORY_SCAN_LIMIT = 50

#: Channels delivered to at once. Rows of one channel always go in order, one at a time; a
#: channel whose message bucket is spent (discord.py then waits out its reset) must not hold up
#: the others. The shared pacer keeps the total under Discord's global budget.
CHANNELS_AT_ONCE = 8

#: A lone card Discord refuses for its size is cut to half its size and resent, this often.
SHRINK_ATTEMPTS = 4
#: ... but never below this many characters (a title and a time); then it waits and retries.
SMALLEST_CARD = 200

Notify = Callable[[int, str, str], Awaitable[None]]
ViewFactory = Callable[[Action, str], discord.ui.View | None]
#: A digest's controls from its (action, announcement id) pairs and a tag unique per message.
DigestViewFactory = Callable[[Sequence[tuple[Action, str]], str], discord.ui.View | None]

Sent = TypeVar("Sent")
P = ParamSpec("P")
R = TypeVar("R")


async def send_shrinking(
    send: Callable[[discord.Embed], Awaitable[Sent]], embed: discord.Embed, *, what: str
) -> Sent:
    """Send one card, fitted to Discord's limits; if Discord still refuses it as too large
    (its count and ours disagree), halve it and send again, a bounded number of times."""
    embed = message_fit.fit_embed(embed, what=what)
    for _ in range(SHRINK_ATTEMPTS):
        try:
            return await send(embed)
        except discord.HTTPException as exc:
            if not refused_for_size(exc.status, exc.code, exc.text):
                raise
            budget = message_fit.size_of(embed) // 2
            log.warning(
                "Discord refused %s as too large (%s); resending it cut to %d",
                what,
                exc.text[:200],
                budget,
            )
            embed = message_fit.shrink_embed(embed, budget)
    return await send(embed)


class TargetUnavailable(Exception):
    """The channel cannot be posted in (checked locally, before spending a request)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeliveryWorker:
    def __init__(
        self,
        client: discord.Client,
        *,
        db: Database,
        db_thread: DatabaseThread,
        clock: Clock,
        notify: Notify,
        view_factory: ViewFactory | None = None,
        digest_view_factory: DigestViewFactory | None = None,
        rng: random.Random | None = None,
        idle_seconds: float = 30.0,
        threads: TalkThreads | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._client = client
        self._database = db
        self._db_thread = db_thread
        self._clock = clock
        self._notify = notify
        self._view_factory = view_factory
        self._digest_view_factory = digest_view_factory
        self._rng = rng or random.Random()
        self._idle_seconds = idle_seconds
        #: The thread per talk, for feeds that turn it on.
        self._threads = threads
        self._pacer = pacer or Pacer()
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()
        self._channels_at_once = asyncio.Semaphore(CHANNELS_AT_ONCE)
        #: Channels a delivery task is working on, and those tasks: a pass leaves a busy
        #: channel to its task and goes on with the others.
        self._busy: dict[int, asyncio.Task[int]] = {}
        self.breaker = InvalidRequestBreaker()
        #: Set after each drain; tests and shutdown wait on it instead of sleeping.
        self.drained = asyncio.Event()
        #: Set once interrupted deliveries of a previous run have been repaired.
        self.recovered = asyncio.Event()

    # --- lifecycle --------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        """Drain whenever woken (after a poll) and at least every ``idle_seconds``."""
        await self._client.wait_until_ready()
        try:
            await self.recover_interrupted()
        finally:
            self.recovered.set()
        while not self._stopping:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # one bad row must never stop delivery for everyone
                log.exception("delivery pass failed; retrying on the next wake-up")
            if self._stopping:
                break
            await wait_for_event(self._wake, self._idle_seconds)

    async def stop(self) -> None:
        """Let the in-flight deliveries finish, then stop."""
        self._stopping = True
        self._wake.set()
        async with self._lock:
            pass
        if self._busy:
            await asyncio.wait(list(self._busy.values()))

    async def _db(
        self, fn: Callable[Concatenate[Database, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        return await self._db_thread.run(fn, self._database, *args, **kwargs)

    # --- draining ---------------------------------------------------------------------------

    async def drain(self) -> int:
        """Deliver every due row of the channels no other pass is working on; returns how many
        rows reached a final state."""
        try:
            return await self._drain()
        finally:
            self.drained.set()

    async def _drain(self) -> int:
        done = 0
        for _ in range(100):  # bounded: at most 100 batches per pass
            async with self._lock:  # one pass at a time picks rows and hands out channels
                tasks, others = await self._dispatch_due()
            if not tasks and not others:
                return done
            # Also wait for the channels another pass is delivering to, so a drain still
            # returns with every due row handled. Not gather: a cancelled pass leaves the
            # sends running.
            await asyncio.wait([*tasks, *others])
            progressed = 0
            for task in tasks:
                if task.cancelled():
                    continue
                failure = task.exception()
                if failure is not None:
                    # One channel's failure must not stop the others; its rows stay due.
                    log.error("delivery to one channel failed", exc_info=failure)
                    continue
                progressed += task.result()
            done += progressed
            if self._stopping or (progressed == 0 and not others):
                return done
        return done

    async def _dispatch_due(self) -> tuple[list[asyncio.Task[int]], list[asyncio.Task[int]]]:
        """A task per channel with due rows that no task is working on yet; and the tasks
        already working (their rows may be claimed, so no longer due)."""
        others = list(self._busy.values())
        now = self._clock.now()
        if self.breaker.is_open(now):
            log.warning("too many refused Discord requests recently; delivery paused")
            return [], others
        rows: list[OutboxRow] = await self._db(outbox.due_rows, now=now, limit=100)
        if not rows or self._stopping:
            return [], others
        by_channel: dict[int, list[tuple[FeedRow, list[OutboxRow]]]] = {}
        for feed_id, group in _by_feed(rows):
            feed: FeedRow | None = await self._db(outbox.feed, feed_id)
            if feed is None or feed.channel_id is None or feed.channel_id in self._busy:
                continue
            by_channel.setdefault(feed.channel_id, []).append((feed, group))
        tasks = [self._start_channel(cid, work) for cid, work in by_channel.items()]
        return tasks, others

    def _start_channel(
        self, channel_id: int, work: list[tuple[FeedRow, list[OutboxRow]]]
    ) -> asyncio.Task[int]:
        task = asyncio.create_task(self._deliver_channel(work), name=f"deliver-{channel_id}")
        self._busy[channel_id] = task

        def finished(_: asyncio.Task[int]) -> None:
            if self._busy.get(channel_id) is task:
                del self._busy[channel_id]
            self._wake.set()  # rows that came due for this channel meanwhile

        task.add_done_callback(finished)
        return task

    async def _deliver_channel(self, work: list[tuple[FeedRow, list[OutboxRow]]]) -> int:
        """One channel's rows, in order (several channels run at once)."""
        async with self._channels_at_once:
            done = 0
            for feed, group in work:
                if self._stopping:
                    break
                done += await self._deliver_feed_rows(feed, group)
            return done

    async def _deliver_feed_rows(self, feed: FeedRow, rows: Sequence[OutboxRow]) -> int:
        announces = [r for r in rows if r.kind == ActionKind.ANNOUNCE.value]
        done = 0
        if len(announces) >= DIGEST_THRESHOLD:
            for start in range(0, len(announces), DIGEST_EMBEDS):
                ok = await self._deliver_digest(feed, announces[start : start + DIGEST_EMBEDS])
                if not ok:
                    return done
                done += len(announces[start : start + DIGEST_EMBEDS])
            rows = [r for r in rows if r.kind != ActionKind.ANNOUNCE.value]
        for row in rows:
            if not await self._deliver_one(feed, row):
                return done  # the target broke or is rate limited: stop for this feed
            done += 1
        return done

    # --- single rows ------------------------------------------------------------------------

    async def _deliver_one(self, feed: FeedRow, row: OutboxRow) -> bool:
        claimed: OutboxRow | None = await self._db(outbox.claim, row.id, now=self._clock.now())
        if claimed is None:
            return True
        assert feed.channel_id is not None
        try:
            channel = self._channel(feed.channel_id)
            message_id: int | None
            if claimed.kind == ActionKind.ANNOUNCE.value:
                message_id = await self._post(channel, feed, claimed)
            else:
                message_id = await self._edit_or_post(channel, feed, claimed)
        except TargetUnavailable as exc:
            await self._target_broken(feed, claimed, exc.reason)
            return False
        except discord.RateLimited as exc:
            await self._retry_at(
                claimed, f"rate limited for {exc.retry_after:.0f} s", exc.retry_after
            )
            return False
        except discord.HTTPException as exc:
            return await self._http_failure(feed, claimed, exc)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            delay = retry_delay(claimed.attempts, self._rng).total_seconds()
            await self._retry_at(claimed, f"network error: {exc!r}", delay)
            return False
        await self._db(outbox.mark_sent, claimed.id, message_id, now=self._clock.now())
        return True

    def _channel(self, channel_id: int) -> discord.abc.Messageable:
        channel = self._client.get_channel(channel_id)
        if isinstance(channel, discord.abc.GuildChannel) and isinstance(
            channel, discord.abc.Messageable
        ):
            me = channel.guild.me
            if me is not None:
                perms = channel.permissions_for(me)
                if not (perms.view_channel and perms.send_messages):
                    raise TargetUnavailable("missing_permissions")
                if not perms.embed_links:
                    raise TargetUnavailable("missing_embed_links")
            return channel
        return self._client.get_partial_messageable(channel_id)

    def _mentions(self, feed: FeedRow) -> tuple[str | None, discord.AllowedMentions]:
        role_id = settings_from_row(feed).mention_role_id
        if role_id is None:
            return None, discord.AllowedMentions.none()
        allowed = discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(role_id)], replied_user=False
        )
        return f"<@&{role_id}>", allowed

    async def _post(self, channel: discord.abc.Messageable, feed: FeedRow, row: OutboxRow) -> int:
        action = row.action
        templates, zone = card_style(settings_from_row(feed))
        content, allowed = self._mentions(feed)
        view = self._view_factory(action, row.announcement_id or "") if self._view_factory else None
        kwargs: dict[str, Any] = {"view": view} if view is not None else {}
        if view is not None and message_fit.fit_view(view, what="announcement") is None:
            kwargs = {}

        async def send(embed: discord.Embed) -> discord.Message:
            await self._pacer.take(Priority.ANNOUNCEMENT)
            return await channel.send(
                content=message_fit.fit_content(content),
                embed=embed,
                nonce=row.nonce or f"ob{row.id}",
                allowed_mentions=allowed,
                **kwargs,
            )

        message = await send_shrinking(
            send,
            announcement_embed(
                action, marker=reference_marker(row.idem_key), templates=templates, zone=zone
            ),
            what=f"announcement {row.id}",
        )
        await self._remember(row, channel, message.id, AnnouncementState.POSTED)
        if self._threads is not None and row.announcement_id:
            await self._threads.announced(feed, row.announcement_id, action, message.id)
        return message.id

    async def _remember(
        self,
        row: OutboxRow,
        channel: discord.abc.Messageable,
        message_id: int,
        state: AnnouncementState,
    ) -> None:
        channel_id = getattr(channel, "id", None)
        if row.announcement_id and channel_id is not None:
            await self._db(
                outbox.remember_message,
                row.announcement_id,
                int(channel_id),
                message_id,
                state=state,
                now=self._clock.now(),
            )

    async def _edit_or_post(
        self, channel: discord.abc.Messageable, feed: FeedRow, row: OutboxRow
    ) -> int | None:
        action = row.action
        templates, zone = card_style(settings_from_row(feed))
        channel_id = int(getattr(channel, "id", feed.channel_id or 0))
        known: Announcement | None = None
        if row.announcement_id:
            known = await self._db(outbox.announcement, row.announcement_id, channel_id)
        line = headline_text(action)
        if known is not None and known.state == AnnouncementState.DELETED:
            log.info("announcement %s was deleted in Discord; not editing it", row.announcement_id)
            return None
        if known is None or known.message_id is None or known.state == AnnouncementState.DIGEST:
            # Never posted on its own (digest entry, or the channel was broken back then):
            # post the full card now, but only when attendees would care.
            if known is not None and known.state == AnnouncementState.DIGEST and not line:
                return known.message_id
            return await self._post(channel, feed, row)
        message = channel.get_partial_message(known.message_id)  # type: ignore[attr-defined]

        async def edit(embed: discord.Embed) -> None:
            await self._pacer.take(Priority.UPKEEP)
            await message.edit(embed=embed, allowed_mentions=discord.AllowedMentions.none())

        try:
            await send_shrinking(
                edit,
                announcement_embed(
                    action, marker=reference_marker(row.idem_key), templates=templates, zone=zone
                ),
                what=f"edit of announcement {row.id}",
            )
        except discord.NotFound as exc:
            if classify(exc.status, exc.code, editing=True) is Verdict.MESSAGE_GONE:
                await self._remember(row, channel, known.message_id, AnnouncementState.DELETED)
                log.info("announcement message %s was deleted; recorded, not retried", message.id)
                return None
            raise
        if line:
            content, allowed = self._mentions(feed)
            await self._pacer.take(Priority.ANNOUNCEMENT)
            await channel.send(
                content=message_fit.fit_content(f"{content} {line}" if content else line),
                nonce=f"{row.nonce or 'ob' + str(row.id)}f",
                allowed_mentions=allowed,
                reference=discord.MessageReference(
                    message_id=known.message_id, channel_id=channel_id, fail_if_not_exists=False
                ),
                mention_author=False,
            )
            if self._threads is not None and row.announcement_id:
                await self._threads.tell(
                    feed,
                    row.announcement_id,
                    action,
                    known.message_id,
                    line,
                    nonce=f"{row.nonce or 'ob' + str(row.id)}t",
                )
        return known.message_id

    # --- digests ----------------------------------------------------------------------------

    async def _deliver_digest(  # noqa: C901 - the split-and-retry loop: one branch per refusal, the retry bound in view
        self, feed: FeedRow, rows: Sequence[OutboxRow]
    ) -> bool:
        """Post new announcements as few messages as Discord accepts.

        The cards are measured and packed (never more than Discord's embed total per message);
        a message Discord still refuses as too large is split in two and each half sent again,
        and a lone card is halved, so a size refusal never costs an announcement.
        """
        now = self._clock.now()
        claimed: list[OutboxRow] = []
        for row in rows:
            got = await self._db(outbox.claim, row.id, now=now)
            if got is not None:
                claimed.append(got)
        if not claimed:
            return True
        assert feed.channel_id is not None
        mention, allowed = self._mentions(feed)
        heading = digest_heading(len(claimed))
        templates, zone = card_style(settings_from_row(feed))
        cards = {
            r.id: compact_embed(
                r.action, marker=reference_marker(r.idem_key), templates=templates, zone=zone
            )
            for r in claimed
        }
        cards = {
            row_id: message_fit.fit_embed(card, what=f"digest card {row_id}")
            for row_id, card in cards.items()
        }
        embeds = [cards[r.id] for r in claimed]
        queue: deque[tuple[list[OutboxRow], int]] = deque(
            ([claimed[i] for i in group], discord_limits.EMBED_TOTAL_LIMIT)
            for group in message_fit.pack(embeds)
        )
        content: str | None = message_fit.fit_content(
            f"{mention} {heading}" if mention else heading
        )
        try:
            channel = self._channel(feed.channel_id)
        except TargetUnavailable as exc:
            for row in claimed:
                await self._target_broken(feed, row, exc.reason, notify=row is claimed[0])
            return False
        # Bounded: fewer than 2n splits, and a few halvings per card.
        for _ in range((2 + SHRINK_ATTEMPTS) * len(claimed)):
            if not queue:
                return True
            group, budget = queue.popleft()
            group_embeds = [cards[r.id] for r in group]
            if len(group) == 1 and message_fit.size_of(group_embeds[0]) > budget:
                group_embeds = [message_fit.shrink_embed(group_embeds[0], budget)]
            try:
                message = await self._send_digest_message(
                    channel, group, group_embeds, content=content, allowed=allowed
                )
            except discord.HTTPException as exc:
                too_large = refused_for_size(exc.status, exc.code, exc.text)
                if too_large or (exc.status == 400 and len(group) > 1):
                    # Too large: smaller messages fit. Any other refused payload: halving
                    # narrows it down to the one bad card, and the others still go out.
                    log.warning(
                        "Discord refused a digest of %d cards (%s); splitting it",
                        len(group),
                        exc.text[:200],
                    )
                    smaller = min(budget, message_fit.size_of(group_embeds[0])) // 2
                    if len(group) > 1:
                        half = len(group) // 2
                        queue.appendleft((group[half:], budget))
                        queue.appendleft((group[:half], budget))
                        continue
                    if too_large and smaller >= SMALLEST_CARD:
                        queue.appendleft((group, smaller))
                        continue
                if await self._digest_failed(feed, group, exc):
                    continue  # that card's payload is bad (dead, alerted); the rest still go
                await self._digest_failed(feed, _rows_of(queue), exc, notify=False)
                return False
            except (discord.RateLimited, aiohttp.ClientError, OSError, TimeoutError) as exc:
                await self._digest_failed(feed, [*group, *_rows_of(queue)], exc)
                return False
            # The heading (and any role mention) goes with the first message only.
            content = None
            for row in group:
                await self._remember(row, channel, message.id, AnnouncementState.DIGEST)
                await self._db(outbox.mark_sent, row.id, message.id, now=self._clock.now())
        rest = _rows_of(queue)
        for row in rest:  # the bound was reached: leave them for the next pass, never dead
            await self._retry_at(row, "digest split too often; trying again", 60.0)
        return not rest

    async def _send_digest_message(
        self,
        channel: discord.abc.Messageable,
        rows: Sequence[OutboxRow],
        embeds: Sequence[discord.Embed],
        *,
        content: str | None,
        allowed: discord.AllowedMentions,
    ) -> discord.Message:
        """One message of a digest: the cards of ``rows``, already measured to fit, and the
        reminder menu for exactly these cards (each message of a split digest has its own)."""
        tag = f"dg{rows[0].id}"
        view = (
            self._digest_view_factory([(r.action, r.announcement_id or "") for r in rows], tag)
            if self._digest_view_factory
            else None
        )
        view = message_fit.fit_view(view, what=f"digest menu {tag}")
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        await self._pacer.take(Priority.ANNOUNCEMENT)
        return await channel.send(
            content=content,
            embeds=list(embeds),
            nonce=tag,
            allowed_mentions=allowed if content else discord.AllowedMentions.none(),
            **extra,
        )

    async def _digest_failed(
        self, feed: FeedRow, rows: Sequence[OutboxRow], exc: Exception, *, notify: bool = True
    ) -> bool:
        """The digest rows not yet posted, after a refusal that splitting does not cure.

        True when delivery may go on (the rows were a bad payload, now dead)."""
        if isinstance(exc, discord.RateLimited):
            for row in rows:
                await self._retry_at(row, "rate limited", exc.retry_after)
            return False
        if isinstance(exc, discord.HTTPException):
            ok = True
            for row in rows:
                first = notify and row is rows[0]
                ok = await self._http_failure(feed, row, exc, notify=first) and ok
            return ok
        for row in rows:
            await self._retry_at(row, f"network error: {exc!r}", 10.0)
        return False

    # --- failures ---------------------------------------------------------------------------

    async def _retry_at(self, row: OutboxRow, error: str, seconds: float) -> None:
        now = self._clock.now()
        await self._db(
            outbox.retry_at, row.id, error, now + timedelta(seconds=max(seconds, 1.0)), now=now
        )

    async def _http_failure(
        self, feed: FeedRow, row: OutboxRow, exc: discord.HTTPException, *, notify: bool = True
    ) -> bool:
        now = self._clock.now()
        self.breaker.record(exc.status, now)
        verdict = classify(
            exc.status, exc.code, editing=row.kind != ActionKind.ANNOUNCE.value, text=exc.text
        )
        if verdict is Verdict.DISABLE_TARGET:
            reason = "channel_missing" if exc.status == 404 else "missing_permissions"
            await self._target_broken(feed, row, reason, notify=notify)
            return False
        if verdict is Verdict.RATE_LIMITED:
            await self._retry_at(row, f"HTTP {exc.status}: {exc.text[:200]}", 60.0)
            return False
        if verdict is Verdict.TOO_LARGE:
            # Shrinking did not satisfy Discord: keep the announcement and try again later.
            log.error("Discord still refuses row %s as too large: %s", row.id, exc.text[:300])
        if verdict in (Verdict.RETRY, Verdict.TOO_LARGE):
            delay = retry_delay(row.attempts, self._rng).total_seconds()
            await self._retry_at(row, f"HTTP {exc.status}: {exc.text[:200]}", delay)
            return False
        log.error(
            "Discord refused outbox row %s (%s %s): %s; marked dead",
            row.id,
            exc.status,
            exc.code,
            exc.text[:300],
        )
        await self._db(
            outbox.give_up, row.id, f"HTTP {exc.status} code {exc.code}: {exc.text[:300]}", now=now
        )
        return True

    async def _target_broken(
        self, feed: FeedRow, row: OutboxRow, reason: str, *, notify: bool = True
    ) -> None:
        """Stop posting to a channel we cannot use; keep its rows for when it is fixed."""
        now = self._clock.now()
        feed_ids = await self._db(
            outbox.stop_broken_target, row.id, feed.channel_id, reason=reason, now=now
        )
        if feed.channel_id is None:
            return
        if notify:
            explanation = {
                "missing_permissions": "I am not allowed to post there (I need View Channel, "
                "Send Messages, Embed Links and Read Message History)",
                "missing_embed_links": "I need the Embed Links permission there",
                "channel_missing": "the channel no longer exists",
            }.get(reason, reason)
            text = (
                f"I stopped announcing feed **{feed.name}** in <#{feed.channel_id}>: "
                f"{explanation}. Nothing is lost: the announcements are kept and will be posted "
                "once the channel works again (fix it, then use `/feeds settings` to resume)."
            )
            log.warning(
                "disabled feeds %s: channel %s unusable (%s)", feed_ids, feed.channel_id, reason
            )
            await self._notify(feed.guild_id, f"target:{feed.channel_id}:{reason}", text)

    # --- crash recovery ---------------------------------------------------------------------

    async def recover_interrupted(self) -> int:
        """Repair rows a previous run claimed but never recorded; returns how many."""
        rows: list[OutboxRow] = await self._db(outbox.interrupted_rows)
        now = self._clock.now()
        for row in rows:
            if row.kind == ActionKind.ANNOUNCE.value and now - row.updated_at > NONCE_WINDOW:
                found = await self._find_posted(row)
                if found is not None:
                    feed = await self._db(outbox.feed, row.feed_id) if row.feed_id else None
                    if feed is not None and feed.channel_id is not None:
                        await self._remember(
                            row,
                            self._client.get_partial_messageable(feed.channel_id),
                            found,
                            AnnouncementState.POSTED,
                        )
                        if self._threads is not None and row.announcement_id:
                            await self._threads.announced(
                                feed, row.announcement_id, row.action, found
                            )
                    await self._db(outbox.mark_sent, row.id, found, now=now)
                    continue
            await self._db(outbox.release, row.id, now=now)
        if rows:
            log.info("recovered %d interrupted deliveries", len(rows))
        return len(rows)

    async def _find_posted(self, row: OutboxRow) -> int | None:
        feed: FeedRow | None = await self._db(outbox.feed, row.feed_id) if row.feed_id else None
        if feed is None or feed.channel_id is None:
            return None
        channel = self._client.get_partial_messageable(feed.channel_id)
        me = self._client.user
        try:
            await self._pacer.take(Priority.UPKEEP)
            async for message in channel.history(limit=HISTORY_SCAN_LIMIT):
                if me is not None and message.author.id != me.id:
                    continue
                if any(carries_marker(embed, row.idem_key) for embed in message.embeds):
                    return message.id
        except discord.HTTPException as exc:
            log.warning("could not scan channel history for an interrupted post: %s", exc)
        return None


def _rows_of(queue: deque[tuple[list[OutboxRow], int]]) -> list[OutboxRow]:
    return [row for group, _ in queue for row in group]


def _by_feed(rows: Sequence[OutboxRow]) -> list[tuple[int, list[OutboxRow]]]:
    groups: dict[int, list[OutboxRow]] = {}
    for row in rows:
        if row.feed_id is not None:
            groups.setdefault(row.feed_id, []).append(row)
    return list(groups.items())
