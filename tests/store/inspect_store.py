"""Read-everything queries the tests use to look at the store (the bot never needs them)."""

from __future__ import annotations

from sqlite_utils import Database

from bot.store.outbox import OutboxRow
from bot.store.rows import all_rows, one


def list_outbox(db: Database, feed_id: int | None = None) -> list[OutboxRow]:
    if feed_id is None:
        rows = all_rows(db, "SELECT * FROM outbox ORDER BY id", [])
    else:
        rows = all_rows(db, "SELECT * FROM outbox WHERE feed_id = ? ORDER BY id", [feed_id])
    return [OutboxRow.from_row(r) for r in rows]


def get_announcement_message(db: Database, announcement_id: str, channel_id: int) -> int | None:
    """The message id remembered for the announcement in that channel, whatever its state."""
    row = one(
        db,
        "SELECT message_id FROM announcements WHERE announcement_id = ? AND channel_id = ?",
        [announcement_id, channel_id],
    )
    return None if row is None or row["message_id"] is None else int(row["message_id"])
