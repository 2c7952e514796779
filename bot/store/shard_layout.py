"""The ``shard_layout`` row: which shards' servers this database file holds."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from bot.store.db import write_transaction
from bot.store.rows import one, ts


def recorded_shards(db: Database) -> str | None:
    """The recorded layout (``ShardSet.to_record`` text), None if never recorded."""
    row = one(db, "SELECT shards FROM shard_layout WHERE id = 1", [])
    return str(row["shards"]) if row else None


def record_shards(db: Database, shards: str, *, how: str, now: datetime) -> None:
    """Remember the layout (``how``: a start, an import, or a file older than sharding)."""
    with write_transaction(db):
        db.conn.execute(
            "INSERT INTO shard_layout (id, shards, how, recorded_at) VALUES (1, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET shards = excluded.shards, how = excluded.how,"
            " recorded_at = excluded.recorded_at",
            [shards, how, ts(now)],
        )


def has_feeds(db: Database) -> bool:
    return one(db, "SELECT 1 AS found FROM feeds LIMIT 1", []) is not None
