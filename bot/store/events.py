"""The ``events`` table and the polls that write it: a feed's stored state between polls.

The poller's path is ``load_events`` → ``diff_feed`` → ``save_poll_result``; the diff and the
outbox rows it causes commit together or not at all (one ``BEGIN IMMEDIATE``). A failed or
unchanged poll touches only the feed's health fields and the bounded ``poll_log``. The reads at
the end serve the features that follow events: the Events-tab mirror, the weekly digest,
reminders and ``/feeds status``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.core.diff import DiffResult, EventState, StoredEvent, StoredIndex
from bot.core.models import Occurrence, OccurrenceKey, sort_key
from bot.store import event_cache, outbox
from bot.store.db import write_transaction
from bot.store.feeds import FeedRow, FeedStatus, require_feed
from bot.store.rows import Row, all_rows, dt, one, opt_dt, ts

#: poll_log rows kept per feed.
POLL_LOG_KEEP = 100


class PollLogOutcome(enum.StrEnum):
    """``poll_log.outcome``: what one poll of a feed came to."""

    OK = "ok"
    #: Parsed, but the changes were held back (most upcoming events vanished at once).
    SUSPECT = "suspect"
    ERROR = "error"
    NOT_MODIFIED = "not_modified"


# --- stored events --------------------------------------------------------------------------


def _event_from_row(row: Row) -> StoredEvent:
    return StoredEvent(
        occurrence=Occurrence.from_dict(json.loads(row["occurrence_json"])),
        fingerprint=str(row["fingerprint"]),
        state=EventState(row["state"]),
        first_seen=dt(row["first_seen"]),
        last_seen=dt(row["last_seen"]),
        missing_count=int(row["missing_count"]),
        missing_since=opt_dt(row["missing_since"]),
        announcement_id=str(row["announcement_id"]),
        revision=int(row["revision"]),
    )


def load_events(db: Database, feed_id: int) -> list[StoredEvent]:
    """The feed's events, soonest first; from memory while no one else wrote them."""
    return list(_current(db, feed_id).events)


def load_for_diff(db: Database, feed_id: int) -> tuple[list[StoredEvent], StoredIndex]:
    """The feed's events, soonest first, with their index, for the poller's diff.

    The list is the in-memory copy itself, not a copy of it (the diff only reads it), so the
    diff can trust the index describes exactly what it was given.
    """
    entry = _current(db, feed_id)
    if entry.index is None:  # one that became unusable stays so (the diff then walks)
        entry.index = StoredIndex(entry.events, entry.by_key)
    return entry.events, entry.index


def _current(db: Database, feed_id: int) -> event_cache.CachedEvents:
    entry = event_cache.cached(db, feed_id)
    if entry is not None:
        return entry
    version = event_cache.events_version(db, feed_id)
    rows = all_rows(db, "SELECT * FROM events WHERE feed_id = ?", [feed_id])
    events = [_event_from_row(r) for r in rows]
    del rows
    events.sort(key=lambda e: (sort_key(e.occurrence.start), e.key))
    by_key = {e.key: e for e in events}
    entry = event_cache.CachedEvents(version, events, by_key)
    event_cache.remember(db, feed_id, entry)
    return entry


def _upsert_events(db: Database, feed_id: int, events: Sequence[StoredEvent]) -> None:
    # In chunks: a first poll of a huge feed must not hold every row's JSON at once.
    for index in range(0, len(events), _UPSERT_CHUNK):
        _upsert_chunk(db, feed_id, events[index : index + _UPSERT_CHUNK])


_UPSERT_CHUNK = 1000


def _upsert_chunk(db: Database, feed_id: int, events: Sequence[StoredEvent]) -> None:
    rows = [
        [
            feed_id,
            e.occurrence.key.uid,
            e.occurrence.key.recurrence_id,
            _occurrence_json(e.occurrence),
            *_columns(e),
        ]
        for e in events
    ]
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


#: The columns of ``events`` besides the key and the occurrence's JSON, as ``_columns`` gives them.
_SCALAR_COLUMNS = (
    "fingerprint",
    "state",
    "start_utc",
    "end_utc",
    "all_day",
    "missing_count",
    "missing_since",
    "announcement_id",
    "revision",
    "first_seen",
    "last_seen",
)


def _columns(e: StoredEvent) -> tuple[object, ...]:
    occ = e.occurrence
    end = sort_key(occ.end) if occ.end is not None else None
    return (
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
    )


def _sources(e: StoredEvent) -> tuple[object, ...]:
    """What each of :func:`_columns` is made from, in the same order."""
    occ = e.occurrence
    return (
        e.fingerprint,
        e.state,
        occ.start,
        occ.end,
        occ.all_day,
        e.missing_count,
        e.missing_since,
        e.announcement_id,
        e.revision,
        e.first_seen,
        e.last_seen,
    )


