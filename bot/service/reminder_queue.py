"""The reminder queue as the reminder worker sees it: due rows, claims and outcomes.

The worker talks to Discord; every state change of a reminder row, and the rules for what a
failure means for the member's other reminders, are here. Rows are claimed (committed)
before a send and recorded right after it, so a crash in between is repaired at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store import outbox as outbox_store
from bot.store import reminders as reminder_store
from bot.store.events import UpcomingEvent
from bot.store.reminders import ReminderRow, ReminderState


def next_due_at(db: Database) -> datetime | None:
    return reminder_store.next_due_at(db)


def due_reminders(
    db: Database, *, now: datetime, limit: int, dm_until: datetime | None = None
) -> list[ReminderRow]:
    return reminder_store.due_reminders(db, now=now, limit=limit, dm_until=dm_until)


def next_dm_cluster(
    db: Database, *, after: datetime, span: timedelta
) -> tuple[datetime, int] | None:
    """When the next DM reminders are due and how many requests they take together (to start
    them early)."""
    return reminder_store.next_dm_cluster(db, after=after, span=span)


def upcoming_dm_members(
    db: Database, *, after: datetime, until: datetime
) -> list[tuple[int, int, datetime | None]]:
    """Members to DM soon, with when they last used the bot (to check membership ahead)."""
    return reminder_store.upcoming_dm_members(db, after=after, until=until)


def left_guild(db: Database, *, guild_id: int, user_id: int, now: datetime) -> int:
    """A member found gone before their reminder: their subscriptions there stop."""
    return reminder_store.flag_left_guild(db, guild_id, user_id, now=now)


def feed(db: Database, feed_id: int) -> feed_store.FeedRow | None:
    return feed_store.get_feed(db, feed_id)


def claim_many(db: Database, ids: list[int], *, now: datetime) -> list[ReminderRow]:
    """Claim rows before sending them; only the returned rows may be sent."""
    return reminder_store.claim_many(db, ids, now=now)


def mark_sent_many(db: Database, results: list[tuple[int, int, bool]], *, now: datetime) -> None:
    """(id, message id, late) for each sent reminder, in one transaction."""
    reminder_store.mark_sent_many(db, results, now=now)


def mark_missed(db: Database, reminder_id: int, reason: str, *, now: datetime) -> None:
    """Too late to be useful: recorded, never sent."""
    reminder_store.mark_final(db, reminder_id, ReminderState.MISSED, reason, now=now)


def mark_cancelled(db: Database, reminder_id: int, reason: str, *, now: datetime) -> None:
    reminder_store.mark_final(db, reminder_id, ReminderState.CANCELLED, reason, now=now)


def mark_failed(db: Database, reminder_id: int, error: str, *, now: datetime) -> None:
    """Failed for good (no retry)."""
    reminder_store.mark_final(db, reminder_id, ReminderState.FAILED, error, now=now)


def retry_later(db: Database, reminder_id: int, error: str, at: datetime, *, now: datetime) -> None:
    reminder_store.retry_later(db, reminder_id, error, at, now=now)


def member_left(
    db: Database, reminder_id: int, *, guild_id: int, user_id: int | None, now: datetime
) -> None:
    """The member left the server: their subscriptions there stop, this reminder too."""
    if user_id is not None:
        reminder_store.flag_left_guild(db, guild_id, user_id, now=now)
    reminder_store.mark_final(db, reminder_id, ReminderState.CANCELLED, "left_guild", now=now)


def dm_closed(db: Database, reminder_id: int, *, user_id: int, now: datetime) -> int:
    """The member's DMs are closed: this reminder failed and their pending DMs are cancelled.

    Returns how many pending DMs were cancelled; the member gets one hint at their next command.
    """
    reminder_store.mark_final(db, reminder_id, ReminderState.FAILED, "dm_closed", now=now)
    return reminder_store.flag_dm_closed(db, user_id, now=now)


def reminder_event(db: Database, announcement_id: str, *, feed_id: int) -> UpcomingEvent | None:
    """The event a reminder is about, as stored now."""
    return event_store.event_by_announcement(db, announcement_id, feed_id=feed_id)


def announcement_message(db: Database, announcement_id: str, channel_id: int) -> int | None:
    """The message id of the event's announcement in that channel, for a jump link."""
    return outbox_store.announcement_message(db, announcement_id, channel_id)


def member_seen_at(db: Database, user_id: int) -> datetime | None:
    return reminder_store.member_seen_at(db, user_id)


def dm_channel_id(db: Database, user_id: int) -> int | None:
    return reminder_store.dm_channel_id(db, user_id)


def set_dm_channel_id(db: Database, user_id: int, channel_id: int) -> None:
    reminder_store.set_dm_channel_id(db, user_id, channel_id)


@dataclass(frozen=True)
class Recovery:
    """What start-up did with reminders a previous run claimed but never recorded."""

    released: list[int]
    given_up: list[int]

    @property
    def total(self) -> int:
        return len(self.released) + len(self.given_up)


def recover_interrupted(db: Database, *, now: datetime, nonce_window: timedelta) -> Recovery:
    """Resend rows claimed within the nonce window (Discord returns the first message for a
    repeated nonce); record older ones as sent rather than risk a duplicate."""
    released, given_up = [], []
    for row in reminder_store.interrupted(db):
        if now - row.updated_at <= nonce_window:
            reminder_store.release(db, row.id, now=now)
            released.append(row.id)
        else:
            reminder_store.mark_sent(db, row.id, None, late=False, now=now)
            given_up.append(row.id)
    return Recovery(released=released, given_up=given_up)
