"""The Discord side of the scheduled-event mirror: read the guild's events, apply the plan.

Runs after every poll of a feed whose mirror is on (and the operator allowed it with
``[discord] scheduled_events``). Discord's list of events is read first each time, so an
event created just before a crash is found by its description marker and adopted. A 403
switches the feed's mirror off and tells the admins once.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands
from discord.utils import escape_mentions

from bot.core import event_mirror as plan
from bot.core.diff.model import LIVE_STATES
from bot.core.event_mirror import (
    EventPayload,
    MirrorOp,
    OpKind,
    RecordStatus,
    RemoteEvent,
    RemoteStatus,
)
from bot.discord_ui.embeds import inert
from bot.service.feeds import settings_from_row
from bot.service.poller import PollOutcome
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store import mirror as mirror_store

if TYPE_CHECKING:
    from bot.discord_ui.client import SeminarBot

log = logging.getLogger(__name__)

_TOKENS = re.compile(r"<(?=[#@/:]|t:|a?:\w+:)")
#: Events this far behind "now" are still read so a running talk keeps its record.
LOOKBACK = timedelta(days=1)

_STATUS = {
    discord.EventStatus.scheduled: RemoteStatus.SCHEDULED,
    discord.EventStatus.active: RemoteStatus.ACTIVE,
    discord.EventStatus.completed: RemoteStatus.COMPLETED,
    discord.EventStatus.cancelled: RemoteStatus.CANCELED,
}


def plain(text: str) -> str:
    """Feed text for plain-text fields (event name, place): no pings, no Discord tokens."""
    return _TOKENS.sub("<\u200b", escape_mentions(text)) if text else text


def notice_key(feed_id: int) -> str:
    return f"mirror-forbidden:{feed_id}"


def to_remote(event: discord.ScheduledEvent) -> RemoteEvent:
    return RemoteEvent(
        event_id=event.id,
        name=event.name,
        description=event.description or "",
        start=event.start_time.astimezone(UTC),
        end=event.end_time.astimezone(UTC) if event.end_time else None,
        location=event.location or "",
        status=_STATUS.get(event.status, RemoteStatus.COMPLETED),
    )


@dataclass
class MirrorReport:
    """What one sync did (tests and logs read it)."""

    created: int = 0
    edited: int = 0
    cancelled: int = 0
    deleted: int = 0
    disabled: bool = False
    ops: list[MirrorOp] = field(default_factory=list)


class Forbidden(Exception):
    """The bot may not manage the guild's events."""


