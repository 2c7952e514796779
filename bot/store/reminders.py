"""Subscriptions and reminders in SQLite, the reminders' only source of truth.

Reminder rows go ``pending → sending → sent`` (claimed and committed before the request, like
the outbox), or end as ``missed``, ``cancelled`` or ``failed``; nothing is deleted, so every
reminder that was not sent says why.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.core.reminders import Desired, Notice, PlanSubscription, ReminderPlan, StoredReminder
from bot.store.db import write_transaction
from bot.store.rows import Row, all_rows, dt, one, opt_dt, ts


class SubscriptionState(enum.StrEnum):
    """``subscriptions.state``: only active subscriptions get new reminders."""

    ACTIVE = "active"
    #: Discord refused a DM (50007); lifted when the member asks for DM reminders again.
    DM_DISABLED = "dm_disabled"
    LEFT = "left"


class ReminderState(enum.StrEnum):
    """``reminders.state``; the last three are final and keep their reason in ``last_error``."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    MISSED = "missed"
    CANCELLED = "cancelled"
    FAILED = "failed"


#: The states a reminder can be finished in without being sent.
FINAL_STATES = (ReminderState.MISSED, ReminderState.CANCELLED, ReminderState.FAILED)


# --- subscriptions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: int
    guild_id: int
    user_id: int
    kind: str
    feed_id: int | None
    announcement_id: str
    field: str
    pattern: str
    offset: timedelta
    via: str
    state: SubscriptionState
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> SubscriptionRow:
        return cls(
            id=int(row["id"]),
            guild_id=int(row["guild_id"]),
            user_id=int(row["user_id"]),
            kind=str(row["kind"]),
            feed_id=row["feed_id"],
            announcement_id=str(row["announcement_id"]),
            field=str(row["field"]),
            pattern=str(row["pattern"]),
            offset=timedelta(seconds=int(row["offset_s"])),
            via=str(row["via"]),
            state=SubscriptionState(row["state"]),
            created_at=dt(row["created_at"]),
        )

    def for_planning(self) -> PlanSubscription:
        return PlanSubscription(
            id=self.id,
            user_id=self.user_id,
            kind=self.kind,
            offset=self.offset,
            via=self.via,
            announcement_id=self.announcement_id,
            field=self.field,
            pattern=self.pattern,
            feed_id=self.feed_id,
        )


def add_subscription(
    db: Database,
    *,
    guild_id: int,
    user_id: int,
    kind: str,
    offset: timedelta,
    via: str = "dm",
    feed_id: int | None = None,
    announcement_id: str = "",
    field: str = "",
    pattern: str = "",
    now: datetime,
) -> tuple[SubscriptionRow, bool]:
    """Insert (or find the identical) subscription; ``True`` when it is new."""
    with write_transaction(db):
        return insert_subscription(
            db,
            guild_id=guild_id,
            user_id=user_id,
            kind=kind,
            offset=offset,
            via=via,
            feed_id=feed_id,
            announcement_id=announcement_id,
            field=field,
            pattern=pattern,
            now=now,
        )