def _write_changes(
    db: Database,
    feed_id: int,
    changed: Sequence[StoredEvent],
    before: dict[OccurrenceKey, StoredEvent],
) -> None:
    """Write ``changed`` knowing the rows hold ``before``: only the columns that differ.

    An upsert rewrites every column, and with them every index entry and the search index
    of each row; an edited title then costs several times what it must. A row whose
    occurrence is the very object stored holds its JSON already.
    """
    new: list[StoredEvent] = []
    updates: dict[tuple[str, ...], list[list[object]]] = {}
    for event in changed:
        old = before.get(event.key)
        if old is None:
            new.append(event)
            continue
        names: list[str] = []
        values: list[object] = []
        if event.occurrence is not old.occurrence:
            names.append("occurrence_json")
            values.append(_occurrence_json(event.occurrence))
        # Equal values give equal column text (aware instants are stored in UTC), so the
        # values are compared and only the new event's columns are formatted.
        for name, was, now, value in zip(
            _SCALAR_COLUMNS, _sources(old), _sources(event), _columns(event), strict=True
        ):
            if was != now or type(was) is not type(now):
                names.append(name)
                values.append(value)
        key = event.key
        updates.setdefault(tuple(names), []).append([*values, feed_id, key.uid, key.recurrence_id])
    _upsert_events(db, feed_id, new)
    for columns, rows in updates.items():
        assignments = ", ".join(f"{name} = ?" for name in columns)  # ours, not input
        db.conn.executemany(
            f"UPDATE events SET {assignments} WHERE feed_id = ? AND uid = ? AND recurrence_id = ?",
            rows,
        )


def _occurrence_json(occ: Occurrence) -> str:
    return json.dumps(occ.to_dict(), sort_keys=True, ensure_ascii=False)


def has_due_pending(db: Database, feed_id: int, *, now: datetime, horizon: datetime) -> bool:
    """True when a stored, not yet announced event has entered the announce window.

    Errs on the side of True by up to a day for events without an end (an extra download at
    worst), never on the side of False (an announcement never made).
    """
    row = one(
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


# --- polls ----------------------------------------------------------------------------------


def _log_poll(
    db: Database,
    feed_id: int,
    *,
    now: datetime,
    outcome: PollLogOutcome,
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
            fresh = _fresh(prior, result)
            before = prior.by_key
            # New objects equal to the stored row (a diff adopting the parse's own occurrence
            # object) have nothing to write.
            changed = [e for e in fresh if before.get(e.key) != e]
        if prior is None:
            _upsert_events(db, feed_id, changed)
        else:
            _write_changes(db, feed_id, changed, prior.by_key)
        _delete_events(db, feed_id, result.removed)
        ids = outbox.insert_outbox_rows(db, feed_id, result.planned, now)
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
                FeedStatus.SUSPECT if result.suspect else FeedStatus.ACTIVE,
                feed_id,
            ],
        )
        _log_poll(
            db,
            feed_id,
            now=now,
            outcome=PollLogOutcome.SUSPECT if result.suspect else PollLogOutcome.OK,
            reason="mass_drop" if result.suspect else None,
            detail=result.suspect_reason or json.dumps(result.counts.to_dict(), sort_keys=True),
            events=result.parsed_count,
            actions=len(result.planned),
        )
        version = event_cache.events_version(db, feed_id)
    if prior is not None:
        _advance_cache(db, feed_id, prior, result, fresh, version)
    return ids


def _fresh(prior: event_cache.CachedEvents, result: DiffResult) -> list[StoredEvent]:
    """The events of ``result`` that are not the very objects stored before, in order.

    When the diff found its events through this copy's index, only the ones it visited can
    be new objects; otherwise every event is looked at.
    """
    if result.visited is not None and prior.index is not None and result.basis is prior.index:
        before = prior.by_key
        return [e for e in result.visited if before.get(e.key) is not e]
    known = {id(e) for e in prior.events}
    return [e for e in result.events if id(e) not in known]


def _advance_cache(
    db: Database,
    feed_id: int,
    prior: event_cache.CachedEvents,
    result: DiffResult,
    fresh: Sequence[StoredEvent],
    version: int,
) -> None:
    """Put the in-memory copy (and its index) forward to what was just written."""
    by_key = prior.by_key
    events = list(result.events)
    index = prior.index
    if index is not None:
        index.advance(events, fresh, result.removed)  # moves ``by_key`` as below
    else:
        for event in fresh:
            by_key[event.key] = event
        for key in result.removed:
            by_key.pop(key, None)
    if len(by_key) == len(result.events):  # the result is the feed's whole next state
        event_cache.remember(db, feed_id, event_cache.CachedEvents(version, events, by_key, index))


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
        _log_poll(
            db, feed_id, now=now, outcome=PollLogOutcome.ERROR, reason=reason, detail=message[:1000]
        )
    return require_feed(db, feed_id)


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
        _log_poll(db, feed_id, now=now, outcome=PollLogOutcome.NOT_MODIFIED)
    return require_feed(db, feed_id)


@dataclass(frozen=True, slots=True)
class PollLogRow:
    feed_id: int
    at: datetime
    outcome: PollLogOutcome
    reason: str | None
    detail: str | None
    events: int | None
    actions: int | None


