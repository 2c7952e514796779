"""Attendance ("I'm going"), the cards that show its count, and each member's one setting.

Functions that say "inside the caller's transaction" are composed by the service layer into
one ``BEGIN IMMEDIATE`` with the subscription going creates or removes; the others commit on
their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from bot.core.attendance import Attendee
from bot.store.db import write_transaction
from bot.store.rows import Row, all_rows, dt, one, opt_dt, ts


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    announcement_id: str
    user_id: int
    guild_id: int
    feed_id: int
    #: The reminder subscription going created (None: none, or the member removed it).
    subscription_id: int | None
    start_json: str
    place: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> AttendanceRow:
        return cls(
            announcement_id=str(row["announcement_id"]),
            user_id=int(row["user_id"]),
            guild_id=int(row["guild_id"]),
            feed_id=int(row["feed_id"]),
            subscription_id=row["subscription_id"],
            start_json=str(row["start_json"]),
            place=str(row["place"]),
            created_at=dt(row["created_at"]),
        )

    def as_attendee(self) -> Attendee:
        return Attendee(self.user_id, self.announcement_id, self.start_json, self.place)


@dataclass(frozen=True, slots=True)
class CardState:
    """A card whose count changed since its last edit (``version`` > the shown one)."""

    announcement_id: str
    version: int
    changed_at: datetime
    edited_at: datetime | None


# --- attendance -------------------------------------------------------------------------------


def get(db: Database, announcement_id: str, user_id: int) -> AttendanceRow | None:
    row = one(
        db,
        "SELECT * FROM attendance WHERE announcement_id = ? AND user_id = ?",
        [announcement_id, user_id],
    )
    return AttendanceRow.from_row(row) if row else None


def insert(
    db: Database,
    *,
    announcement_id: str,
    user_id: int,
    guild_id: int,
    feed_id: int,
    start_json: str,
    place: str,
    now: datetime,
) -> bool:
    """Inside the caller's transaction; ``True`` when the member was not going yet."""
    cursor = db.conn.execute(
        """
        INSERT OR IGNORE INTO attendance (announcement_id, user_id, guild_id, feed_id,
            start_json, place, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        """,
        [announcement_id, user_id, guild_id, feed_id, start_json, place, ts(now)],
    )
    return cursor.rowcount == 1


def link_subscription(
    db: Database, announcement_id: str, user_id: int, subscription_id: int | None
) -> None:
    """Inside the caller's transaction: the reminder going created, to remove with it."""
    db.conn.execute(
        "UPDATE attendance SET subscription_id = ? WHERE announcement_id = ? AND user_id = ?",
        [subscription_id, announcement_id, user_id],
    )


def release_subscription(db: Database, subscription_id: int) -> None:
    """The member asked for that reminder themselves too: it is theirs now, not going's."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE attendance SET subscription_id = NULL WHERE subscription_id = ?",
            [subscription_id],
        )


def delete(db: Database, announcement_id: str, user_id: int) -> bool:
    """Inside the caller's transaction."""
    cursor = db.conn.execute(
        "DELETE FROM attendance WHERE announcement_id = ? AND user_id = ?",
        [announcement_id, user_id],
    )
    return cursor.rowcount == 1


def of_member(db: Database, user_id: int, guild_id: int) -> list[AttendanceRow]:
    rows = all_rows(
        db,
        "SELECT * FROM attendance WHERE user_id = ? AND guild_id = ? ORDER BY created_at",
        [user_id, guild_id],
    )
    return [AttendanceRow.from_row(r) for r in rows]


def of_feed(db: Database, feed_id: int) -> list[AttendanceRow]:
    rows = all_rows(db, "SELECT * FROM attendance WHERE feed_id = ? ORDER BY created_at", [feed_id])
    return [AttendanceRow.from_row(r) for r in rows]


def count(db: Database, announcement_id: str) -> int:
    row = db.conn.execute(
        "SELECT COUNT(*) FROM attendance WHERE announcement_id = ?", [announcement_id]
    ).fetchone()
    return int(row[0])


