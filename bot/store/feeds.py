"""The ``feeds`` table: every read and write of a feed's row, from creation to removal.

A feed is created from the config file (``upsert_feed``) or from ``/feeds add``
(``create_feed``), changed by ``/feeds settings`` (``update_feed``, ``set_feed_setting``),
disabled when it keeps failing or its channel or server is gone (``disable_feed*``) and removed
with ``delete_feed``. Its health fields are written with each poll, in ``bot.store.events``.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.store.db import write_transaction
from bot.store.rows import Row, all_rows, dt, one, opt_dt, ts, wall_clock


class FeedStatus(enum.StrEnum):
    """``feeds.status``: only active and suspect feeds are polled and delivered."""

    ACTIVE = "active"
    #: The last poll held its changes back (most upcoming events vanished at once).
    SUSPECT = "suspect"
    PAUSED = "paused"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class FeedRow:
    id: int
    guild_id: int
    name: str
    url: str
    channel_id: int | None
    settings: dict[str, Any]
    status: FeedStatus
    disabled_reason: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    fail_count: int
    last_error: str | None
    last_error_reason: str | None
    last_poll_at: datetime | None
    last_ok_at: datetime | None
    next_poll_at: datetime | None
    skipped_count: int
    baseline_done: bool
    created_at: datetime
    updated_at: datetime
    #: Due announcements the last poll held back for the per-poll budget (still pending).
    deferred_announcements: int = 0

    @classmethod
    def from_row(cls, row: Row) -> FeedRow:
        return cls(
            id=int(row["id"]),
            guild_id=int(row["guild_id"]),
            name=str(row["name"]),
            url=str(row["url"]),
            channel_id=row["channel_id"],
            settings=json.loads(row["settings_json"] or "{}"),
            status=FeedStatus(row["status"]),
            disabled_reason=row["disabled_reason"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            body_hash=row["body_hash"],
            fail_count=int(row["fail_count"]),
            last_error=row["last_error"],
            last_error_reason=row["last_error_reason"],
            last_poll_at=opt_dt(row["last_poll_at"]),
            last_ok_at=opt_dt(row["last_ok_at"]),
            next_poll_at=opt_dt(row["next_poll_at"]),
            skipped_count=int(row["skipped_count"]),
            baseline_done=bool(row["baseline_done"]),
            created_at=dt(row["created_at"]),
            updated_at=dt(row["updated_at"]),
            deferred_announcements=int(row.get("deferred_announcements") or 0),
        )


def get_feed(db: Database, feed_id: int) -> FeedRow | None:
    row = one(db, "SELECT * FROM feeds WHERE id = ?", [feed_id])
    return FeedRow.from_row(row) if row else None


def require_feed(db: Database, feed_id: int) -> FeedRow:
    feed = get_feed(db, feed_id)
    if feed is None:
        raise KeyError(f"no feed {feed_id}")
    return feed


def get_feed_by_name(db: Database, name: str, guild_id: int = 0) -> FeedRow | None:
    row = one(db, "SELECT * FROM feeds WHERE guild_id = ? AND name = ?", [guild_id, name])
    return FeedRow.from_row(row) if row else None


def list_feeds(db: Database, guild_id: int | None = None) -> list[FeedRow]:
    if guild_id is None:
        rows = all_rows(db, "SELECT * FROM feeds ORDER BY guild_id, name", [])
    else:
        rows = all_rows(db, "SELECT * FROM feeds WHERE guild_id = ? ORDER BY name", [guild_id])
    return [FeedRow.from_row(r) for r in rows]


def upsert_feed(
    db: Database,
    *,
    name: str,
    url: str,
    guild_id: int = 0,
    channel_id: int | None = None,
    settings: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> FeedRow:
    """Create the feed, or change its URL/channel/settings keeping its state and events.

    A new URL drops the cache validators: another server's (or file's) ETag or date says
    nothing about it, and sending them could make it answer "not modified" wrongly.
    """
    stamp = ts(wall_clock(now))
    settings_json = json.dumps(settings or {}, sort_keys=True)
    with write_transaction(db):
        db.conn.execute(
            """
            INSERT INTO feeds (guild_id, name, url, channel_id, settings_json,
                               created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (guild_id, name) DO UPDATE SET
                etag = CASE WHEN url = excluded.url THEN etag END,
                last_modified = CASE WHEN url = excluded.url THEN last_modified END,
                body_hash = CASE WHEN url = excluded.url THEN body_hash END,
                url = excluded.url,
                channel_id = excluded.channel_id,
                settings_json = excluded.settings_json,
                updated_at = excluded.updated_at
            """,
            [guild_id, name, url, channel_id, settings_json, stamp, stamp],
        )
    feed = get_feed_by_name(db, name, guild_id)
    assert feed is not None
    return feed


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
    status: FeedStatus | None = None,
) -> FeedRow | None:
    """Change only what is given; setting ``status`` to active also clears the failure run."""
    with write_transaction(db):
        if channel_id is not None:
            db.conn.execute("UPDATE feeds SET channel_id = ? WHERE id = ?", [channel_id, feed_id])
        if settings is not None:
            db.conn.execute(
                "UPDATE feeds SET settings_json = ? WHERE id = ?",
                [json.dumps(settings, sort_keys=True), feed_id],
            )
        if status == FeedStatus.ACTIVE:
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


def set_feed_setting(db: Database, feed_id: int, key: str, value: Any, *, now: datetime) -> None:
    """Change one key of a feed's settings (e.g. switch the mirror off after a 403)."""
    with write_transaction(db):
        row = db.conn.execute("SELECT settings_json FROM feeds WHERE id = ?", [feed_id]).fetchone()
        if row is None:
            return
        data = json.loads(row[0] or "{}")
        data[key] = value
        db.conn.execute(
            "UPDATE feeds SET settings_json = ?, updated_at = ? WHERE id = ?",
            [json.dumps(data, sort_keys=True), ts(now), feed_id],
        )
