"""Writes behind ``/feeds``: create without overwriting, edit, re-enable and remove a feed."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.store.db import write_transaction
from bot.store.repo import FeedRow, get_feed, ts


def create_feed(
    db: Database,
    *,
    name: str,
    url: str,
    guild_id: int,
    channel_id: int,
    settings: dict[str, Any],
    now: datetime,
) -> FeedRow | None:
    """Insert a new feed; None when the guild already has one with that name."""
    stamp = ts(now)
    try:
        with write_transaction(db):
            cursor = db.conn.execute(
                "INSERT INTO feeds (guild_id, name, url, channel_id, settings_json, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    guild_id,
                    name,
                    url,
                    channel_id,
                    json.dumps(settings, sort_keys=True),
                    stamp,
                    stamp,
                ],
            )
            feed_id = cursor.lastrowid
    except sqlite3.IntegrityError:
        return None
    assert feed_id is not None
    return get_feed(db, int(feed_id))


def update_feed(
    db: Database,
    feed_id: int,
    *,
    now: datetime,
    channel_id: int | None = None,
    settings: dict[str, Any] | None = None,
    status: str | None = None,
) -> FeedRow | None:
    """Change only what is given; leaving ``status`` to 'active' also clears the failure run."""
    with write_transaction(db):
        if channel_id is not None:
            db.conn.execute("UPDATE feeds SET channel_id = ? WHERE id = ?", [channel_id, feed_id])
        if settings is not None:
            db.conn.execute(
                "UPDATE feeds SET settings_json = ? WHERE id = ?",
                [json.dumps(settings, sort_keys=True), feed_id],
            )
        if status == "active":
            db.conn.execute(
                "UPDATE feeds SET status = 'active', disabled_reason = NULL, fail_count = 0,"
                " next_poll_at = NULL WHERE id = ? AND status != 'active'",
                [feed_id],
            )
        elif status is not None:
            db.conn.execute("UPDATE feeds SET status = ? WHERE id = ?", [status, feed_id])
        db.conn.execute("UPDATE feeds SET updated_at = ? WHERE id = ?", [ts(now), feed_id])
    return get_feed(db, feed_id)


def delete_feed(db: Database, feed_id: int) -> None:
    """The feed and, by cascade, its events, queued posts and poll log."""
    with write_transaction(db):
        db.conn.execute("DELETE FROM feeds WHERE id = ?", [feed_id])
