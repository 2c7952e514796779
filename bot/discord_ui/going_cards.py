"""The card editor: shows each announcement's "I'm going" count on its card, debounced.

A click only marks the card changed in SQLite (with the attendance, in one transaction). This
worker edits a changed card when ``core.attendance.next_edit_at`` allows it (one edit per card
per few seconds, the first a moment after a quiet card's first click) and within a per-channel
budget, reading the count from SQLite at that moment; so a rush of clicks costs a bounded
number of edits and the last one shows the exact count. The edit replaces only the card's
buttons (same view as at posting, with the count on "I'm going"), never its text.

The marks are in SQLite, so an edit lost to a crash or a Discord failure is made at the next
pass or at start-up, with the count recomputed then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeVar

import aiohttp
import discord
from sqlite_utils import Database

from bot.clock import Clock
from bot.core.attendance import ChannelPacer
from bot.core.delivery_policy import Verdict, classify
from bot.discord_ui import message_fit
from bot.discord_ui.pacer import Pacer, Priority
from bot.discord_ui.reminder_views import remind_view
from bot.service import attendance
from bot.service.attendance import CardEdit, DueCards
from bot.service.dbthread import DatabaseThread
from bot.waiting import wait_for_event

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: How long the worker sleeps when nothing is waiting (a wake-up comes with every click).
IDLE_SECONDS = 30.0
#: A card whose edit failed for a passing reason waits at least this long (real seconds).
SHORTEST_SLEEP = 0.05


class GoingCardEditor:
    def __init__(
        self,
        client: discord.Client,
        *,
        db: Database,
        db_thread: DatabaseThread,
        clock: Clock,
        pacer: ChannelPacer | None = None,
        rest_pacer: Pacer | None = None,
    ) -> None:
        self._client = client
        #: The bot's one pacer under Discord's global budget (``pacer`` is per channel).
        self._rest = rest_pacer or Pacer()
        self._database = db
        self._db_thread = db_thread
        self._clock = clock
        self._pacer = pacer or ChannelPacer()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stopping = False
        #: Card edits sent (tests and the bench read it).
        self.edits = 0
        #: Set after every pass; tests wait on it instead of sleeping.
        self.passed = asyncio.Event()

    async def _db(
        self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await self._db_thread.run(fn, self._database, *args, **kwargs)

    # --- lifecycle --------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        """A pass at start-up (repairs edits a previous run lost), then on every wake-up and
        whenever the next waiting card becomes due."""
        await self._client.wait_until_ready()
        while not self._stopping:
            self._wake.clear()
            next_at: datetime | None = None
            try:
                next_at = await self.flush()
            except Exception:  # one bad card must never stop the others
                log.exception("card edit pass failed; retrying on the next wake-up")
            if self._stopping:
                break
            timeout = IDLE_SECONDS
            if next_at is not None:
                seconds = (next_at - self._clock.now()).total_seconds()
                timeout = min(IDLE_SECONDS, max(SHORTEST_SLEEP, seconds))
            await wait_for_event(self._wake, timeout)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        async with self._lock:
            pass

    # --- one pass -----------------------------------------------------------------------------

    async def flush(self) -> datetime | None:
        """Edit every card that is due now; returns when the next waiting one will be."""
        async with self._lock:
            try:
                return await self._flush_locked()
            finally:
                self.passed.set()

    async def _flush_locked(self) -> datetime | None:
        now = self._clock.now()
        cards: DueCards = await self._db(attendance.due_cards, now=now)
        next_at = cards.next_at
        for card in cards.due:
            if self._stopping:
                break
            free = max(
                (self._pacer.free_at(channel_id, now) for channel_id, _ in card.messages),
                default=now,
            )
            if free > now:  # the channel's budget is spent: this card waits its turn
                next_at = free if next_at is None else min(next_at, free)
                continue
            await self._edit(card, now)
        return next_at

    async def _edit(self, card: CardEdit, now: datetime) -> None:
        view = message_fit.fit_view(
            remind_view(card.announcement_id, card.count), what="going count"
        )
        if view is None:  # never edit with no view: that would strip the card's buttons
            await self._db(attendance.card_shown, card.announcement_id, card.version, now=now)
            return
        for channel_id, message_id in card.messages:
            self._pacer.spend(channel_id, now)
            message = self._client.get_partial_messageable(channel_id).get_partial_message(
                message_id
            )
            try:
                await self._rest.take(Priority.UPKEEP)
                await message.edit(view=view, allowed_mentions=discord.AllowedMentions.none())
                self.edits += 1
            except discord.HTTPException as exc:
                if classify(exc.status, exc.code, editing=True) in (
                    Verdict.RETRY,
                    Verdict.RATE_LIMITED,
                ):
                    log.info("card %s: edit failed (%s); trying again", message_id, exc.status)
                    await self._db(attendance.card_attempted, card.announcement_id, now=now)
                    return
                # Gone or refused for good: the count is still stored and shown elsewhere.
                log.info("card %s cannot show its count: %s %s", message_id, exc.status, exc.code)
            except (discord.RateLimited, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("card %s: %r; trying again", message_id, exc)
                await self._db(attendance.card_attempted, card.announcement_id, now=now)
                return
        await self._db(attendance.card_shown, card.announcement_id, card.version, now=now)
