"""Copying one server's rows out of a database and into another (``seminar-bot export/import``).

Rows travel as column → value mappings with the feed named instead of numbered, because
feed ids are local to a file. Writing is ``INSERT OR IGNORE`` on each table's natural key
(feeds upsert on guild + name), so importing the same server twice changes nothing, and rows
the new process has moved on since (a sent post, a newer event state) are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.store.db import write_transaction
from bot.store.rows import Row, all_rows, one, ts

#: Tables whose rows belong to a feed, copied whole (their key includes the feed).
FEED_TABLES = ("events", "mirror_events", "weekly_digests", "talk_threads")
#: Outbox rows still to deliver travel; delivered history stays behind.
OPEN_OUTBOX = ("pending", "sending")
#: Feed columns that describe the server's choice, rewritten by a repeated import.
FEED_SETTINGS = ("url", "channel_id", "settings_json")
#: Nonce prefix of imported outbox rows, distinct from the ``ob<id>`` of rows made here.
IMPORTED_NONCE = "im"


def guild_ids(db: Database) -> list[int]:
    """Every server with a feed or a subscription in this database."""
    rows = all_rows(
        db,
        "SELECT guild_id FROM feeds UNION SELECT guild_id FROM subscriptions ORDER BY 1",
        [],
    )
    return [int(r["guild_id"]) for r in rows]


def _columns(db: Database, table: str) -> list[str]:
    return [str(r["name"]) for r in all_rows(db, f"PRAGMA table_info({table})", [])]


def _named(rows: Iterable[Row], names: dict[int, str], *, drop: tuple[str, ...] = ()) -> list[Row]:
    out = []
    for row in rows:
        item = {k: v for k, v in row.items() if k not in drop and k != "feed_id"}
        if "feed_id" in row:
            item["feed"] = names.get(row["feed_id"]) if row["feed_id"] is not None else None
        out.append(item)
    return out


def read_guild(db: Database, guild_id: int) -> dict[str, list[Row]]:
    """The server's rows by table (feed ids replaced by feed names)."""
    feeds = all_rows(db, "SELECT * FROM feeds WHERE guild_id = ? ORDER BY name", [guild_id])
    names = {int(f["id"]): str(f["name"]) for f in feeds}
    marks = ",".join("?" * len(names)) or "NULL"
    ids = list(names)
    data: dict[str, list[Row]] = {
        "feeds": [{k: v for k, v in f.items() if k != "id"} for f in feeds]
    }
    for table in FEED_TABLES:
        rows = all_rows(db, f"SELECT * FROM {table} WHERE feed_id IN ({marks})", ids)
        data[table] = _named(rows, names)
    data["announcements"] = all_rows(
        db,
        f"SELECT * FROM announcements WHERE announcement_id IN"
        f" (SELECT announcement_id FROM events WHERE feed_id IN ({marks}))",
        ids,
    )
    data["attendance_cards"] = all_rows(
        db,
        f"SELECT * FROM attendance_cards WHERE announcement_id IN"
        f" (SELECT announcement_id FROM events WHERE feed_id IN ({marks}))",
        ids,
    )
    subs = all_rows(db, "SELECT * FROM subscriptions WHERE guild_id = ? ORDER BY id", [guild_id])
    # Subscription ids travel so attendance can name the reminder going created; the
    # importing file gives each subscription a new id.
    data["subscriptions"] = _named(subs, names)
    going = all_rows(db, "SELECT * FROM attendance WHERE guild_id = ?", [guild_id])
    data["attendance"] = _named(going, names)
    data["attendance_settings"] = all_rows(
        db, "SELECT * FROM attendance_settings WHERE guild_id = ?", [guild_id]
    )
    outbox = all_rows(
        db,
        f"SELECT * FROM outbox WHERE feed_id IN ({marks}) AND state IN ('pending', 'sending')"
        " ORDER BY id",
        ids,
    )
    data["outbox"] = _named(outbox, names, drop=("id",))
    return data


def _insert(db: Database, table: str, row: Row, known: set[str], *, verb: str) -> int:
    """One row, with only the columns this database knows; returns the new rowid or 0."""
    cols = [c for c in row if c in known]
    cursor = db.conn.execute(
        f"{verb} INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [row[c] for c in cols],
    )
    return int(cursor.lastrowid or 0) if cursor.rowcount == 1 else 0


