"""Bookkeeping for the thread per talk: which thread a talk has, what is left to finish, what
is due to be archived, and switching the feature off when Discord does not allow it.

The Discord layer (``bot.discord_ui.talk_threads``) makes the requests; every row it reads or
writes goes through here.
"""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from bot.store import feeds as feed_store
from bot.store import outbox as outbox_store
from bot.store import talk_threads as thread_store
from bot.store.talk_threads import ThreadRow, ThreadState

__all__ = [
    "ThreadRow",
    "ThreadState",
    "allow_threads_notice_again",
    "archived",
    "attempted",
    "due_for_archive",
    "feed",
    "gone",
    "intend",
    "moved",
    "next_archive_at",
    "opened",
    "refused",
    "switch_threads_off",
    "thread_for",
    "threads_notice_key",
    "unfinished",
]


def threads_notice_key(feed_id: int) -> str:
    """The admin notice said once when the feed's threads lost their permission."""
    return f"threads-forbidden:{feed_id}"


def feed(db: Database, feed_id: int) -> feed_store.FeedRow | None:
    return feed_store.get_feed(db, feed_id)


def thread_for(db: Database, announcement_id: str, channel_id: int) -> ThreadRow | None:
    return thread_store.get_thread(db, announcement_id, channel_id)


def intend(
    db: Database,
    *,
    announcement_id: str,
    channel_id: int,
    feed_id: int,
    guild_id: int,
    message_id: int,
    name: str,
    archive_at: datetime,
    now: datetime,
) -> ThreadRow:
    """Commit the intent before the request; the existing row if the talk already has one."""
    return thread_store.intend_thread(
        db,
        announcement_id=announcement_id,
        channel_id=channel_id,
        feed_id=feed_id,
        guild_id=guild_id,
        message_id=message_id,
        name=name,
        archive_at=archive_at,
        now=now,
    )


def attempted(db: Database, row: ThreadRow, *, now: datetime) -> None:
    """Count a start request, made right after this commits."""
    thread_store.count_attempt(db, row.announcement_id, row.channel_id, now=now)


def opened(db: Database, row: ThreadRow, *, now: datetime) -> None:
    thread_store.set_thread_state(
        db, row.announcement_id, row.channel_id, ThreadState.OPEN, now=now
    )


def archived(db: Database, row: ThreadRow, *, now: datetime) -> None:
    thread_store.set_thread_state(
        db, row.announcement_id, row.channel_id, ThreadState.ARCHIVED, now=now
    )


def gone(db: Database, row: ThreadRow, *, now: datetime) -> None:
    """The thread (or its card) was deleted in Discord: stop following it, never re-create."""
    thread_store.set_thread_state(
        db, row.announcement_id, row.channel_id, ThreadState.GONE, now=now
    )


def refused(db: Database, row: ThreadRow) -> None:
    """Discord created nothing: forget the intent so a later attempt starts afresh."""
    thread_store.forget_thread(db, row.announcement_id, row.channel_id)


def moved(db: Database, row: ThreadRow, at: datetime, *, now: datetime) -> None:
    """The talk's time changed: archive a day after its new end."""
    thread_store.set_archive_at(db, row.announcement_id, row.channel_id, at, now=now)


def unfinished(db: Database) -> list[ThreadRow]:
    return thread_store.unfinished_threads(db)


def due_for_archive(db: Database, *, now: datetime) -> list[ThreadRow]:
    return thread_store.threads_due_for_archive(db, now=now)


def next_archive_at(db: Database) -> datetime | None:
    return thread_store.next_archive_at(db)


def switch_threads_off(db: Database, feed_id: int, *, now: datetime) -> None:
    """No permission: turn the feed's threads off; unanswered requests are dropped."""
    feed_store.set_feed_setting(db, feed_id, "talk_threads", False, now=now)
    thread_store.forget_unfinished(db, feed_id)


def allow_threads_notice_again(db: Database, feed_id: int) -> None:
    """The admin turned threads back on: a new refusal deserves a new notice."""
    outbox_store.forget_notice(db, threads_notice_key(feed_id))
