"""The ``talk_threads`` table (migration m015): one discussion thread per talk and channel.

The row is written before the thread is requested (``creating``) and becomes ``open`` once
Discord has answered, so a crash in between leaves a row that says exactly which message the
thread belongs to; finishing it is asking again, which Discord answers with "already created".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from bot.store.db import write_transaction
from bot.store.rows import Row, all_rows, dt, one, ts


class ThreadState(enum.StrEnum):
    """``talk_threads.state``."""

    #: Recorded before the request; a row still here after a crash is finished on restart.
    CREATING = "creating"
    OPEN = "open"
    ARCHIVED = "archived"
    #: Deleted in Discord (or its card was): never re-created behind a moderator's back.
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class ThreadRow:
    announcement_id: str
    channel_id: int
    feed_id: int
    guild_id: int
    thread_id: int
    name: str
    state: ThreadState
    archive_at: datetime
    attempts: int

    @classmethod
    def from_row(cls, row: Row) -> ThreadRow:
        return cls(
            announcement_id=str(row["announcement_id"]),
            channel_id=int(row["channel_id"]),
            feed_id=int(row["feed_id"]),
            guild_id=int(row["guild_id"]),
            thread_id=int(row["thread_id"]),
            name=str(row["name"]),
            state=ThreadState(row["state"]),
            archive_at=dt(row["archive_at"]),
            attempts=int(row["attempts"]),
        )


def get_thread(db: Database, announcement_id: str, channel_id: int) -> ThreadRow | None:
    row = one(
        db,
        "SELECT * FROM talk_threads WHERE announcement_id = ? AND channel_id = ?",
        [announcement_id, channel_id],
    )
    return ThreadRow.from_row(row) if row else None


def intend_thread(
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
    """Record the thread about to be requested (committed before the request).

    An existing row wins, whatever its state: a talk never gets a second thread, not even
    from another message.
    """
    with write_transaction(db):
        db.conn.execute(
            """
            INSERT OR IGNORE INTO talk_threads (announcement_id, channel_id, feed_id, guild_id,
                thread_id, name, state, archive_at, attempts, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, 'creating', ?, 0, ?, ?)
            """,
            [
                announcement_id,
                channel_id,
                feed_id,
                guild_id,
                message_id,
                name,
                ts(archive_at),
                ts(now),
                ts(now),
            ],
        )
    row = get_thread(db, announcement_id, channel_id)
    assert row is not None
    return row


def count_attempt(db: Database, announcement_id: str, channel_id: int, *, now: datetime) -> None:
    """One more request for an unfinished thread (so a hopeless one is given up in time)."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE talk_threads SET attempts = attempts + 1, updated_at = ?"
            " WHERE announcement_id = ? AND channel_id = ? AND state = 'creating'",
            [ts(now), announcement_id, channel_id],
        )


def set_thread_state(
    db: Database, announcement_id: str, channel_id: int, state: ThreadState, *, now: datetime
) -> None:
    with write_transaction(db):
        db.conn.execute(
            "UPDATE talk_threads SET state = ?, updated_at = ?"
            " WHERE announcement_id = ? AND channel_id = ?",
            [state.value, ts(now), announcement_id, channel_id],
        )


def set_archive_at(
    db: Database, announcement_id: str, channel_id: int, at: datetime, *, now: datetime
) -> None:
    """The talk moved: its thread closes a day after the new end."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE talk_threads SET archive_at = ?, updated_at = ?"
            " WHERE announcement_id = ? AND channel_id = ?",
            [ts(at), ts(now), announcement_id, channel_id],
        )


def forget_thread(db: Database, announcement_id: str, channel_id: int) -> None:
    """Discord refused the thread: nothing exists, so nothing is remembered."""
    with write_transaction(db):
        db.conn.execute(
            "DELETE FROM talk_threads WHERE announcement_id = ? AND channel_id = ?",
            [announcement_id, channel_id],
        )


def forget_unfinished(db: Database, feed_id: int) -> None:
    """The feature was switched off: requests never answered are not finished later."""
    with write_transaction(db):
        db.conn.execute(
            "DELETE FROM talk_threads WHERE feed_id = ? AND state = 'creating'", [feed_id]
        )


def unfinished_threads(db: Database, *, limit: int = 100) -> list[ThreadRow]:
    """Threads requested but never recorded (a crash, a lost answer), oldest first."""
    rows = all_rows(
        db,
        "SELECT * FROM talk_threads WHERE state = 'creating' ORDER BY created_at LIMIT ?",
        [limit],
    )
    return [ThreadRow.from_row(r) for r in rows]


def threads_due_for_archive(db: Database, *, now: datetime, limit: int = 100) -> list[ThreadRow]:
    rows = all_rows(
        db,
        "SELECT * FROM talk_threads WHERE state = 'open' AND archive_at <= ?"
        " ORDER BY archive_at LIMIT ?",
        [ts(now), limit],
    )
    return [ThreadRow.from_row(r) for r in rows]


def next_archive_at(db: Database) -> datetime | None:
    row = one(db, "SELECT MIN(archive_at) AS at FROM talk_threads WHERE state = 'open'", [])
    return None if row is None or row["at"] is None else dt(row["at"])