def insert_subscription(
    db: Database,
    *,
    guild_id: int,
    user_id: int,
    kind: str,
    offset: timedelta,
    via: str = "dm",
    feed_id: int | None = None,
    announcement_id: str = "",
    field: str = "",
    pattern: str = "",
    now: datetime,
) -> tuple[SubscriptionRow, bool]:
    """``add_subscription`` inside the caller's transaction (e.g. with the attendance it
    comes with)."""
    stamp = ts(now)
    params = [
        guild_id,
        user_id,
        kind,
        feed_id,
        announcement_id,
        field,
        pattern.strip(),
        int(offset.total_seconds()),
        via,
    ]
    cursor = db.conn.execute(
        """
        INSERT OR IGNORE INTO subscriptions (guild_id, user_id, kind, feed_id,
            announcement_id, field, pattern, offset_s, via, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [*params, stamp, stamp],
    )
    created = cursor.rowcount == 1
    row = one(
        db,
        """
        SELECT * FROM subscriptions WHERE guild_id = ? AND user_id = ? AND kind = ?
          AND IFNULL(feed_id, 0) = IFNULL(?, 0) AND announcement_id = ? AND field = ?
          AND pattern = ? AND offset_s = ? AND via = ?
        """,
        params,
    )
    assert row is not None
    return SubscriptionRow.from_row(row), created


def list_subscriptions(db: Database, user_id: int, guild_id: int) -> list[SubscriptionRow]:
    rows = all_rows(
        db,
        "SELECT * FROM subscriptions WHERE user_id = ? AND guild_id = ? ORDER BY id",
        [user_id, guild_id],
    )
    return [SubscriptionRow.from_row(r) for r in rows]


def active_subscriptions(db: Database, guild_id: int) -> list[SubscriptionRow]:
    rows = all_rows(
        db,
        "SELECT * FROM subscriptions WHERE guild_id = ? AND state = 'active' ORDER BY id",
        [guild_id],
    )
    return [SubscriptionRow.from_row(r) for r in rows]


def _cancel_pending(db: Database, where: str, params: list[Any], reason: str, now: datetime) -> int:
    cursor = db.conn.execute(
        f"UPDATE reminders SET state = 'cancelled', last_error = ?, updated_at = ?"
        f" WHERE state = 'pending' AND {where}",
        [reason, ts(now), *params],
    )
    return cursor.rowcount


def remove_subscription(db: Database, subscription_id: int, user_id: int, *, now: datetime) -> bool:
    """Delete one of the user's subscriptions; its pending reminders become cancelled."""
    with write_transaction(db):
        return delete_subscription(db, subscription_id, user_id, now=now)


def delete_subscription(db: Database, subscription_id: int, user_id: int, *, now: datetime) -> bool:
    """``remove_subscription`` inside the caller's transaction."""
    _cancel_pending(db, "subscription_id = ?", [subscription_id], "unsubscribed", now)
    cursor = db.conn.execute(
        "DELETE FROM subscriptions WHERE id = ? AND user_id = ?", [subscription_id, user_id]
    )
    return cursor.rowcount == 1


def remove_all_subscriptions(db: Database, user_id: int, guild_id: int, *, now: datetime) -> int:
    with write_transaction(db):
        _cancel_pending(
            db,
            "subscription_id IN (SELECT id FROM subscriptions WHERE user_id = ? AND guild_id = ?)",
            [user_id, guild_id],
            "unsubscribed",
            now,
        )
        cursor = db.conn.execute(
            "DELETE FROM subscriptions WHERE user_id = ? AND guild_id = ?", [user_id, guild_id]
        )
        return cursor.rowcount


def reactivate_dm(db: Database, user_id: int, *, now: datetime) -> int:
    """The user asked for DM reminders again: lift the "DMs closed" flag (we will try once)."""
    with write_transaction(db):
        cursor = db.conn.execute(
            "UPDATE subscriptions SET state = 'active', updated_at = ?"
            " WHERE user_id = ? AND state = 'dm_disabled'",
            [ts(now), user_id],
        )
        db.conn.execute(
            "UPDATE reminder_users SET dm_closed_at = NULL, hint_pending = 0 WHERE user_id = ?",
            [user_id],
        )
        return cursor.rowcount


def flag_dm_closed(db: Database, user_id: int, *, now: datetime) -> int:
    """50007: stop DMing this user (subscriptions flagged, pending DMs cancelled, hint queued)."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE subscriptions SET state = 'dm_disabled', updated_at = ?"
            " WHERE user_id = ? AND via = 'dm' AND state = 'active'",
            [ts(now), user_id],
        )
        cancelled = _cancel_pending(
            db, "user_id = ? AND target_kind = 'dm'", [user_id], "dm_closed", now
        )
        db.conn.execute(
            """
            INSERT INTO reminder_users (user_id, dm_closed_at, hint_pending) VALUES (?, ?, 1)
            ON CONFLICT (user_id) DO UPDATE SET dm_closed_at = excluded.dm_closed_at,
                hint_pending = 1
            """,
            [user_id, ts(now)],
        )
        return cancelled


def flag_left_guild(db: Database, guild_id: int, user_id: int, *, now: datetime) -> int:
    """The member left the server: no more reminders for them from that server."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE subscriptions SET state = 'left', updated_at = ?"
            " WHERE user_id = ? AND guild_id = ?",
            [ts(now), user_id, guild_id],
        )
        return _cancel_pending(
            db,
            "subscription_id IN (SELECT id FROM subscriptions WHERE user_id = ? AND guild_id = ?)",
            [user_id, guild_id],
            "left_guild",
            now,
        )


