"""The ``mirror_events`` and ``weekly_digests`` tables (migration m011).

The mirror remembers which Discord event belongs to which announcement; the digest remembers
which message holds a feed's list for a week. Both are what make the features restart-safe.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from bot.core.event_mirror import MirrorRecord, RecordStatus
from bot.store.db import write_transaction
from bot.store.rows import ts


class DigestState(enum.StrEnum):
    """``weekly_digests.state``: the intent to post is recorded before the post."""

    POSTING = "posting"
    POSTED = "posted"


# --- mirror -------------------------------------------------------------------------------


def mirror_records(db: Database, feed_id: int) -> dict[str, MirrorRecord]:
    rows = db.conn.execute(
        "SELECT announcement_id, event_id, status FROM mirror_events WHERE feed_id = ?",
        [feed_id],
    ).fetchall()
    return {str(r[0]): MirrorRecord(str(r[0]), int(r[1]), RecordStatus(r[2])) for r in rows}


def save_mirror_record(
    db: Database,
    feed_id: int,
    announcement_id: str,
    *,
    guild_id: int,
    event_id: int,
    status: RecordStatus,
    now: datetime,
) -> None:
    with write_transaction(db):
        db.conn.execute(
            """
            INSERT INTO mirror_events (feed_id, announcement_id, guild_id, event_id, status,
                                       updated_at)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (feed_id, announcement_id) DO UPDATE SET
                guild_id = excluded.guild_id, event_id = excluded.event_id,
                status = excluded.status, updated_at = excluded.updated_at
            """,
            [feed_id, announcement_id, guild_id, event_id, status.value, ts(now)],
        )


def forget_mirror_event(db: Database, event_id: int) -> None:
    with write_transaction(db):
        db.conn.execute("DELETE FROM mirror_events WHERE event_id = ?", [event_id])


def abandon_mirror_records(db: Database, feed_id: int) -> None:
    """Stop following the feed's events (they stay in Discord; a re-enable adopts them)."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE mirror_events SET status = 'gone' WHERE feed_id = ? AND status = 'active'",
            [feed_id],
        )


# --- weekly digest ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestRow:
    feed_id: int
    week: str
    channel_id: int
    message_id: int | None
    state: DigestState
    content_hash: str
    nonce: str


def get_digest(db: Database, feed_id: int, week: str) -> DigestRow | None:
    row = db.conn.execute(
        "SELECT feed_id, week, channel_id, message_id, state, content_hash, nonce"
        " FROM weekly_digests WHERE feed_id = ? AND week = ?",
        [feed_id, week],
    ).fetchone()
    if row is None:
        return None
    return DigestRow(
        int(row[0]),
        str(row[1]),
        int(row[2]),
        int(row[3]) if row[3] is not None else None,
        DigestState(row[4]),
        str(row[5]),
        str(row[6]),
    )


def claim_digest(
    db: Database, feed_id: int, week: str, *, channel_id: int, nonce: str, now: datetime
) -> DigestRow:
    """Record the intent to post before posting (so a crash is repaired, not repeated)."""
    with write_transaction(db):
        db.conn.execute(
            "INSERT OR IGNORE INTO weekly_digests (feed_id, week, channel_id, nonce, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            [feed_id, week, channel_id, nonce, ts(now), ts(now)],
        )
    row = get_digest(db, feed_id, week)
    assert row is not None
    return row


def digest_posted(
    db: Database, feed_id: int, week: str, *, message_id: int, content_hash: str, now: datetime
) -> None:
    with write_transaction(db):
        db.conn.execute(
            "UPDATE weekly_digests SET message_id = ?, state = 'posted', content_hash = ?,"
            " updated_at = ? WHERE feed_id = ? AND week = ?",
            [message_id, content_hash, ts(now), feed_id, week],
        )
