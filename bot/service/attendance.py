"""The rules behind "I'm going": toggling attendance (with the reminder it sets by default),
the counts cards and ``/seminars show`` display, the admins' list, and what reschedules and
cancellations do to attendance.

Every function runs on the database thread. A toggle, its reminder subscription and the
card's "needs an edit" mark commit in one transaction; the card itself is edited later by the
Discord layer's card editor, which reads the count back from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot.core.attendance import follow_events, next_edit_at
from bot.core.models import instant_to_json
from bot.core.reminders import PlanEvent, due_for
from bot.service.feeds import settings_from_row
from bot.service.subscriptions import (
    EventCancelled,
    ReminderRefusal,
    UnknownEvent,
    is_upcoming,
)
from bot.store import attendance as attendance_store
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store import reminders as reminder_store
from bot.store.db import write_transaction
from bot.store.events import UpcomingEvent

__all__ = [
    "CardEdit",
    "DueCards",
    "EventCancelled",
    "Started",
    "Toggled",
    "UnknownEvent",
    "WhoIsGoing",
]


class Started(ReminderRefusal):
    """Too late to say one is going: the talk has begun."""

    reason = "started"


@dataclass(frozen=True, slots=True)
class Toggled:
    """The member's attendance after a click, and what came with it."""

    going: bool
    count: int
    title: str
    feed_id: int
    #: When the reminder that going set is due (None: none was set by this click).
    reminder_due: datetime | None = None
    #: Un-going removed the reminder that going had set.
    reminder_removed: bool = False


@dataclass(frozen=True, slots=True)
class WhoIsGoing:
    title: str
    user_ids: list[int]


@dataclass(frozen=True, slots=True)
class CardEdit:
    """A card due for an edit: the count to show and the messages that show it."""

    announcement_id: str
    version: int
    count: int
    messages: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class DueCards:
    due: list[CardEdit]
    #: When the next card not yet due may be edited (None: nothing else waits).
    next_at: datetime | None


def _event_of_guild(db: Database, guild_id: int, announcement_id: str) -> UpcomingEvent:
    event = event_store.event_by_announcement(db, announcement_id)
    feed = feed_store.get_feed(db, event.feed_id) if event else None
    if event is None or feed is None or feed.guild_id != guild_id:
        raise UnknownEvent("unknown event")
    return event


def toggle(
    db: Database,
    *,
    guild_id: int,
    user_id: int,
    announcement_id: str,
    offset: timedelta,
    now: datetime,
    default_timezone: str,
) -> Toggled:
    """Going ↔ not going. Going also sets the member's reminder (unless they turned that off
    or the talk is too close for it); not going removes that reminder again, never one the
    member set up themselves."""
    event = _event_of_guild(db, guild_id, announcement_id)
    occ = event.occurrence
    if attendance_store.get(db, announcement_id, user_id) is not None:
        return _leave(db, event, user_id, now=now)
    if event.state == "cancelled" or occ.cancelled:
        raise EventCancelled("cancelled", title=occ.title)
    if not is_upcoming(event, now):
        raise Started("started", title=occ.title)
    feed = feed_store.get_feed(db, event.feed_id)
    assert feed is not None
    due = due_for(occ, offset, settings_from_row(feed).timezone or default_timezone)
    remind = attendance_store.reminds(db, guild_id, user_id) and due > now
    if remind:
        reminder_store.reactivate_dm(db, user_id, now=now)
    with write_transaction(db):
        attendance_store.insert(
            db,
            announcement_id=announcement_id,
            user_id=user_id,
            guild_id=guild_id,
            feed_id=event.feed_id,
            start_json=instant_to_json(occ.start) or "",
            place=occ.place,
            now=now,
        )
        if remind:
            sub, created = reminder_store.insert_subscription(
                db,
                guild_id=guild_id,
                user_id=user_id,
                kind="event",
                offset=offset,
                via="dm",
                feed_id=event.feed_id,
                announcement_id=announcement_id,
                now=now,
            )
            if created:
                attendance_store.link_subscription(db, announcement_id, user_id, sub.id)
        attendance_store.card_changed(db, [announcement_id], now=now)
        count = attendance_store.count(db, announcement_id)
    return Toggled(True, count, occ.title, event.feed_id, reminder_due=due if remind else None)