def users_with_pending_hint(db: Database) -> set[int]:
    rows = all_rows(db, "SELECT user_id FROM reminder_users WHERE hint_pending = 1", [])
    return {int(r["user_id"]) for r in rows}


def clear_hint(db: Database, user_id: int) -> None:
    with write_transaction(db):
        db.conn.execute("UPDATE reminder_users SET hint_pending = 0 WHERE user_id = ?", [user_id])


def dm_channel_id(db: Database, user_id: int) -> int | None:
    row = one(db, "SELECT dm_channel_id FROM reminder_users WHERE user_id = ?", [user_id])
    return None if row is None or row["dm_channel_id"] is None else int(row["dm_channel_id"])


def set_dm_channel_id(db: Database, user_id: int, channel_id: int) -> None:
    with write_transaction(db):
        db.conn.execute(
            """
            INSERT INTO reminder_users (user_id, dm_channel_id) VALUES (?, ?)
            ON CONFLICT (user_id) DO UPDATE SET dm_channel_id = excluded.dm_channel_id
            """,
            [user_id, channel_id],
        )


def member_seen(db: Database, user_id: int, *, now: datetime) -> None:
    """The user just used the bot in the server, so they are a member (no GET needed)."""
    with write_transaction(db):
        db.conn.execute(
            """
            INSERT INTO reminder_users (user_id, member_seen_at) VALUES (?, ?)
            ON CONFLICT (user_id) DO UPDATE SET member_seen_at = excluded.member_seen_at
            """,
            [user_id, ts(now)],
        )


def member_seen_at(db: Database, user_id: int) -> datetime | None:
    row = one(db, "SELECT member_seen_at FROM reminder_users WHERE user_id = ?", [user_id])
    return None if row is None else opt_dt(row["member_seen_at"])


# --- reminders ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReminderRow:
    id: int
    idem_key: str
    kind: str
    feed_id: int
    subscription_id: int | None
    user_id: int | None
    announcement_id: str
    event_key: str
    start_json: str
    anchor: datetime
    place: str
    offset: timedelta
    target_kind: str
    target_id: int
    due_at: datetime
    state: ReminderState
    generation: int
    attempts: int
    next_attempt_at: datetime | None
    payload: dict[str, str]
    late: bool
    sent_at: datetime | None
    message_id: int | None
    last_error: str | None
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> ReminderRow:
        return cls(
            id=int(row["id"]),
            idem_key=str(row["idem_key"]),
            kind=str(row["kind"]),
            feed_id=int(row["feed_id"]),
            subscription_id=row["subscription_id"],
            user_id=row["user_id"],
            announcement_id=str(row["announcement_id"]),
            event_key=str(row["event_key"]),
            start_json=str(row["start_json"]),
            anchor=dt(row["anchor_utc"]),
            place=str(row["place"]),
            offset=timedelta(seconds=int(row["offset_s"])),
            target_kind=str(row["target_kind"]),
            target_id=int(row["target_id"]),
            due_at=dt(row["due_at"]),
            state=ReminderState(row["state"]),
            generation=int(row["generation"]),
            attempts=int(row["attempts"]),
            next_attempt_at=opt_dt(row["next_attempt_at"]),
            payload=json.loads(row["payload_json"] or "{}"),
            late=bool(row["late"]),
            sent_at=opt_dt(row["sent_at"]),
            message_id=row["message_id"],
            last_error=row["last_error"],
            updated_at=dt(row["updated_at"]),
        )

    @property
    def nonce(self) -> str:
        """Deterministic (≤ 25 chars): a resend after a crash is deduplicated by Discord."""
        return f"rm{self.id}g{self.generation}"