def write_guild(db: Database, guild_id: int, data: dict[str, list[Row]], *, now: datetime) -> int:
    """Merge one server's rows in one transaction; returns how many rows were new."""
    added = 0
    with write_transaction(db):
        feed_ids = _write_feeds(db, guild_id, data.get("feeds", []), now=now)

        def with_feed(row: Row) -> Row | None:
            item = {k: v for k, v in row.items() if k != "feed"}
            name = row.get("feed")
            if name is None:
                item["feed_id"] = None
                return item
            if name not in feed_ids:
                return None
            item["feed_id"] = feed_ids[name]
            return item

        for table in FEED_TABLES:
            known = set(_columns(db, table))
            for row in data.get(table, []):
                item = with_feed(row)
                if item is not None:
                    added += bool(_insert(db, table, item, known, verb="INSERT OR IGNORE"))
        for table in ("announcements", "attendance_cards"):
            known = set(_columns(db, table))
            for row in data.get(table, []):
                added += bool(_insert(db, table, row, known, verb="INSERT OR IGNORE"))
        new_ids: dict[int, int] = {}
        known = set(_columns(db, "subscriptions")) - {"id"}
        for row in data.get("subscriptions", []):
            item = with_feed(row)
            if item is not None:
                item["guild_id"] = guild_id
                rowid = _insert(db, "subscriptions", item, known, verb="INSERT OR IGNORE")
                if rowid and row.get("id") is not None:
                    new_ids[int(row["id"])] = rowid
                added += bool(rowid)
        added += _write_attendance(db, guild_id, data, new_ids, with_feed)
        added += _write_outbox(db, data.get("outbox", []), feed_ids, with_feed)
    return added


def _write_attendance(
    db: Database, guild_id: int, data: dict[str, list[Row]], new_ids: dict[int, int], with_feed: Any
) -> int:
    """Who is going, pointing at the reminders going created under their new ids (a reminder
    already imported before keeps the link it was given then)."""
    added = 0
    known = set(_columns(db, "attendance"))
    for row in data.get("attendance", []):
        item = with_feed(row)
        if item is None or item["feed_id"] is None:
            continue
        item["guild_id"] = guild_id
        old = item.get("subscription_id")
        item["subscription_id"] = new_ids.get(int(old)) if old is not None else None
        added += bool(_insert(db, "attendance", item, known, verb="INSERT OR IGNORE"))
    known = set(_columns(db, "attendance_settings"))
    for row in data.get("attendance_settings", []):
        item = {**row, "guild_id": guild_id}
        added += bool(_insert(db, "attendance_settings", item, known, verb="INSERT OR IGNORE"))
    return added


def _write_feeds(db: Database, guild_id: int, feeds: list[Row], *, now: datetime) -> dict[str, int]:
    known = set(_columns(db, "feeds")) - {"id"}
    for feed in feeds:
        item = {k: v for k, v in feed.items() if k in known}
        item["guild_id"] = guild_id
        existing = one(
            db, "SELECT id FROM feeds WHERE guild_id = ? AND name = ?", [guild_id, item["name"]]
        )
        if existing is None:
            _insert(db, "feeds", item, known, verb="INSERT")
            continue
        changes = {c: item[c] for c in FEED_SETTINGS if c in item}
        sets = ", ".join(f"{c} = ?" for c in changes)
        db.conn.execute(
            f"UPDATE feeds SET {sets}, updated_at = ? WHERE id = ?",
            [*changes.values(), ts(now), existing["id"]],
        )
    rows = all_rows(db, "SELECT id, name FROM feeds WHERE guild_id = ?", [guild_id])
    return {str(r["name"]): int(r["id"]) for r in rows}


def _write_outbox(db: Database, rows: list[Row], feed_ids: dict[str, int], with_feed: Any) -> int:
    """Open posts, keyed anew for this file; a post in flight keeps its nonce (Discord dedupes)."""
    known = set(_columns(db, "outbox")) - {"id"}
    added = 0
    for row in rows:
        item = with_feed(row)
        if item is None or item["feed_id"] is None:
            continue
        suffix = str(item["idem_key"]).partition(":")[2]
        item["idem_key"] = f"{item['feed_id']}:{suffix}"
        rowid = _insert(db, "outbox", item, known, verb="INSERT OR IGNORE")
        if rowid and item.get("state") != "sending":
            db.conn.execute(
                "UPDATE outbox SET nonce = ? WHERE id = ?", [f"{IMPORTED_NONCE}{rowid}", rowid]
            )
        added += bool(rowid)
    return added