def _leave(db: Database, event: UpcomingEvent, user_id: int, *, now: datetime) -> Toggled:
    aid = event.announcement_id
    with write_transaction(db):
        row = attendance_store.get(db, aid, user_id)
        attendance_store.delete(db, aid, user_id)
        removed = False
        if row is not None and row.subscription_id is not None:
            removed = reminder_store.delete_subscription(db, row.subscription_id, user_id, now=now)
        attendance_store.card_changed(db, [aid], now=now)
        count = attendance_store.count(db, aid)
    return Toggled(False, count, event.occurrence.title, event.feed_id, reminder_removed=removed)


def adopt_reminder(db: Database, subscription_id: int) -> None:
    """The member pressed "Remind me" for a reminder going had set: it is theirs to keep."""
    attendance_store.release_subscription(db, subscription_id)


def leave_all(db: Database, user_id: int, guild_id: int, *, now: datetime) -> int:
    """``/unsubscribe all``: the member is going to nothing in this server any more."""
    with write_transaction(db):
        rows = attendance_store.of_member(db, user_id, guild_id)
        for row in rows:
            attendance_store.delete(db, row.announcement_id, user_id)
        attendance_store.card_changed(db, sorted({r.announcement_id for r in rows}), now=now)
    return len(rows)


def count_going(db: Database, announcement_id: str) -> int:
    return attendance_store.count(db, announcement_id)


def going_of_event(db: Database, rowid: int) -> tuple[str, int]:
    """(announcement id, how many are going) of a stored event picked in ``/seminars show``."""
    announcement_id = attendance_store.announcement_of_event(db, rowid)
    if not announcement_id:
        return "", 0
    return announcement_id, attendance_store.count(db, announcement_id)


def who_is_going(db: Database, guild_id: int, announcement_id: str) -> WhoIsGoing:
    """The admins' list; ``UnknownEvent`` for a talk of another server."""
    event = _event_of_guild(db, guild_id, announcement_id)
    return WhoIsGoing(event.occurrence.title, attendance_store.user_ids(db, announcement_id))


def going_reminders(db: Database, guild_id: int, user_id: int) -> bool:
    return attendance_store.reminds(db, guild_id, user_id)


def set_going_reminders(db: Database, guild_id: int, user_id: int, on: bool) -> None:
    attendance_store.set_reminds(db, guild_id, user_id, on)


# --- following the talk -----------------------------------------------------------------------


def follow_feed(
    db: Database,
    feed_id: int,
    events: Sequence[PlanEvent],
    *,
    feed_zone: str,
    now: datetime,
    already_told: frozenset[str],
) -> int:
    """Inside the reminder planner's transaction: tell the people going about a moved or
    cancelled talk (once: the notice keys are the reminder subscribers' ones), keep the time
    and place they now know, and end attendance of cancelled talks. Returns new notices."""
    by_id = {e.announcement_id: e for e in events}
    attendees = [
        row.as_attendee()
        for row in attendance_store.of_feed(db, feed_id)
        if row.announcement_id in by_id
    ]
    if not attendees:
        return 0
    plan = follow_events(
        attendees,
        by_id,
        feed_zone=feed_zone,
        now=now,
        already_told=already_told,
    )
    for person, start_json, place in plan.moved:
        attendance_store.move(db, person.announcement_id, person.user_id, start_json, place)
    for person in plan.ended:
        attendance_store.delete(db, person.announcement_id, person.user_id)
    if plan.ended:
        ended = sorted({p.announcement_id for p in plan.ended})
        attendance_store.card_changed(db, ended, now=now)
    return len(reminder_store.insert_notices(db, feed_id, plan.notices, now=now))


# --- the card editor ----------------------------------------------------------------------------


def due_cards(db: Database, *, now: datetime) -> DueCards:
    """Cards whose count changed and whose next edit is allowed by now."""
    due: list[CardEdit] = []
    next_at: datetime | None = None
    for card in attendance_store.changed_cards(db):
        at = next_edit_at(card.changed_at, card.edited_at)
        if at > now:
            next_at = at if next_at is None else min(next_at, at)
            continue
        due.append(
            CardEdit(
                announcement_id=card.announcement_id,
                version=card.version,
                count=attendance_store.count(db, card.announcement_id),
                messages=attendance_store.card_messages(db, card.announcement_id),
            )
        )
    return DueCards(due, next_at)


def card_shown(db: Database, announcement_id: str, version: int, *, now: datetime) -> None:
    attendance_store.card_shown(db, announcement_id, version, now=now)


def card_attempted(db: Database, announcement_id: str, *, now: datetime) -> None:
    attendance_store.card_attempted(db, announcement_id, now=now)
