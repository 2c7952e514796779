"""The outbox as the delivery worker sees it: due rows, claims, outcomes, and broken targets.

The worker posts and edits in Discord; the row states, where an announcement's message id is
kept, and what a broken channel does to the feeds posting there are decided here. A row is
claimed (committed) before its request and recorded right after, so nothing is posted twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from bot.store import feeds as feed_store
from bot.store import outbox as outbox_store
from bot.store.outbox import Announcement, AnnouncementState, OutboxRow


def due_rows(db: Database, *, now: datetime, limit: int) -> list[OutboxRow]:
    return outbox_store.due_rows(db, now=now, limit=limit)


def feed(db: Database, feed_id: int) -> feed_store.FeedRow | None:
    return feed_store.get_feed(db, feed_id)


def claim(db: Database, row_id: int, *, now: datetime) -> OutboxRow | None:
    """Mark the row as being sent; None when another pass already has it."""
    return outbox_store.claim_outbox_row(db, row_id, now=now)


def mark_sent(db: Database, row_id: int, message_id: int | None, *, now: datetime) -> None:
    outbox_store.mark_outbox_sent(db, row_id, message_id, now=now)


def retry_at(db: Database, row_id: int, error: str, at: datetime, *, now: datetime) -> None:
    """Back to pending, not before ``at``."""
    outbox_store.mark_outbox_failed(db, row_id, error, at, False, now=now)


def give_up(db: Database, row_id: int, error: str, *, now: datetime) -> None:
    """Refused for good: the row is dead and never retried."""
    outbox_store.mark_outbox_failed(db, row_id, error, None, True, now=now)


def announcement(db: Database, announcement_id: str, channel_id: int) -> Announcement | None:
    """The message an announcement got in that channel (for edits), if any."""
    return outbox_store.get_announcement(db, announcement_id, channel_id)


def remember_message(
    db: Database,
    announcement_id: str,
    channel_id: int,
    message_id: int | None,
    *,
    state: AnnouncementState,
    now: datetime,
) -> None:
    """Keep the message id (or that it was deleted) so later changes edit the same message."""
    outbox_store.set_announcement_message(
        db, announcement_id, channel_id, message_id, state=state, now=now
    )


def stop_broken_target(
    db: Database, row_id: int, channel_id: int | None, *, reason: str, now: datetime
) -> list[int]:
    """A channel we cannot use: keep the row for later and disable the feeds posting there.

    Returns the ids of the disabled feeds (none when the feed has no channel).
    """
    outbox_store.release_row(db, row_id, now=now)
    if channel_id is None:
        return []
    return feed_store.disable_feeds_of_channel(db, channel_id, reason=reason, now=now)


def interrupted_rows(db: Database) -> list[OutboxRow]:
    """Rows a previous run claimed but never recorded."""
    return outbox_store.interrupted_rows(db)


def release(db: Database, row_id: int, *, now: datetime) -> None:
    """Back to pending for a resend with the same nonce."""
    outbox_store.release_row(db, row_id, now=now)
