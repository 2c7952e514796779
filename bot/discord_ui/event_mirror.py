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
from bot.core.event_mirror import (
    EventPayload,
    MirrorOp,
    OpKind,
    RecordStatus,
    RemoteEvent,
    RemoteStatus,
)
from bot.discord_ui.embeds import inert
from bot.discord_ui.pacer import Priority
from bot.service import mirror
from bot.service.feed_admin import SettingsChanged
from bot.service.feeds import settings_from_row
from bot.service.poller import PollOutcome
from bot.service.records import FeedRow

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
        if self.bot.feed_admin is not None:
            self.bot.feed_admin.settings_hooks.append(self._settings_changed)

    async def cog_unload(self) -> None:
        if self._after_poll in self.bot.after_poll_hooks:
            self.bot.after_poll_hooks.remove(self._after_poll)
        admin = self.bot.feed_admin
        if admin is not None and self._settings_changed in admin.settings_hooks:
            admin.settings_hooks.remove(self._settings_changed)

    async def _after_poll(self, feed_id: int, outcome: PollOutcome) -> None:
        if outcome.status != "failed":
            await self.sync_feed(feed_id)

    async def _settings_changed(self, change: SettingsChanged) -> None:
        """Turned on from ``/feeds settings``: allow a new refusal notice and sync right away."""
        if "scheduled_events" not in change.given:
            return
        if not settings_from_row(change.after).scheduled_events:
            return
        feed_id = change.after.id
        await self.bot.run_db(mirror.allow_mirror_notice_again, feed_id)
        self.bot.spawn(self.sync_feed(feed_id), name=f"event-mirror-{feed_id}")

    # --- one feed ---------------------------------------------------------------------------

    async def sync_feed(self, feed_id: int) -> MirrorReport | None:
        """Bring the guild's Events tab in line with the feed; None when there is nothing to do."""
        if not self.bot.config.discord.scheduled_events:
            return None
        row = await self.bot.run_db(mirror.feed, feed_id)
        if row is None or not row.guild_id:
            return None
        settings = settings_from_row(row)
        records = await self.bot.run_db(mirror.mirror_records, feed_id)
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

    async def _sync(self, row: FeedRow, guild: discord.Guild, *, enabled: bool) -> MirrorReport:
        me = guild.me
        if me is not None:
            perms = me.guild_permissions
            if not (perms.manage_events or perms.create_events):
                raise Forbidden
        try:
            await self.bot.rest_pacer.take(Priority.UPKEEP)
            events = await guild.fetch_scheduled_events(with_counts=False)
        except discord.Forbidden as exc:
            raise Forbidden from exc
        remote = [to_remote(e) for e in events]
        objects = {e.id: e for e in events}

        settings = settings_from_row(row)
        now = self.bot.clock.now()
        window = await self.bot.run_db(
            mirror.mirror_window,
            row.id,
            start_from=now - LOOKBACK,
            start_before=now + settings.announce_window + LOOKBACK,
        )
        wanted = (
            plan.wanted_events(
                window.live,
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
        records = await self.bot.run_db(mirror.mirror_records, row.id)
        ops = plan.plan_mirror(
            feed_id=row.id,
            wanted=wanted,
            cancelled=window.cancelled,
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
        row: FeedRow,
        guild: discord.Guild,
        objects: dict[int, discord.ScheduledEvent],
        op: MirrorOp,
        report: MirrorReport,
    ) -> bool:
        """One request; False stops this sync (the next poll tries again)."""
        if op.kind is not OpKind.RECORD:
            await self.bot.rest_pacer.take(Priority.UPKEEP)
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
                await self.bot.run_db(mirror.forget_mirror_event, op.event_id)
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

    async def _record(self, row: FeedRow, aid: str, event_id: int, status: RecordStatus) -> None:
        await self.bot.run_db(
            mirror.save_mirror_record,
            row.id,
            aid,
            guild_id=row.guild_id,
            event_id=event_id,
            status=status,
            now=self.bot.clock.now(),
        )

    async def _disable(self, row: FeedRow) -> None:
        log.warning("event mirror for feed %s: no permission; switched off", row.name)
        await self.bot.run_db(mirror.switch_mirror_off, row.id, now=self.bot.clock.now())
        await self.bot.notify_admins(
            row.guild_id,
            mirror.mirror_notice_key(row.id),
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
