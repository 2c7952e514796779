"""Store functions the Discord delivery worker needs beyond the basic outbox transitions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from bot.store.db import write_transaction
from bot.store.repo import OutboxRow, ts


@dataclass(frozen=True)
class Announcement:
    message_id: int | None
    #: posted | digest | deleted
    state: str


def due_rows(db: Database, *, now: datetime, limit: int = 100) -> list[OutboxRow]:
    """Pending rows whose feed can be delivered to (not paused/disabled), oldest first."""
    rows = db.conn.execute(
        """
        SELECT outbox.* FROM outbox JOIN feeds ON feeds.id = outbox.feed_id
        WHERE outbox.state = 'pending'
          AND (outbox.next_attempt_at IS NULL OR outbox.next_attempt_at <= ?)
          AND feeds.status IN ('active', 'suspect')
          AND feeds.channel_id IS NOT NULL
        ORDER BY outbox.id LIMIT ?
        """,
        [ts(now), limit],
    )
    columns = [c[0] for c in rows.description]
    return [OutboxRow.from_row(dict(zip(columns, r, strict=True))) for r in rows.fetchall()]


def interrupted_rows(db: Database) -> list[OutboxRow]:
    """Rows claimed by a worker that never recorded the result (a crash mid-send)."""
    rows = db.conn.execute("SELECT * FROM outbox WHERE state = 'sending' ORDER BY id")
    columns = [c[0] for c in rows.description]
    return [OutboxRow.from_row(dict(zip(columns, r, strict=True))) for r in rows.fetchall()]


def release_row(db: Database, row_id: int, *, now: datetime) -> None:
    """sending → pending, keeping the nonce, so the next attempt is deduplicated by Discord."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE outbox SET state = 'pending', updated_at = ?"
            " WHERE id = ? AND state = 'sending'",
            [ts(now), row_id],
        )


def get_announcement(db: Database, announcement_id: str, channel_id: int) -> Announcement | None:
    row = db.conn.execute(
        "SELECT message_id, state FROM announcements WHERE announcement_id = ? AND channel_id = ?",
        [announcement_id, channel_id],
    ).fetchone()
    if row is None:
        return None
    return Announcement(message_id=None if row[0] is None else int(row[0]), state=str(row[1]))


def record_notice(
    db: Database, key: str, *, guild_id: int | None, text: str, now: datetime
) -> bool:
    """Remember a notice; False when it was already given (so it is given only once)."""
    with write_transaction(db):
        cursor = db.conn.execute(
            "INSERT OR IGNORE INTO notices (key, guild_id, text, created_at) VALUES (?, ?, ?, ?)",
            [key, guild_id, text, ts(now)],
        )
        return cursor.rowcount == 1


def forget_notice(db: Database, key: str) -> None:
    with write_transaction(db):
        db.conn.execute("DELETE FROM notices WHERE key = ?", [key])


def disable_feed(db: Database, feed_id: int, *, reason: str, now: datetime) -> None:
    with write_transaction(db):
        db.conn.execute(
            "UPDATE feeds SET status = 'disabled', disabled_reason = ?, updated_at = ?"
            " WHERE id = ?",
            [reason, ts(now), feed_id],
        )


def disable_feeds_of_guild(db: Database, guild_id: int, *, reason: str, now: datetime) -> int:
    with write_transaction(db):
        cursor = db.conn.execute(
            "UPDATE feeds SET status = 'disabled', disabled_reason = ?, updated_at = ?"
            " WHERE guild_id = ? AND status != 'disabled'",
            [reason, ts(now), guild_id],
        )
        return cursor.rowcount


def disable_feeds_of_channel(
    db: Database, channel_id: int, *, reason: str, now: datetime
) -> list[int]:
    with write_transaction(db):
        ids = [
            int(r[0])
            for r in db.conn.execute(
                "SELECT id FROM feeds WHERE channel_id = ? AND status != 'disabled'", [channel_id]
            ).fetchall()
        ]
        db.conn.execute(
            "UPDATE feeds SET status = 'disabled', disabled_reason = ?, updated_at = ?"
            " WHERE channel_id = ? AND status != 'disabled'",
            [reason, ts(now), channel_id],
        )
    return ids