def recent_polls(db: Database, feed_id: int, limit: int = 20) -> list[PollLogRow]:
    rows = all_rows(
        db,
        "SELECT * FROM poll_log WHERE feed_id = ? ORDER BY id DESC LIMIT ?",
        [feed_id, limit],
    )
    return [
        PollLogRow(
            feed_id=int(r["feed_id"]),
            at=dt(r["at"]),
            outcome=PollLogOutcome(r["outcome"]),
            reason=r["reason"],
            detail=r["detail"],
            events=r["events"],
            actions=r["actions"],
        )
        for r in rows
    ]


# --- events as the mirror and the weekly digest read them ------------------------------------


@dataclass(frozen=True, slots=True)
class FeedEvent:
    announcement_id: str
    state: EventState
    occurrence: Occurrence


def events_starting_in(
    db: Database, feed_id: int, *, start_from: datetime, start_before: datetime
) -> list[FeedEvent]:
    """The feed's stored events starting in [from, before), soonest first (any state)."""
    rows = db.conn.execute(
        "SELECT announcement_id, state, occurrence_json FROM events"
        " WHERE feed_id = ? AND start_utc >= ? AND start_utc < ? ORDER BY start_utc, uid",
        [feed_id, ts(start_from), ts(start_before)],
    ).fetchall()
    return [
        FeedEvent(str(r[0]), EventState(r[1]), Occurrence.from_dict(json.loads(r[2]))) for r in rows
    ]


def feed_zone(db: Database, feed_id: int) -> str:
    """The zone the feed's own events are written in ("" when none says)."""
    row = db.conn.execute(
        "SELECT json_extract(occurrence_json, '$.timezone') AS zone FROM events"
        " WHERE feed_id = ? AND zone IS NOT NULL AND zone != '' LIMIT 1",
        [feed_id],
    ).fetchone()
    return str(row[0]) if row else ""


# --- events as reminders read them -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpcomingEvent:
    feed_id: int
    feed_name: str
    announcement_id: str
    state: EventState
    occurrence: Occurrence


def remindable_events(db: Database, feed_id: int, *, since: datetime) -> list[UpcomingEvent]:
    """Live and cancelled occurrences of a feed starting after ``since``."""
    rows = all_rows(
        db,
        """
        SELECT e.feed_id, f.name, e.announcement_id, e.state, e.occurrence_json
        FROM events e JOIN feeds f ON f.id = e.feed_id
        WHERE e.feed_id = ? AND e.start_utc >= ?
          AND e.state IN ('pending', 'announced', 'silent', 'cancelled')
        ORDER BY e.start_utc
        """,
        [feed_id, ts(since)],
    )
    return [_upcoming(r) for r in rows]


def _upcoming(r: Row) -> UpcomingEvent:
    return UpcomingEvent(
        feed_id=int(r["feed_id"]),
        feed_name=str(r["name"]),
        announcement_id=str(r["announcement_id"]),
        state=EventState(r["state"]),
        occurrence=Occurrence.from_dict(json.loads(r["occurrence_json"])),
    )


def upcoming_events(
    db: Database, guild_id: int, *, now: datetime, limit: int = 200
) -> list[UpcomingEvent]:
    """Events people can still ask to be reminded of, soonest first."""
    rows = all_rows(
        db,
        """
        SELECT e.feed_id, f.name, e.announcement_id, e.state, e.occurrence_json
        FROM events e JOIN feeds f ON f.id = e.feed_id
        WHERE f.guild_id = ? AND e.start_utc >= ? AND e.state IN ('pending', 'announced', 'silent')
        ORDER BY e.start_utc LIMIT ?
        """,
        [guild_id, ts(now - timedelta(days=1)), limit],
    )
    return [_upcoming(r) for r in rows]


def event_by_announcement(
    db: Database, announcement_id: str, *, feed_id: int | None = None
) -> UpcomingEvent | None:
    params: list[Any] = [announcement_id]
    extra = ""
    if feed_id is not None:
        extra = " AND e.feed_id = ?"
        params.append(feed_id)
    row = one(
        db,
        "SELECT e.feed_id, f.name, e.announcement_id, e.state, e.occurrence_json"
        " FROM events e JOIN feeds f ON f.id = e.feed_id"
        f" WHERE e.announcement_id = ?{extra} ORDER BY e.last_seen DESC LIMIT 1",
        params,
    )
    return _upcoming(row) if row else None


# --- counts for /feeds status ------------------------------------------------------------------


def count_events(db: Database, feed_id: int) -> int:
    row = db.conn.execute("SELECT COUNT(*) FROM events WHERE feed_id = ?", [feed_id]).fetchone()
    return int(row[0])


def count_upcoming(db: Database, feed_id: int, *, now: datetime) -> int:
    row = db.conn.execute(
        "SELECT COUNT(*) FROM events WHERE feed_id = ? AND state NOT IN ('cancelled', 'expired')"
        " AND COALESCE(end_utc, start_utc) > ?",
        [feed_id, ts(now)],
    ).fetchone()
    return int(row[0])
