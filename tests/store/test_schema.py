"""The schema as migrations build it, and how the database is opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.store.db import DatabaseCorrupt, backup_database, open_database
from bot.store.feeds import upsert_feed
from bot.store.migrations import MIGRATIONS

EXPECTED = {
    "feeds": {
        "id": int, "guild_id": int, "name": str, "url": str, "channel_id": int,
        "settings_json": str, "status": str, "disabled_reason": str, "etag": str,
        "last_modified": str, "body_hash": str, "fail_count": int, "last_error": str,
        "last_error_reason": str, "last_poll_at": str, "last_ok_at": str, "next_poll_at": str,
        "skipped_count": int, "baseline_done": int, "created_at": str, "updated_at": str,
        "deferred_announcements": int,
    },
    "events": {
        "feed_id": int, "uid": str, "recurrence_id": str, "occurrence_json": str,
        "fingerprint": str, "state": str, "start_utc": str, "end_utc": str, "all_day": int,
        "missing_count": int, "missing_since": str, "announcement_id": str, "revision": int,
        "first_seen": str, "last_seen": str,
    },
    "outbox": {
        "id": int, "idem_key": str, "feed_id": int, "kind": str, "announcement_id": str,
        "event_key": str, "payload_json": str, "state": str, "attempts": int,
        "next_attempt_at": str, "nonce": str, "discord_message_id": int, "last_error": str,
        "created_at": str, "updated_at": str,
    },
    "announcements": {
        "announcement_id": str, "channel_id": int, "message_id": int, "state": str,
        "updated_at": str,
    },
    "poll_log": {
        "id": int, "feed_id": int, "at": str, "outcome": str, "reason": str, "detail": str,
        "events": int, "actions": int,
    },
}  # fmt: skip


def test_migrations_from_blank_build_the_expected_tables() -> None:
    db = open_database(None)
    for table, columns in EXPECTED.items():
        assert db[table].columns_dict == columns, table  # type: ignore[union-attr]
    assert db["events"].pks == ["feed_id", "uid", "recurrence_id"]  # type: ignore[union-attr]
    # A feed's events by start: an index leading with these columns serves it.
    assert ["feed_id", "start_utc"] in [i.columns[:2] for i in db["events"].indexes]  # type: ignore[union-attr]
    assert [m.name for m in MIGRATIONS.pending(db)] == []


def test_file_database_is_wal_full_sync_with_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.db")
    pragma = {
        name: db.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
    }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "busy_timeout": 5000,
        "foreign_keys": 1,
    }
    db.close()
    # Reopening applies nothing twice.
    again = open_database(tmp_path / "bot.db")
    names = [row["name"] for row in again["_sqlite_migrations"].rows]
    assert len(names) == len(set(names)) == len(list(MIGRATIONS._migrations))  # type: ignore[attr-defined]


def test_a_failing_migration_rolls_back_and_stays_pending(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = open_database(path)
    upsert_feed(db, name="jhu", url="https://example.edu/events/?ical=1")
    db.close()

    broken = Migrations(MIGRATIONS.name)
    for migration in MIGRATIONS._migrations:
        broken(name=migration.name)(migration.fn)

    @broken()
    def m999_half_done(db: Database) -> None:
        """A change that fails half way."""
        db.execute("CREATE TABLE half_done (id INTEGER PRIMARY KEY)")
        db.execute("ALTER TABLE feeds ADD COLUMN doomed TEXT")
        raise RuntimeError("disk said no")

    with pytest.raises(RuntimeError, match="disk said no"):
        open_database(path, migrations=broken)

    db = open_database(path)
    assert "half_done" not in db.table_names()
    assert "doomed" not in db["feeds"].columns_dict  # type: ignore[union-attr]
    assert [m.name for m in broken.pending(db)] == ["m999_half_done"]
    assert db.execute("SELECT count(*) FROM feeds").fetchone()[0] == 1


def test_backup_copy_has_the_same_rows(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.db")
    for i in range(3):
        upsert_feed(db, name=f"feed{i}", url=f"https://example.edu/{i}.ics")
    backup_database(db, tmp_path / "copy.db")
    copy = open_database(tmp_path / "copy.db")
    for table in EXPECTED:
        assert copy[table].count == db[table].count, table  # type: ignore[union-attr]
    assert copy["feeds"].count == 3  # type: ignore[union-attr]


def test_a_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = open_database(path)
    for i in range(200):
        upsert_feed(db, name=f"feed{i}", url=f"https://example.edu/{i}.ics" + "x" * 200)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    for offset in range(4096 * 2, len(data), 4096):  # scribble over every page header but page 1
        data[offset : offset + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseCorrupt):
        open_database(path)