def stored_for_feed(db: Database, feed_id: int) -> list[StoredReminder]:
    rows = all_rows(
        db,
        "SELECT id, idem_key, announcement_id, state, start_json, place, due_at, target_kind,"
        " subscription_id, user_id FROM reminders WHERE feed_id = ? AND kind = 'reminder'",
        [feed_id],
    )
    return [
        StoredReminder(
            id=int(r["id"]),
            idem_key=str(r["idem_key"]),
            announcement_id=str(r["announcement_id"]),
            state=str(r["state"]),
            start_json=str(r["start_json"]),
            place=str(r["place"]),
            due_at=dt(r["due_at"]),
            target_kind=str(r["target_kind"]),
            subscription_id=r["subscription_id"],
            user_id=r["user_id"],
        )
        for r in rows
    ]


def _desired_params(feed_id: int, d: Desired) -> list[Any]:
    return [
        d.idem_key,
        feed_id,
        d.subscription_id,
        d.user_id,
        d.announcement_id,
        d.event_key,
        d.start_json,
        ts(d.anchor),
        d.place,
        int(d.offset.total_seconds()),
        d.target_kind,
        d.target_id,
        ts(d.due_at),
    ]


_INSERT = """
    INSERT OR IGNORE INTO reminders (idem_key, feed_id, subscription_id, user_id,
        announcement_id, event_key, start_json, anchor_utc, place, offset_s, target_kind,
        target_id, due_at, state, last_error, kind, payload_json, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def apply_plan(db: Database, feed_id: int, plan: ReminderPlan, *, now: datetime) -> list[int]:
    """Write a reconciliation (inside the caller's transaction); returns new notice ids."""
    stamp = ts(now)
    db.conn.executemany(
        _INSERT,
        [
            [*_desired_params(feed_id, d), "pending", None, "reminder", "{}", stamp, stamp]
            for d in plan.inserts
        ]
        + [
            [
                *_desired_params(feed_id, d),
                "missed",
                "planned after its due time",
                "reminder",
                "{}",
                stamp,
                stamp,
            ]
            for d in plan.too_late
        ],
    )
    db.conn.executemany(
        """
        UPDATE reminders SET event_key = ?, start_json = ?, anchor_utc = ?, place = ?,
            due_at = ?, target_id = ?, updated_at = ?,
            state = CASE WHEN ? THEN 'pending' ELSE state END,
            generation = generation + ?, attempts = CASE WHEN ? THEN 0 ELSE attempts END,
            next_attempt_at = CASE WHEN ? THEN NULL ELSE next_attempt_at END,
            last_error = CASE WHEN ? THEN NULL ELSE last_error END
        WHERE id = ? AND state != 'sending'
        """,
        [
            [
                u.desired.event_key,
                u.desired.start_json,
                ts(u.desired.anchor),
                u.desired.place,
                ts(u.desired.due_at),
                u.desired.target_id,
                stamp,
                u.rearm,
                int(u.rearm),
                u.rearm,
                u.rearm,
                u.rearm,
                u.row_id,
            ]
            for u in plan.updates
        ],
    )
    db.conn.executemany(
        "UPDATE reminders SET state = 'cancelled', last_error = ?, updated_at = ?"
        " WHERE id = ? AND state = 'pending'",
        [[reason, stamp, row_id] for row_id, reason in plan.cancels],
    )
    return insert_notices(db, feed_id, plan.notices, now=now)


def insert_notices(
    db: Database, feed_id: int, notices: Sequence[Notice], *, now: datetime
) -> list[int]:
    """Queue change notices (inside the caller's transaction); one per key, ever: a notice
    planned again, or for the same person by another path, is ignored. Returns new ids."""
    stamp = ts(now)
    ids = [_insert_notice(db, feed_id, n, stamp) for n in notices]
    return [i for i in ids if i]


def _insert_notice(db: Database, feed_id: int, notice: Notice, stamp: str) -> int:
    cursor = db.conn.execute(
        _INSERT,
        [
            notice.idem_key,
            feed_id,
            notice.subscription_id,
            notice.user_id,
            notice.announcement_id,
            notice.event_key,
            notice.payload.get("new_start", ""),
            ts(notice.anchor),
            notice.payload.get("new_place", ""),
            0,
            "dm",
            notice.user_id,
            stamp,
            "pending",
            None,
            notice.kind,
            json.dumps(dict(notice.payload), sort_keys=True, ensure_ascii=False),
            stamp,
            stamp,
        ],
    )
    return int(cursor.lastrowid or 0) if cursor.rowcount == 1 else 0


def get_reminder(db: Database, reminder_id: int) -> ReminderRow | None:
    row = one(db, "SELECT * FROM reminders WHERE id = ?", [reminder_id])
    return ReminderRow.from_row(row) if row else None


def list_reminders(db: Database, *, feed_id: int | None = None) -> list[ReminderRow]:
    if feed_id is None:
        rows = all_rows(db, "SELECT * FROM reminders ORDER BY id", [])
    else:
        rows = all_rows(db, "SELECT * FROM reminders WHERE feed_id = ? ORDER BY id", [feed_id])
    return [ReminderRow.from_row(r) for r in rows]


def due_reminders(
    db: Database, *, now: datetime, limit: int = 200, dm_until: datetime | None = None
) -> list[ReminderRow]:
    """Pending rows whose time has come, earliest due first, channel posts before DMs.

    ``dm_until`` releases DMs due up to then already (a large batch starts early).
    """
    rows = all_rows(
        db,
        """
        SELECT * FROM reminders
        WHERE state = 'pending'
          AND (due_at <= ? OR (target_kind = 'dm' AND due_at <= ?))
          AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
        ORDER BY target_kind = 'dm', due_at, id LIMIT ?
        """,
        [ts(now), ts(dm_until or now), ts(now), limit],
    )
    return [ReminderRow.from_row(r) for r in rows]


def next_dm_cluster(
    db: Database, *, after: datetime, span: timedelta
) -> tuple[datetime, int] | None:
    """The next pending DM due after ``after``, and how many requests the DMs due within
    ``span`` of it will take (two for a member whose DM channel is not open yet)."""
    first = one(
        db,
        "SELECT MIN(due_at) AS t FROM reminders WHERE state = 'pending' AND due_at > ?"
        " AND target_kind = 'dm' AND next_attempt_at IS NULL",
        [ts(after)],
    )
    if first is None or first["t"] is None:
        return None
    start = dt(first["t"])
    count = one(
        db,
        "SELECT COUNT(*) + COUNT(*) - COUNT(u.dm_channel_id) AS n FROM reminders r"
        " LEFT JOIN reminder_users u ON u.user_id = r.user_id"
        " WHERE r.state = 'pending' AND r.due_at >= ? AND r.due_at <= ?"
        " AND r.target_kind = 'dm' AND r.next_attempt_at IS NULL",
        [ts(start), ts(start + span)],
    )
    return start, 0 if count is None or count["n"] is None else int(count["n"])


def upcoming_dm_members(
    db: Database, *, after: datetime, until: datetime
) -> list[tuple[int, int, datetime | None]]:
    """(guild, user, last seen) of every member with a DM reminder due in (after, until]."""
    rows = all_rows(
        db,
        """
        SELECT DISTINCT f.guild_id AS guild_id, r.user_id AS user_id,
               u.member_seen_at AS seen
        FROM reminders r JOIN feeds f ON f.id = r.feed_id
        LEFT JOIN reminder_users u ON u.user_id = r.user_id
        WHERE r.state = 'pending' AND r.target_kind = 'dm' AND r.user_id IS NOT NULL
          AND r.due_at > ? AND r.due_at <= ?
        ORDER BY r.due_at
        """,
        [ts(after), ts(until)],
    )
    return [(int(r["guild_id"]), int(r["user_id"]), opt_dt(r["seen"])) for r in rows]


def next_due_at(db: Database) -> datetime | None:
    """When the earliest pending row may be sent: its due time, or its retry time if later.

    The worker asks after every wake-up, and a fleet keeps hundreds of thousands of pending
    rows, so this walks the (state, due_at) index in due order and stops as soon as no later
    row can be earlier (a row is never sendable before it is due): it reads the rows waiting
    for a retry at the head of the queue and one more, not the table. Timestamps are
    fixed-width UTC text, so they compare as text.
    """
    best: str | None = None
    rows = db.conn.execute(
        "SELECT due_at, next_attempt_at FROM reminders WHERE state = 'pending' ORDER BY due_at"
    )
    try:
        for due_at, next_attempt_at in rows:
            if best is not None and due_at >= best:
                break
            sendable = max(due_at, next_attempt_at or due_at)
            if best is None or sendable < best:
                best = sendable
    finally:
        rows.close()
    return None if best is None else dt(best)


def claim(db: Database, reminder_id: int, *, now: datetime) -> ReminderRow | None:
    """pending → sending, committed before the request; None if someone else has it."""
    with write_transaction(db):
        cursor = db.conn.execute(
            "UPDATE reminders SET state = 'sending', attempts = attempts + 1, updated_at = ?"
            " WHERE id = ? AND state = 'pending'",
            [ts(now), reminder_id],
        )
        claimed = cursor.rowcount == 1
    return get_reminder(db, reminder_id) if claimed else None


def claim_many(db: Database, ids: list[int], *, now: datetime) -> list[ReminderRow]:
    """Claim a batch in one transaction (one fsync, not one per reminder)."""
    claimed: list[int] = []
    with write_transaction(db):
        for reminder_id in ids:
            cursor = db.conn.execute(
                "UPDATE reminders SET state = 'sending', attempts = attempts + 1, updated_at = ?"
                " WHERE id = ? AND state = 'pending'",
                [ts(now), reminder_id],
            )
            if cursor.rowcount == 1:
                claimed.append(reminder_id)
    return [r for r in (get_reminder(db, i) for i in claimed) if r is not None]


def mark_sent_many(db: Database, results: list[tuple[int, int, bool]], *, now: datetime) -> None:
    """(id, message id, late) for each sent reminder, in one transaction."""
    with write_transaction(db):
        db.conn.executemany(
            "UPDATE reminders SET state = 'sent', message_id = ?, late = ?, sent_at = ?,"
            " last_error = NULL, updated_at = ? WHERE id = ?",
            [[mid, int(late), ts(now), ts(now), rid] for rid, mid, late in results],
        )


def mark_sent(
    db: Database, reminder_id: int, message_id: int | None, *, late: bool, now: datetime
) -> None:
    with write_transaction(db):
        db.conn.execute(
            "UPDATE reminders SET state = 'sent', message_id = ?, late = ?, sent_at = ?,"
            " last_error = NULL, updated_at = ? WHERE id = ?",
            [message_id, int(late), ts(now), ts(now), reminder_id],
        )


def mark_final(
    db: Database, reminder_id: int, state: ReminderState, reason: str, *, now: datetime
) -> None:
    """missed / cancelled / failed, with the reason kept for whoever asks later."""
    if state not in FINAL_STATES:
        raise ValueError(f"not a final state: {state}")
    with write_transaction(db):
        db.conn.execute(
            "UPDATE reminders SET state = ?, last_error = ?, updated_at = ?"
            " WHERE id = ? AND state IN ('pending', 'sending')",
            [state, reason[:500], ts(now), reminder_id],
        )


def retry_later(db: Database, reminder_id: int, error: str, at: datetime, *, now: datetime) -> None:
    with write_transaction(db):
        db.conn.execute(
            "UPDATE reminders SET state = 'pending', last_error = ?, next_attempt_at = ?,"
            " updated_at = ? WHERE id = ? AND state = 'sending'",
            [error[:500], ts(at), ts(now), reminder_id],
        )


def interrupted(db: Database) -> list[ReminderRow]:
    rows = all_rows(db, "SELECT * FROM reminders WHERE state = 'sending' ORDER BY id", [])
    return [ReminderRow.from_row(r) for r in rows]


def release(db: Database, reminder_id: int, *, now: datetime) -> None:
    """A claim a previous run never finished: back to pending (same nonce on the resend)."""
    with write_transaction(db):
        db.conn.execute(
            "UPDATE reminders SET state = 'pending', updated_at = ?"
            " WHERE id = ? AND state = 'sending'",
            [ts(now), reminder_id],
        )