def user_ids(db: Database, announcement_id: str) -> list[int]:
    """Everyone going, earliest first."""
    rows = all_rows(
        db,
        "SELECT user_id FROM attendance WHERE announcement_id = ? ORDER BY created_at, user_id",
        [announcement_id],
    )
    return [int(r["user_id"]) for r in rows]


def move(db: Database, announcement_id: str, user_id: int, start_json: str, place: str) -> None:
    """Inside the caller's transaction: the attendee now knows the new time and place."""
    db.conn.execute(
        "UPDATE attendance SET start_json = ?, place = ? WHERE announcement_id = ? AND user_id = ?",
        [start_json, place, announcement_id, user_id],
    )


# --- cards --------------------------------------------------------------------------------------


def card_changed(db: Database, announcement_ids: Sequence[str], *, now: datetime) -> None:
    """Inside the caller's transaction: these cards' counts changed and need an edit.

    ``changed_at`` keeps the first change the card does not show yet, so a steady stream of
    clicks cannot postpone the edit forever.
    """
    db.conn.executemany(
        """
        INSERT INTO attendance_cards (announcement_id, version, shown_version, changed_at)
        VALUES (?, 1, 0, ?)
        ON CONFLICT (announcement_id) DO UPDATE SET
            changed_at = CASE WHEN version = shown_version THEN excluded.changed_at
                              ELSE changed_at END,
            version = version + 1
        """,
        [[aid, ts(now)] for aid in announcement_ids],
    )


def changed_cards(db: Database, *, limit: int = 200) -> list[CardState]:
    rows = all_rows(
        db,
        "SELECT * FROM attendance_cards WHERE version > shown_version ORDER BY changed_at LIMIT ?",
        [limit],
    )
    return [
        CardState(
            announcement_id=str(r["announcement_id"]),
            version=int(r["version"]),
            changed_at=dt(r["changed_at"]),
            edited_at=opt_dt(r["edited_at"]),
        )
        for r in rows
    ]


def card_shown(db: Database, announcement_id: str, version: int, *, now: datetime) -> None:
    """The card was edited with the count as of ``version`` (later changes stay due)."""
    with write_transaction(db):
        db.conn.execute(
            """
            UPDATE attendance_cards SET shown_version = MAX(shown_version, ?), edited_at = ?,
                changed_at = CASE WHEN version > MAX(shown_version, ?) THEN ? ELSE changed_at END
            WHERE announcement_id = ?
            """,
            [version, ts(now), version, ts(now), announcement_id],
        )


def card_attempted(db: Database, announcement_id: str, *, now: datetime) -> None:
    """An edit failed for a passing reason: try again one interval later."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE attendance_cards SET edited_at = ? WHERE announcement_id = ?",
            [ts(now), announcement_id],
        )


def card_messages(db: Database, announcement_id: str) -> list[tuple[int, int]]:
    """(channel id, message id) of the announcement's own cards (not digest entries)."""
    rows = all_rows(
        db,
        "SELECT channel_id, message_id FROM announcements WHERE announcement_id = ?"
        " AND state = 'posted' AND message_id IS NOT NULL ORDER BY channel_id",
        [announcement_id],
    )
    return [(int(r["channel_id"]), int(r["message_id"])) for r in rows]


def announcement_of_event(db: Database, rowid: int) -> str:
    row = one(db, "SELECT announcement_id FROM events WHERE rowid = ?", [rowid])
    return str(row["announcement_id"]) if row else ""


# --- the member's setting ------------------------------------------------------------------------


def reminds(db: Database, guild_id: int, user_id: int) -> bool:
    """Whether going also sets the member's reminder (on unless they turned it off)."""
    row = one(
        db,
        "SELECT remind FROM attendance_settings WHERE guild_id = ? AND user_id = ?",
        [guild_id, user_id],
    )
    return row is None or bool(row["remind"])


def set_reminds(db: Database, guild_id: int, user_id: int, remind: bool) -> None:
    with write_transaction(db):
        db.conn.execute(
            """
            INSERT INTO attendance_settings (guild_id, user_id, remind) VALUES (?, ?, ?)
            ON CONFLICT (guild_id, user_id) DO UPDATE SET remind = excluded.remind
            """,
            [guild_id, user_id, int(remind)],
        )
