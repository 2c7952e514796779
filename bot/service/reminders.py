"""Planning: turn subscriptions × upcoming occurrences into reminder rows after each poll.

Runs on the database thread in its own ``BEGIN IMMEDIATE`` transaction right after the poll's
save. It is a full reconciliation, not a replay of the poll's actions, so it is idempotent and
self-healing: if the process dies between the save and the planning, the next pass (the next
poll, the worker's periodic pass, or start-up) computes the same rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot.core.reminders import PlanEvent, plan_feed
from bot.service.attendance import follow_feed as follow_attendance
from bot.service.feeds import settings_from_row
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store import reminders as reminder_store
from bot.store.db import write_transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlanStats:
    feed_id: int
    inserted: int = 0
    too_late: int = 0
    updated: int = 0
    cancelled: int = 0
    notices: int = 0

    @property
    def changed(self) -> int:
        return self.inserted + self.too_late + self.updated + self.cancelled + self.notices


def plan_feed_reminders(
    db: Database, feed_id: int, *, now: datetime, default_timezone: str = "UTC"
) -> PlanStats:
    """Reconcile one feed's reminders with its events and the guild's subscriptions."""
    with write_transaction(db):
        feed = feed_store.get_feed(db, feed_id)
        if feed is None:
            return PlanStats(feed_id)
        settings = settings_from_row(feed)
        active = feed.status in ("active", "suspect")
        events = event_store.remindable_events(db, feed_id, since=now - timedelta(days=1))
        subscriptions = [
            s.for_planning() for s in reminder_store.active_subscriptions(db, feed.guild_id)
        ]
        plan_events = [
            PlanEvent(
                e.announcement_id,
                e.occurrence,
                cancelled=e.state == "cancelled" or e.occurrence.cancelled,
            )
            for e in events
        ]
        plan = plan_feed(
            feed_id=feed_id,
            # A disabled or paused feed keeps its personal reminders but posts nothing itself.
            channel_id=feed.channel_id if active else None,
            offsets=settings.reminder_offsets,
            feed_zone=settings.timezone or default_timezone,
            events=plan_events,
            subscriptions=subscriptions,
            existing=reminder_store.stored_for_feed(db, feed_id),
            now=now,
        )
        notice_ids = reminder_store.apply_plan(db, feed_id, plan, now=now)
        # People going are told of the same changes, under the same keys: once each.
        attendee_notices = follow_attendance(
            db,
            feed_id,
            plan_events,
            feed_zone=settings.timezone or default_timezone,
            now=now,
            already_told=frozenset(n.idem_key for n in plan.notices),
        )
    stats = PlanStats(
        feed_id,
        inserted=len(plan.inserts),
        too_late=len(plan.too_late),
        updated=len(plan.updates),
        cancelled=len(plan.cancels),
        notices=len(notice_ids) + attendee_notices,
    )
    if stats.changed:
        log.info("reminders for feed %s: %s", feed_id, stats)
    return stats


def plan_all_feeds(
    db: Database, *, now: datetime, default_timezone: str = "UTC"
) -> list[PlanStats]:
    """Every feed (start-up and the worker's periodic pass: catches events entering the horizon)."""
    return [
        plan_feed_reminders(db, feed.id, now=now, default_timezone=default_timezone)
        for feed in feed_store.list_feeds(db)
    ]