class EventMirror(commands.Cog, name="EventMirror"):
    def __init__(self, bot: SeminarBot) -> None:
        self.bot = bot
        self._locks: dict[int, asyncio.Lock] = {}
        #: Set after every sync; tests wait on it instead of sleeping.
        self.synced = asyncio.Event()

    async def cog_load(self) -> None:
        self.bot.after_poll_hooks.append(self._after_poll)

    async def cog_unload(self) -> None:
        if self._after_poll in self.bot.after_poll_hooks:
            self.bot.after_poll_hooks.remove(self._after_poll)

    async def _after_poll(self, feed_id: int, outcome: PollOutcome) -> None:
        if outcome.status != "failed":
            await self.sync_feed(feed_id)

    # --- one feed ---------------------------------------------------------------------------

    async def sync_feed(self, feed_id: int) -> MirrorReport | None:
        """Bring the guild's Events tab in line with the feed; None when there is nothing to do."""
        if not self.bot.config.discord.scheduled_events:
            return None
        row: feed_store.FeedRow | None = await self.bot.run_db(feed_store.get_feed, feed_id)
        if row is None or not row.guild_id:
            return None
        settings = settings_from_row(row)
        records = await self.bot.run_db(mirror_store.mirror_records, feed_id)
        enabled = settings.scheduled_events and row.status != "disabled" and not settings.paused
        live_records = any(r.status is RecordStatus.ACTIVE for r in records.values())
        if not enabled and not (live_records and not settings.scheduled_events):
            return None  # a paused feed keeps its events; a switched-off one is cleaned up
        guild = self.bot.get_guild(row.guild_id)
        if guild is None:
            return None
        lock = self._locks.setdefault(guild.id, asyncio.Lock())
        async with lock:
            try:
                return await self._sync(row, guild, enabled=enabled)
            except Forbidden:
                await self._disable(row)
                return MirrorReport(disabled=True)
            finally:
                self.synced.set()

    async def _sync(
        self, row: feed_store.FeedRow, guild: discord.Guild, *, enabled: bool
    ) -> MirrorReport:
        me = guild.me
        if me is not None:
            perms = me.guild_permissions
            if not (perms.manage_events or perms.create_events):
                raise Forbidden
        try:
            events = await guild.fetch_scheduled_events(with_counts=False)
        except discord.Forbidden as exc:
            raise Forbidden from exc
        remote = [to_remote(e) for e in events]
        objects = {e.id: e for e in events}

        settings = settings_from_row(row)
        now = self.bot.clock.now()
        stored: list[event_store.FeedEvent] = await self.bot.run_db(
            event_store.events_starting_in,
            row.id,
            start_from=now - LOOKBACK,
            start_before=now + settings.announce_window + LOOKBACK,
        )
        live = [(e.announcement_id, e.occurrence) for e in stored if e.state in LIVE_STATES]
        live_ids = {aid for aid, occ in live if not occ.cancelled}
        cancelled = {
            e.announcement_id for e in stored if e.state == "cancelled" or e.occurrence.cancelled
        } - live_ids
        wanted = (
            plan.wanted_events(
                live,
                feed_id=row.id,
                now=now,
                window=settings.announce_window,
                fallback_zone=settings.timezone or self.bot.config.timezone,
                escape=inert,
                escape_plain=plain,
            )
            if enabled
            else []
        )
        records = await self.bot.run_db(mirror_store.mirror_records, row.id)
        ops = plan.plan_mirror(
            feed_id=row.id,
            wanted=wanted,
            cancelled=cancelled,
            records=records,
            remote=remote,
            now=now,
        )
        report = MirrorReport(ops=ops)
        for op in ops:
            if not await self._apply(row, guild, objects, op, report):
                break
        if ops:
            log.info(
                "event mirror for feed %s: %d created, %d edited, %d cancelled, %d deleted",
                row.name,
                report.created,
                report.edited,
                report.cancelled,
                report.deleted,
            )
        return report

    async def _apply(
        self,
        row: feed_store.FeedRow,
        guild: discord.Guild,
        objects: dict[int, discord.ScheduledEvent],
        op: MirrorOp,
        report: MirrorReport,
    ) -> bool:
        """One request; False stops this sync (the next poll tries again)."""
        try:
            if op.kind is OpKind.CREATE:
                assert op.payload is not None
                event = await guild.create_scheduled_event(
                    **_event_fields(op.payload), reason=f"seminar feed {row.name}"
                )
                await self._record(row, op.announcement_id, event.id, RecordStatus.ACTIVE)
                report.created += 1
            elif op.kind is OpKind.EDIT:
                assert op.payload is not None and op.event_id is not None
                await objects[op.event_id].edit(
                    **_event_fields(op.payload),
                    reason=f"seminar feed {row.name}: the talk changed",
                )
                await self._record(row, op.announcement_id, op.event_id, RecordStatus.ACTIVE)
                report.edited += 1
            elif op.kind is OpKind.CANCEL:
                assert op.event_id is not None
                await objects[op.event_id].edit(
                    status=discord.EventStatus.cancelled,
                    reason=f"seminar feed {row.name}: the talk was cancelled",
                )
                await self._record(row, op.announcement_id, op.event_id, RecordStatus.CANCELLED)
                report.cancelled += 1
            elif op.kind is OpKind.DELETE:
                assert op.event_id is not None
                await objects[op.event_id].delete()
                await self.bot.run_db(mirror_store.forget_mirror_event, op.event_id)
                report.deleted += 1
            else:
                assert op.event_id is not None
                await self._record(row, op.announcement_id, op.event_id, op.status)
        except discord.Forbidden as exc:
            raise Forbidden from exc
        except discord.NotFound:
            # Removed by someone in the meantime: never re-create it behind their back.
            if op.event_id is not None and op.announcement_id:
                await self._record(row, op.announcement_id, op.event_id, RecordStatus.GONE)
            return True
        except discord.HTTPException as exc:
            log.warning(
                "event mirror for feed %s: %s refused (%s %s): %s",
                row.name,
                op.kind.value,
                exc.status,
                exc.code,
                exc.text[:200],
            )
            return False
        return True

    async def _record(
        self, row: feed_store.FeedRow, aid: str, event_id: int, status: RecordStatus
    ) -> None:
        await self.bot.run_db(
            mirror_store.save_mirror_record,
            row.id,
            aid,
            guild_id=row.guild_id,
            event_id=event_id,
            status=status,
            now=self.bot.clock.now(),
        )

    async def _disable(self, row: feed_store.FeedRow) -> None:
        log.warning("event mirror for feed %s: no permission; switched off", row.name)
        await self.bot.run_db(
            feed_store.set_feed_setting,
            row.id,
            "scheduled_events",
            False,
            now=self.bot.clock.now(),
        )
        # Nothing to clean up later without the permission; a re-enable adopts what exists.
        await self.bot.run_db(mirror_store.abandon_mirror_records, row.id)
        await self.bot.notify_admins(
            row.guild_id,
            notice_key(row.id),
            f"I could not add the talks of feed **{row.name}** to this server's Events tab: "
            "I need the **Manage Events** permission. I switched the Events mirror off for this "
            "feed; give my role that permission, then turn it back on with "
            "`/feeds settings scheduled_events:True`.",
        )


async def setup(bot: Any) -> None:
    await bot.add_cog(EventMirror(bot))


def _event_fields(payload: EventPayload) -> dict[str, Any]:
    """What create and edit both send. entity_type and privacy_level are always explicit:
    discord.py omits them otherwise and Discord rejects the request."""
    return {
        "name": payload.name,
        "description": payload.description,
        "start_time": payload.start,
        "end_time": payload.end,
        "entity_type": discord.EntityType.external,
        "privacy_level": discord.PrivacyLevel.guild_only,
        "location": payload.location,
    }
