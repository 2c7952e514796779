"""The ``outbox`` of posts to make, the ``announcements`` they produced, and admin ``notices``.

Outbox rows are written with the poll that caused them (``insert_outbox_rows``, called inside
``events.save_poll_result``'s transaction) and go ``pending → sending → sent`` (claimed and
committed before the request), back to ``pending`` with a backoff, or ``dead``. The message a
post produced is remembered per announcement and channel, so a later update edits it.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from bot.core.diff import PlannedAction
from bot.core.models import Action
from bot.store.db import write_transaction
from bot.store.rows import Row, all_rows, dt, one, opt_dt, ts


class OutboxState(enum.StrEnum):
    """``outbox.state``."""

    PENDING = "pending"
    #: Claimed by the delivery worker; a row still here at start-up was interrupted mid-send.
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"


class AnnouncementState(enum.StrEnum):
    """``announcements.state``: how the announcement's message stands in its channel."""

    POSTED = "posted"
    #: Announced as a card inside a digest message.
    DIGEST = "digest"
    DELETED = "deleted"


# --- writing and reading outbox rows -------------------------------------------------------


def idem_key(feed_id: int, planned: PlannedAction) -> str:
    return f"{feed_id}:{planned.idem_suffix}"


def insert_outbox_rows(
    db: Database, feed_id: int, planned: tuple[PlannedAction, ...], now: datetime
) -> list[int]:
    """INSERT OR IGNORE on idem_key: re-running the same diff queues nothing new."""
    stamp = ts(now)
    ids: list[int] = []
    for item in planned:
        cursor = db.conn.execute(
            """
            INSERT OR IGNORE INTO outbox (idem_key, feed_id, kind, announcement_id, event_key,
                                          payload_json, state, attempts, next_attempt_at,
                                          created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
            """,
            [
                idem_key(feed_id, item),
                feed_id,
                item.action.kind.value,
                item.announcement_id,
                item.action.key.to_string(),
                json.dumps(item.action.to_dict(), sort_keys=True, ensure_ascii=False),
                stamp,
                stamp,
                stamp,
            ],
        )
        if cursor.rowcount == 1 and cursor.lastrowid is not None:
            row_id = int(cursor.lastrowid)
            # Deterministic Discord nonce (≤ 25 chars): a resend after a crash reuses it.
            db.conn.execute("UPDATE outbox SET nonce = ? WHERE id = ?", [f"ob{row_id}", row_id])
            ids.append(row_id)
    return ids


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    idem_key: str
    feed_id: int | None
    kind: str
    announcement_id: str | None
    event_key: str | None
    action: Action
    state: OutboxState
    attempts: int
    next_attempt_at: datetime | None
    nonce: str | None
    discord_message_id: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> OutboxRow:
        return cls(
            id=int(row["id"]),
            idem_key=str(row["idem_key"]),
            feed_id=row["feed_id"],
            kind=str(row["kind"]),
            announcement_id=row["announcement_id"],
            event_key=row["event_key"],
            action=Action.from_dict(json.loads(row["payload_json"])),
            state=OutboxState(row["state"]),
            attempts=int(row["attempts"]),
            next_attempt_at=opt_dt(row["next_attempt_at"]),
            nonce=row["nonce"],
            discord_message_id=row["discord_message_id"],
            last_error=row["last_error"],
            created_at=dt(row["created_at"]),
            updated_at=dt(row["updated_at"]),
        )


def get_outbox_row(db: Database, row_id: int) -> OutboxRow | None:
    row = one(db, "SELECT * FROM outbox WHERE id = ?", [row_id])
    return OutboxRow.from_row(row) if row else None


def claim_outbox_row(db: Database, row_id: int, *, now: datetime) -> OutboxRow | None:
    """pending → sending (attempts + 1), committed before the POST; None if not claimable."""
    with write_transaction(db):
        cursor = db.conn.execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?"
            " WHERE id = ? AND state = 'pending'",
            [ts(now), row_id],
        )
        claimed = cursor.rowcount == 1
    return get_outbox_row(db, row_id) if claimed else None


def mark_outbox_sent(db: Database, row_id: int, message_id: int | None, *, now: datetime) -> None:
    with write_transaction(db):
        db.conn.execute(
            "UPDATE outbox SET state = 'sent', discord_message_id = ?, last_error = NULL,"
            " updated_at = ? WHERE id = ?",
            [message_id, ts(now), row_id],
        )


def mark_outbox_failed(
    db: Database,
    row_id: int,
    error: str,
    next_attempt_at: datetime | None,
    dead: bool,
    *,
    now: datetime,
) -> None:
    """Back to pending for a retry at ``next_attempt_at``, or dead for good."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE outbox SET state = ?, last_error = ?, next_attempt_at = ?, updated_at = ?"
            " WHERE id = ?",
            [
                OutboxState.DEAD if dead else OutboxState.PENDING,
                error[:1000],
                ts(next_attempt_at) if next_attempt_at else None,
                ts(now),
                row_id,
            ],
        )


def due_rows(db: Database, *, now: datetime, limit: int = 100) -> list[OutboxRow]:
    """Pending rows whose feed can be delivered to (not paused/disabled), oldest first."""
    rows = all_rows(
        db,
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
    return [OutboxRow.from_row(r) for r in rows]


def interrupted_rows(db: Database) -> list[OutboxRow]:
    """Rows claimed by a worker that never recorded the result (a crash mid-send)."""
    rows = all_rows(db, "SELECT * FROM outbox WHERE state = 'sending' ORDER BY id", [])
    return [OutboxRow.from_row(r) for r in rows]


def release_row(db: Database, row_id: int, *, now: datetime) -> None:
    """sending → pending, keeping the nonce, so the next attempt is deduplicated by Discord."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE outbox SET state = 'pending', updated_at = ?"
            " WHERE id = ? AND state = 'sending'",
            [ts(now), row_id],
        )


# --- announcements ------------------------------------------------------------------------


@dataclass(frozen=True)
class Announcement:
    message_id: int | None
    state: AnnouncementState


def set_announcement_message(
    db: Database,
    announcement_id: str,
    channel_id: int,
    message_id: int | None,
    *,
    state: AnnouncementState = AnnouncementState.POSTED,
    now: datetime,
) -> None:
    with write_transaction(db):
        db.conn.execute(
            """
            INSERT INTO announcements (announcement_id, channel_id, message_id, state, updated_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (announcement_id, channel_id) DO UPDATE SET
                message_id = excluded.message_id, state = excluded.state,
                updated_at = excluded.updated_at
            """,
            [announcement_id, channel_id, message_id, state, ts(now)],
        )


def get_announcement(db: Database, announcement_id: str, channel_id: int) -> Announcement | None:
    row = db.conn.execute(
        "SELECT message_id, state FROM announcements WHERE announcement_id = ? AND channel_id = ?",
        [announcement_id, channel_id],
    ).fetchone()
    if row is None:
        return None
    return Announcement(
        message_id=None if row[0] is None else int(row[0]), state=AnnouncementState(row[1])
    )


def announcement_message(db: Database, announcement_id: str, channel_id: int) -> int | None:
    """The message id only while it is the announcement's own post (not a digest card)."""
    row = one(
        db,
        "SELECT message_id FROM announcements WHERE announcement_id = ? AND channel_id = ?"
        " AND state = 'posted'",
        [announcement_id, channel_id],
    )
    return None if row is None or row["message_id"] is None else int(row["message_id"])


# --- notices ------------------------------------------------------------------------------


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
