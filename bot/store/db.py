"""Opening the database durably, writing transactions that cannot hit the deferred-BEGIN trap,
and online backups (docs/reliability.md, rule 12)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.errors import SeminarBotError
from bot.store.migrations import MIGRATIONS, apply_migrations

BUSY_TIMEOUT_MS = 5000


class DatabaseCorrupt(SeminarBotError):
    """``PRAGMA quick_check`` failed: refuse to run on a damaged file (restore a backup)."""

    reason = "database_corrupt"


def _configure(db: Database, *, wal: bool) -> None:
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys=ON")
    if wal:
        # Persistent, and impossible inside a transaction: do it before anything else.
        db.enable_wal()
    # Per connection; FULL so a power loss cannot un-commit a "sent" mark.
    db.execute("PRAGMA synchronous=FULL")


def quick_check(db: Database) -> str:
    rows = db.execute("PRAGMA quick_check").fetchall()
    return "; ".join(str(r[0]) for r in rows)


def open_database(
    path: str | os.PathLike[str] | None, *, migrations: Migrations = MIGRATIONS
) -> Database:
    """Open (creating if needed) and migrate; ``None`` gives a private in-memory database.

    The connection belongs to the calling thread: open it on the thread that will use it.
    """
    if path is None:
        conn = sqlite3.connect(":memory:", timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        conn = sqlite3.connect(os.fspath(path), timeout=BUSY_TIMEOUT_MS / 1000)
    db = Database(conn)
    try:
        try:
            _configure(db, wal=path is not None)
            result = quick_check(db)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:  # "malformed", "not a database"
            raise DatabaseCorrupt(f"database unreadable: {exc}") from exc
        if result != "ok":
            raise DatabaseCorrupt(f"database failed quick_check: {result[:500]}")
        apply_migrations(db, migrations)
    except BaseException:
        conn.close()
        raise
    return db


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """``BEGIN IMMEDIATE`` … COMMIT, ROLLBACK on any exception.

    IMMEDIATE takes the write lock up front, so a busy database is waited for (busy_timeout)
    instead of failing at the read→write upgrade as a deferred ``db.atomic()`` can.
    """
    if db.conn.in_transaction:
        raise RuntimeError("write_transaction does not nest")
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        try:
            db.conn.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise


def backup_database(db: Database, dest_path: str | os.PathLike[str]) -> None:
    """Consistent online copy (never ``cp`` a live WAL database)."""
    dest = sqlite3.connect(os.fspath(dest_path))
    try:
        db.conn.backup(dest)
    finally:
        dest.close()


def integrity_check(db: Database) -> str:
    rows = db.execute("PRAGMA integrity_check").fetchall()
    return "; ".join(str(r[0]) for r in rows)
