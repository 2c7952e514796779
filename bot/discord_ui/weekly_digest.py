"""The weekly digest in Discord: one "This week's seminars" message per feed and week.

Checked every minute and after every poll, with the bot's clock. The store decides: a row
is written before the message is sent (with a deterministic nonce), so a restart neither
misses nor repeats a digest; later changes to the week's talks edit the same message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import discord
from discord.ext import commands

from bot.core import weekly_digest as wd
from bot.core.models import Occurrence
from bot.discord_ui import message_fit
from bot.discord_ui.embeds import inert
from bot.discord_ui.lookup_embeds import when_compact
from bot.discord_ui.pacer import Priority
from bot.service import mirror
from bot.service.feeds import settings_from_row
from bot.service.poller import PollOutcome
from bot.service.records import FeedEvent

if TYPE_CHECKING:
    from bot.discord_ui.client import SeminarBot

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0
COLOUR = 0x2B6CB0
HISTORY_SCAN_LIMIT = 50
SHOWN_STATES = ("pending", "announced", "silent", "cancelled", "expired")


def week_talks(events: list[FeedEvent], week: wd.DigestWeek) -> list[Occurrence]:
    """The talks of the week, soonest first, one per announcement."""
    seen: set[str] = set()
    out: list[Occurrence] = []
    for event in events:
        occ = event.occurrence
        if event.state not in SHOWN_STATES or not week.contains(occ):
            continue
        if event.announcement_id in seen:
            continue
        seen.add(event.announcement_id)
        if event.state == "cancelled" and not occ.cancelled:
            occ = occ.with_changes(status="CANCELLED")
        out.append(occ)
    return out


def digest_embed(feed_name: str, week: wd.DigestWeek, talks: list[Occurrence]) -> discord.Embed:
    embed = discord.Embed(
        title=wd.TITLE,
        description=wd.description(talks, when=when_compact, escape=inert),
        colour=COLOUR,
    )
    embed.set_footer(text=wd.digest_footer(feed_name, week))
    return embed


class WeeklyDigest(commands.Cog, name="WeeklyDigest"):
    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot
        #: One check at a time per feed (a feed's digest is posted once), never one for all:
        #: every poll's after-hook checks its feed, and a global lock would queue a fleet's
        #: polls behind each other's database reads and Discord requests.
        self._locks: dict[int, asyncio.Lock] = {}
        #: Set after every check; tests wait on it instead of sleeping.
        self.checked = asyncio.Event()

    async def cog_load(self) -> None:
        self.bot.after_poll_hooks.append(self._after_poll)
        self.bot.spawn(self._run(), name="weekly-digest")

    async def cog_unload(self) -> None:
        if self._after_poll in self.bot.after_poll_hooks:
            self.bot.after_poll_hooks.remove(self._after_poll)

    async def _after_poll(self, feed_id: int, outcome: PollOutcome) -> None:
        await self.check_feed(feed_id)

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        while not self.bot.is_closed():
            try:
                await self.check_all()
            except Exception:
                log.exception("weekly digest check failed")
            await asyncio.sleep(TICK_SECONDS)

    async def check_all(self) -> list[str]:
        rows = await self.bot.run_db(mirror.all_feeds)
        done = []
        for row in rows:
            result = await self.check_feed(row.id)
            if result:
                done.append(result)
        return done

    # --- one feed ---------------------------------------------------------------------------

    async def check_feed(self, feed_id: int) -> str | None:
        """Post this week's digest when due, or edit it when the week changed.

        Returns "posted", "edited" or None (nothing to do).
        """
        async with self._locks.setdefault(feed_id, asyncio.Lock()):
            try:
                return await self._check(feed_id)
            except discord.HTTPException as exc:
                log.warning("weekly digest of feed %s failed: %s", feed_id, exc)
                return None
            finally:
                self.checked.set()

    async def _check(self, feed_id: int) -> str | None:
        row = await self.bot.run_db(mirror.feed, feed_id)
        if row is None or row.channel_id is None or row.status == "disabled":
            return None
        settings = settings_from_row(row)
        if not settings.digest or settings.paused:
            return None
        zone_name = settings.timezone or await self.bot.run_db(mirror.feed_zone, feed_id)
        try:
            zone = ZoneInfo(zone_name or self.bot.config.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        now = self.bot.clock.now()
        week = wd.current_week(wd.parse_spec(settings.digest), zone, now)
        if now >= week.end:
            return None
        existing = await self.bot.run_db(mirror.get_digest, feed_id, week.key)
        if existing is None and not wd.may_post(week, now):
            return None
        events = await self.bot.run_db(
            mirror.digest_events,
            feed_id,
            start_from=week.start - timedelta(days=1),
            start_before=week.end + timedelta(days=1),
        )
        embed = message_fit.fit_embed(
            digest_embed(row.name, week, week_talks(events, week)), what="weekly digest"
        )
        digest_hash = wd.content_hash(embed.description or "", embed.footer.text or "")
        channel = self.bot.get_partial_messageable(row.channel_id)
        if existing is not None and existing.state == "posted":
            if existing.content_hash == digest_hash or existing.message_id is None:
                return None
            try:
                await self.bot.rest_pacer.take(Priority.UPKEEP)
                await channel.get_partial_message(existing.message_id).edit(
                    embed=embed, allowed_mentions=discord.AllowedMentions.none()
                )
            except discord.NotFound:
                log.info("the digest of feed %s was deleted; not re-posting it", row.name)
            await self._posted(feed_id, week, existing.message_id, digest_hash)
            return "edited"
        if existing is not None:  # claimed but never recorded: a crash mid-post
            found = await self._find_posted(
                channel, wd.digest_footer(row.name, week), wd.digest_marker(feed_id, week)
            )
            if found is not None:
                await self._posted(feed_id, week, found, "")  # edited on the next check
                return "posted"
        claimed = existing
        if claimed is None:
            claimed = await self.bot.run_db(
                mirror.claim_digest,
                feed_id,
                week.key,
                channel_id=row.channel_id,
                nonce=wd.digest_nonce(feed_id, week),
                now=now,
            )
        await self.bot.rest_pacer.take(Priority.UPKEEP)
        message = await channel.send(
            embed=embed, nonce=claimed.nonce, allowed_mentions=discord.AllowedMentions.none()
        )
        await self._posted(feed_id, week, message.id, digest_hash)
        return "posted"

    async def _posted(
        self, feed_id: int, week: wd.DigestWeek, message_id: int, digest_hash: str
    ) -> None:
        await self.bot.run_db(
            mirror.digest_posted,
            feed_id,
            week.key,
            message_id=message_id,
            content_hash=digest_hash,
            now=self.bot.clock.now(),
        )

    async def _find_posted(
        self, channel: discord.PartialMessageable, footer: str, legacy_marker: str
    ) -> int | None:
        me = self.bot.user
        with contextlib.suppress(discord.HTTPException):
            await self.bot.rest_pacer.take(Priority.UPKEEP)
            async for message in channel.history(limit=HISTORY_SCAN_LIMIT):
                if me is not None and message.author.id != me.id:
                    continue
                for embed in message.embeds:
                    text = embed.footer.text or ""
                    if (embed.title == wd.TITLE and text == footer) or legacy_marker in text:
                        return message.id
        return None


async def setup(bot: Any) -> None:
    await bot.add_cog(WeeklyDigest(bot))
