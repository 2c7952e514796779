"""Typed reads and writes over the schema. Every multi-row write is one ``BEGIN IMMEDIATE``.

The poller's path is ``load_events`` → ``diff_feed`` → ``save_poll_result``; the diff and the
outbox rows it causes commit together or not at all (docs/reliability.md, rule 3).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.core.diff import DiffResult, EventState, PlannedAction, StoredEvent
from bot.core.models import Action, Occurrence, OccurrenceKey, sort_key
from bot.store import event_cache
from bot.store.db import write_transaction

#: poll_log rows kept per feed.
POLL_LOG_KEEP = 100


def ts(value: datetime) -> str:
    """Fixed-width UTC ISO, so stored timestamps sort and compare as text."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"stored timestamp without offset: {value!r}")
    return parsed.astimezone(UTC)


def _req_dt(value: str) -> datetime:
    parsed = _dt(value)
    assert parsed is not None
    return parsed


def _wall_clock(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


# --- feeds --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedRow:
    id: int
    guild_id: int
    name: str
    url: str
    channel_id: int | None
    settings: dict[str, Any]
    status: str
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
    def from_row(cls, row: dict[str, Any]) -> FeedRow:
        return cls(
            id=int(row["id"]),
            guild_id=int(row["guild_id"]),
            name=str(row["name"]),
            url=str(row["url"]),
            channel_id=row["channel_id"],
            settings=json.loads(row["settings_json"] or "{}"),
            status=str(row["status"]),
            disabled_reason=row["disabled_reason"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            body_hash=row["body_hash"],
            fail_count=int(row["fail_count"]),
            last_error=row["last_error"],
            last_error_reason=row["last_error_reason"],
            last_poll_at=_dt(row["last_poll_at"]),
            last_ok_at=_dt(row["last_ok_at"]),
            next_poll_at=_dt(row["next_poll_at"]),
            skipped_count=int(row["skipped_count"]),
            baseline_done=bool(row["baseline_done"]),
            created_at=_req_dt(row["created_at"]),
            updated_at=_req_dt(row["updated_at"]),
            deferred_announcements=int(row.get("deferred_announcements") or 0),
        )


def _one(db: Database, sql: str, params: list[Any]) -> dict[str, Any] | None:
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def _all(db: Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def get_feed(db: Database, feed_id: int) -> FeedRow | None:
    row = _one(db, "SELECT * FROM feeds WHERE id = ?", [feed_id])
    return FeedRow.from_row(row) if row else None


def _feed(db: Database, feed_id: int) -> FeedRow:
    feed = get_feed(db, feed_id)
    if feed is None:
        raise KeyError(f"no feed {feed_id}")
    return feed


def get_feed_by_name(db: Database, name: str, guild_id: int = 0) -> FeedRow | None:
    row = _one(db, "SELECT * FROM feeds WHERE guild_id = ? AND name = ?", [guild_id, name])
    return FeedRow.from_row(row) if row else None


def list_feeds(db: Database, guild_id: int | None = None) -> list[FeedRow]:
    if guild_id is None:
        rows = _all(db, "SELECT * FROM feeds ORDER BY guild_id, name", [])
    else:
        rows = _all(db, "SELECT * FROM feeds WHERE guild_id = ? ORDER BY name", [guild_id])
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
    stamp = ts(_wall_clock(now))
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


# --- events -------------------------------------------------------------------------------


def _event_from_row(row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        occurrence=Occurrence.from_dict(json.loads(row["occurrence_json"])),
        fingerprint=str(row["fingerprint"]),
        state=EventState(row["state"]),
        first_seen=_req_dt(row["first_seen"]),
        last_seen=_req_dt(row["last_seen"]),
        missing_count=int(row["missing_count"]),
        missing_since=_dt(row["missing_since"]),
        announcement_id=str(row["announcement_id"]),
        revision=int(row["revision"]),
    )


def load_events(db: Database, feed_id: int) -> list[StoredEvent]:
    """The feed's events, soonest first; from memory while no one else wrote them."""
    entry = event_cache.cached(db, feed_id)
    if entry is not None:
        return list(entry.events)
    version = event_cache.events_version(db, feed_id)
    rows = _all(db, "SELECT * FROM events WHERE feed_id = ?", [feed_id])
    events = [_event_from_row(r) for r in rows]
    del rows
    events.sort(key=lambda e: (sort_key(e.occurrence.start), e.key))
    by_key = {e.key: e for e in events}
    event_cache.remember(db, feed_id, event_cache.CachedEvents(version, events, by_key))
    return list(events)


def _upsert_events(db: Database, feed_id: int, events: Sequence[StoredEvent]) -> None:
    # In chunks: a first poll of a huge feed must not hold every row's JSON at once.
    for index in range(0, len(events), _UPSERT_CHUNK):
        _upsert_chunk(db, feed_id, events[index : index + _UPSERT_CHUNK])


_UPSERT_CHUNK = 1000


def _upsert_chunk(db: Database, feed_id: int, events: Sequence[StoredEvent]) -> None:
    rows = []
    for e in events:
        occ = e.occurrence
        end = sort_key(occ.end) if occ.end is not None else None
        rows.append(
            [
                feed_id,
                occ.key.uid,
                occ.key.recurrence_id,
                json.dumps(occ.to_dict(), sort_keys=True, ensure_ascii=False),
                e.fingerprint,
                e.state.value,
                ts(sort_key(occ.start)),
                ts(end) if end is not None else None,
                int(occ.all_day),
                e.missing_count,
                ts(e.missing_since) if e.missing_since else None,
                e.announcement_id,
                e.revision,
                ts(e.first_seen),
                ts(e.last_seen),
            ]
        )
    db.conn.executemany(
        """
        INSERT INTO events (feed_id, uid, recurrence_id, occurrence_json, fingerprint, state,
                            start_utc, end_utc, all_day, missing_count, missing_since,
                            announcement_id, revision, first_seen, last_seen)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (feed_id, uid, recurrence_id) DO UPDATE SET
            occurrence_json = excluded.occurrence_json,
            fingerprint = excluded.fingerprint,
            state = excluded.state,
            start_utc = excluded.start_utc,
            end_utc = excluded.end_utc,
            all_day = excluded.all_day,
            missing_count = excluded.missing_count,
            missing_since = excluded.missing_since,
            announcement_id = excluded.announcement_id,
            revision = excluded.revision,
            first_seen = excluded.first_seen,
            last_seen = excluded.last_seen
        """,
        rows,
    )


def has_due_pending(db: Database, feed_id: int, *, now: datetime, horizon: datetime) -> bool:
    """True when a stored, not yet announced event has entered the announce window.

    Errs on the side of True by up to a day for events without an end (an extra download at
    worst), never on the side of False (an announcement never made).
    """
    row = _one(
        db,
        """
        SELECT 1 FROM events
        WHERE feed_id = ? AND state = 'pending' AND start_utc <= ?
          AND COALESCE(end_utc, start_utc) > ?
        LIMIT 1
        """,
        [feed_id, ts(horizon), ts(now - timedelta(days=1))],
    )
    return row is not None


def _delete_events(db: Database, feed_id: int, keys: tuple[OccurrenceKey, ...]) -> None:
    db.conn.executemany(
        "DELETE FROM events WHERE feed_id = ? AND uid = ? AND recurrence_id = ?",
        [[feed_id, k.uid, k.recurrence_id] for k in keys],
    )


# --- outbox -------------------------------------------------------------------------------


def idem_key(feed_id: int, planned: PlannedAction) -> str:
    return f"{feed_id}:{planned.idem_suffix}"


def _insert_outbox_rows(
    db: Database, feed_id: int, planned: tuple[PlannedAction, ...], now: datetime
) -> list[int]:
    """INSERT OR IGNORE on idem_key: re-running the same diff queues nothing new."""
    stamp = ts(now)
    ids: list[int] = []
    for item in planned:
        cursor = db.conn.execute(
            """
            INSERT OR IGNORE INTO outbox (idem_key, feed_id, kind, announcement_id, event_key,
                                          payload_json, state, attempts, next_attempt_at,
                                          created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
            """,
            [
                idem_key(feed_id, item),
                feed_id,
                item.action.kind.value,
                item.announcement_id,
                item.action.key.to_string(),
                json.dumps(item.action.to_dict(), sort_keys=True, ensure_ascii=False),
                stamp,
                stamp,
                stamp,
            ],
        )
        if cursor.rowcount == 1 and cursor.lastrowid is not None:
            row_id = int(cursor.lastrowid)
            # Deterministic Discord nonce (≤ 25 chars): a resend after a crash reuses it.
            db.conn.execute("UPDATE outbox SET nonce = ? WHERE id = ?", [f"ob{row_id}", row_id])
            ids.append(row_id)
    return ids


def _log_poll(
    db: Database,
    feed_id: int,
    *,
    now: datetime,
    outcome: str,
    reason: str | None = None,
    detail: str | None = None,
    events: int | None = None,
    actions: int | None = None,
) -> None:
    db.conn.execute(
        "INSERT INTO poll_log (feed_id, at, outcome, reason, detail, events, actions)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [feed_id, ts(now), outcome, reason, detail, events, actions],
    )
    db.conn.execute(
        """
        DELETE FROM poll_log WHERE feed_id = ? AND id NOT IN (
            SELECT id FROM poll_log WHERE feed_id = ? ORDER BY id DESC LIMIT ?)
        """,
        [feed_id, feed_id, POLL_LOG_KEEP],
    )


def save_poll_result(
    db: Database,
    feed_id: int,
    result: DiffResult,
    *,
    now: datetime,
    etag: str | None,
    last_modified: str | None,
    body_hash: str | None,
    next_poll_at: datetime | None = None,
) -> list[int]:
    """Persist a successful poll atomically; returns the ids of newly queued outbox rows.

    Events the diff handed back untouched (the very objects ``load_events`` returned) are not
    written again: on a large feed that is nearly every row.
    """
    with write_transaction(db):
        prior = event_cache.take(db, feed_id)
        if prior is None:
            fresh: Sequence[StoredEvent] = result.events
            changed = fresh
        else:
            known = {id(e) for e in prior.events}
            fresh = [e for e in result.events if id(e) not in known]
            before = prior.by_key
            # New objects equal to the stored row (a diff adopting the parse's own occurrence
            # object) have nothing to write.
            changed = [e for e in fresh if before.get(e.key) != e]
        _upsert_events(db, feed_id, changed)
        _delete_events(db, feed_id, result.removed)
        ids = _insert_outbox_rows(db, feed_id, result.planned, now)
        db.conn.execute(
            """
            UPDATE feeds SET
                fail_count = 0, last_error = NULL, last_error_reason = NULL,
                last_poll_at = ?, last_ok_at = ?, next_poll_at = COALESCE(?, next_poll_at),
                etag = ?, last_modified = ?, body_hash = ?, skipped_count = ?,
                deferred_announcements = CASE WHEN ? THEN deferred_announcements ELSE ? END,
                baseline_done = 1, updated_at = ?,
                status = CASE WHEN status IN ('active', 'suspect') THEN ? ELSE status END
            WHERE id = ?
            """,
            [
                ts(now),
                ts(now),
                ts(next_poll_at) if next_poll_at else None,
                etag,
                last_modified,
                body_hash,
                result.skipped_count,
                result.suspect,  # a held poll changes nothing, this count included
                len(result.over_cap),
                ts(now),
                "suspect" if result.suspect else "active",
                feed_id,
            ],
        )
        _log_poll(
            db,
            feed_id,
            now=now,
            outcome="suspect" if result.suspect else "ok",
            reason="mass_drop" if result.suspect else None,
            detail=result.suspect_reason or json.dumps(result.counts.to_dict(), sort_keys=True),
            events=result.parsed_count,
            actions=len(result.planned),
        )
        version = event_cache.events_version(db, feed_id)
    if prior is not None:
        by_key = prior.by_key
        for event in fresh:
            by_key[event.key] = event
        for key in result.removed:
            by_key.pop(key, None)
        if len(by_key) == len(result.events):  # the result is the feed's whole next state
            event_cache.remember(
                db, feed_id, event_cache.CachedEvents(version, list(result.events), by_key)
            )
    return ids


def record_poll_failure(
    db: Database,
    feed_id: int,
    *,
    now: datetime,
    reason: str,
    message: str,
    next_poll_at: datetime | None,
) -> FeedRow:
    """A failed poll changes no event (rule 1): only the feed's health fields."""
    with write_transaction(db):
        db.conn.execute(
            """
            UPDATE feeds SET fail_count = fail_count + 1, last_error = ?, last_error_reason = ?,
                last_poll_at = ?, next_poll_at = ?, updated_at = ?
            WHERE id = ?
            """,
            [
                message[:1000],
                reason,
                ts(now),
                ts(next_poll_at) if next_poll_at else None,
                ts(now),
                feed_id,
            ],
        )
        _log_poll(db, feed_id, now=now, outcome="error", reason=reason, detail=message[:1000])
    return _feed(db, feed_id)


def record_not_modified(
    db: Database, feed_id: int, *, now: datetime, next_poll_at: datetime | None
) -> FeedRow:
    """A 304 (or an unchanged body) is a success without a diff."""
    with write_transaction(db):
        db.conn.execute(
            """
            UPDATE feeds SET fail_count = 0, last_error = NULL, last_error_reason = NULL,
                last_poll_at = ?, last_ok_at = ?, next_poll_at = ?, updated_at = ?
            WHERE id = ?
            """,
            [ts(now), ts(now), ts(next_poll_at) if next_poll_at else None, ts(now), feed_id],
        )
        _log_poll(db, feed_id, now=now, outcome="not_modified")
    return _feed(db, feed_id)


@dataclass(frozen=True, slots=True)
class PollLogRow:
    feed_id: int
    at: datetime
    outcome: str
    reason: str | None
    detail: str | None
    events: int | None
    actions: int | None


def recent_polls(db: Database, feed_id: int, limit: int = 20) -> list[PollLogRow]:
    rows = _all(
        db,
        "SELECT * FROM poll_log WHERE feed_id = ? ORDER BY id DESC LIMIT ?",
        [feed_id, limit],
    )
    return [
        PollLogRow(
            feed_id=int(r["feed_id"]),
            at=_req_dt(r["at"]),
            outcome=str(r["outcome"]),
            reason=r["reason"],
            detail=r["detail"],
            events=r["events"],
            actions=r["actions"],
        )
        for r in rows
    ]


# --- outbox reading and state transitions ----------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    idem_key: str
    feed_id: int | None
    kind: str
    announcement_id: str | None
    event_key: str | None
    action: Action
    state: str
    attempts: int
    next_attempt_at: datetime | None
    nonce: str | None
    discord_message_id: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OutboxRow:
        return cls(
            id=int(row["id"]),
            idem_key=str(row["idem_key"]),
            feed_id=row["feed_id"],
            kind=str(row["kind"]),
            announcement_id=row["announcement_id"],
            event_key=row["event_key"],
            action=Action.from_dict(json.loads(row["payload_json"])),
            state=str(row["state"]),
            attempts=int(row["attempts"]),
            next_attempt_at=_dt(row["next_attempt_at"]),
            nonce=row["nonce"],
            discord_message_id=row["discord_message_id"],
            last_error=row["last_error"],
            created_at=_req_dt(row["created_at"]),
            updated_at=_req_dt(row["updated_at"]),
        )


def get_outbox_row(db: Database, row_id: int) -> OutboxRow | None:
    row = _one(db, "SELECT * FROM outbox WHERE id = ?", [row_id])
    return OutboxRow.from_row(row) if row else None


def list_outbox(db: Database, feed_id: int | None = None) -> list[OutboxRow]:
    if feed_id is None:
        rows = _all(db, "SELECT * FROM outbox ORDER BY id", [])
    else:
        rows = _all(db, "SELECT * FROM outbox WHERE feed_id = ? ORDER BY id", [feed_id])
    return [OutboxRow.from_row(r) for r in rows]



def claim_outbox_row(db: Database, row_id: int, *, now: datetime) -> OutboxRow | None:
    """pending → sending (attempts + 1), committed before the POST; None if not claimable."""
    with write_transaction(db):
        cursor = db.conn.execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?"
            " WHERE id = ? AND state = 'pending'",
            [ts(now), row_id],
        )
        claimed = cursor.rowcount == 1
    return get_outbox_row(db, row_id) if claimed else None


def mark_outbox_sent(db: Database, row_id: int, message_id: int | None, *, now: datetime) -> None:
    with write_transaction(db):
        db.conn.execute(
            "UPDATE outbox SET state = 'sent', discord_message_id = ?, last_error = NULL,"
            " updated_at = ? WHERE id = ?",
            [message_id, ts(now), row_id],
        )


def mark_outbox_failed(
    db: Database,
    row_id: int,
    error: str,
    next_attempt_at: datetime | None,
    dead: bool,
    *,
    now: datetime,
) -> None:
    """Back to pending for a retry at ``next_attempt_at``, or dead for good."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE outbox SET state = ?, last_error = ?, next_attempt_at = ?, updated_at = ?"
            " WHERE id = ?",
            [
                "dead" if dead else "pending",
                error[:1000],
                ts(next_attempt_at) if next_attempt_at else None,
                ts(now),
                row_id,
            ],
        )


# --- announcements ------------------------------------------------------------------------


def get_announcement_message(db: Database, announcement_id: str, channel_id: int) -> int | None:
    row = _one(
        db,
        "SELECT message_id FROM announcements WHERE announcement_id = ? AND channel_id = ?",
        [announcement_id, channel_id],
    )
    return None if row is None or row["message_id"] is None else int(row["message_id"])


def set_announcement_message(
    db: Database,
    announcement_id: str,
    channel_id: int,
    message_id: int | None,
    *,
    state: str = "posted",
    now: datetime,
) -> None:
    with write_transaction(db):
        db.conn.execute(
            """
            INSERT INTO announcements (announcement_id, channel_id, message_id, state, updated_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (announcement_id, channel_id) DO UPDATE SET
                message_id = excluded.message_id, state = excluded.state,
                updated_at = excluded.updated_at
            """,
            [announcement_id, channel_id, message_id, state, ts(now)],
        )
