"""A feed's stored events kept in memory between polls, so a poll does not decode every row.

Only the database thread touches it. Each entry remembers the feed's ``event_versions``
counter, which triggers bump on any write to ``events`` from any connection; an entry whose
counter no longer matches is dropped, so the copy is always what the table holds.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from sqlite_utils import Database

from bot.core.diff import StoredEvent, StoredIndex
from bot.core.models import OccurrenceKey


@dataclass(slots=True)
class CachedEvents:
    version: int
    #: Sorted like ``load_events``; the objects are shared, never mutated (they are frozen).
    events: list[StoredEvent]
    by_key: dict[OccurrenceKey, StoredEvent]
    #: Built on the first poll that diffs against this copy, then patched poll by poll; its
    #: ``events`` and ``by_key`` are the two above.
    index: StoredIndex | None = None


_CACHES: weakref.WeakKeyDictionary[Database, dict[int, CachedEvents]] = weakref.WeakKeyDictionary()


def events_version(db: Database, feed_id: int) -> int:
    row = db.conn.execute(
        "SELECT version FROM event_versions WHERE feed_id = ?", [feed_id]
    ).fetchone()
    return int(row[0]) if row else 0


def _entries(db: Database) -> dict[int, CachedEvents]:
    entries = _CACHES.get(db)
    if entries is None:
        entries = _CACHES[db] = {}
    return entries


def cached(db: Database, feed_id: int) -> CachedEvents | None:
    """The feed's events if the copy is current, else ``None`` (and the copy is dropped)."""
    entries = _entries(db)
    entry = entries.get(feed_id)
    if entry is None:
        return None
    if entry.version != events_version(db, feed_id):
        del entries[feed_id]
        return None
    return entry


def remember(db: Database, feed_id: int, entry: CachedEvents) -> None:
    _entries(db)[feed_id] = entry


def take(db: Database, feed_id: int) -> CachedEvents | None:
    """Remove and return a current entry: a writer owns it until it puts a new one back."""
    entry = cached(db, feed_id)
    _entries(db).pop(feed_id, None)
    return entry
