from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from bot.store import feeds as feed_store
from bot.store import reminders as reminder_store
from bot.store.db import open_database
from bot.store.rows import ts

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_subscriptions_are_unique_and_removal_cancels_pending_rows() -> None:
    db = open_database(None)
    feed = feed_store.upsert_feed(
        db, name="f", url="https://x.edu/ics", guild_id=1, channel_id=5, now=NOW
    )
    kwargs = dict(guild_id=1, user_id=9, kind="filter", offset=timedelta(hours=1), now=NOW)
    sub, created = reminder_store.add_subscription(db, **kwargs)
    again, created_again = reminder_store.add_subscription(db, **kwargs)
    assert created and not created_again and again.id == sub.id
    db.conn.execute(
        "INSERT INTO reminders (idem_key, feed_id, subscription_id, user_id, announcement_id,"
        " event_key, start_json, anchor_utc, target_kind, target_id, due_at, created_at,"
        " updated_at) VALUES ('s:1:a', ?, ?, 9, 'a', 'u#', 'x', ?, 'dm', 9, ?, ?, ?)",
        [feed.id, sub.id, NOW.isoformat(), NOW.isoformat(), NOW.isoformat(), NOW.isoformat()],
    )
    db.conn.commit()
    (row,) = reminder_store.due_reminders(db, now=NOW)
    assert reminder_store.claim(db, row.id, now=NOW) is not None
    assert reminder_store.claim(db, row.id, now=NOW) is None  # claimed once only
    reminder_store.release(db, row.id, now=NOW)
    assert reminder_store.remove_subscription(db, sub.id, 9, now=NOW)
    (row,) = reminder_store.list_reminders(db)
    assert row.state == "cancelled" and row.last_error == "unsubscribed"


def test_dm_closed_flag_cancels_dm_rows_and_queues_one_hint() -> None:
    db = open_database(None)
    reminder_store.add_subscription(
        db, guild_id=1, user_id=9, kind="filter", offset=timedelta(hours=1), now=NOW
    )
    reminder_store.flag_dm_closed(db, 9, now=NOW)
    assert reminder_store.users_with_pending_hint(db) == {9}
    assert {s.state for s in reminder_store.list_subscriptions(db, 9, 1)} == {"dm_disabled"}
    reminder_store.clear_hint(db, 9)
    assert reminder_store.users_with_pending_hint(db) == set()
    assert reminder_store.reactivate_dm(db, 9, now=NOW) == 1


def _pending(db: Database, feed_id: int, key: str, due: datetime, retry: datetime | None) -> None:
    db.conn.execute(
        "INSERT INTO reminders (idem_key, feed_id, user_id, announcement_id, event_key,"
        " start_json, anchor_utc, target_kind, target_id, due_at, next_attempt_at, created_at,"
        " updated_at) VALUES (?, ?, 9, 'a', 'u#', 'x', ?, 'dm', 9, ?, ?, ?, ?)",
        [key, feed_id, ts(due), ts(due), ts(retry) if retry else None, ts(NOW), ts(NOW)],
    )


def test_next_due_is_the_earliest_sendable_row_counting_retries() -> None:
    db = open_database(None)
    feed = feed_store.upsert_feed(db, name="f", url="https://x.edu/ics", guild_id=1, now=NOW)
    assert reminder_store.next_due_at(db) is None
    _pending(db, feed.id, "a", NOW, NOW + timedelta(minutes=30))  # due first, retried later
    assert reminder_store.next_due_at(db) == NOW + timedelta(minutes=30)
    _pending(db, feed.id, "b", NOW + timedelta(minutes=10), None)
    _pending(db, feed.id, "c", NOW + timedelta(minutes=20), None)
    assert reminder_store.next_due_at(db) == NOW + timedelta(minutes=10)


def test_next_due_reads_the_head_of_the_queue_not_every_pending_row() -> None:
    """The worker asks after every wake-up; a fleet keeps 100,000s of pending reminders."""
    db = open_database(None)
    feed = feed_store.upsert_feed(db, name="f", url="https://x.edu/ics", guild_id=1, now=NOW)
    with db.conn:
        for n in range(20_000):
            _pending(db, feed.id, f"k{n}", NOW + timedelta(minutes=n), None)
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    db.conn.set_progress_handler(count, 100)
    assert reminder_store.next_due_at(db) == NOW
    db.conn.set_progress_handler(None, 0)
    assert steps < 50  # a scan of every pending row takes thousands of these 100-step ticks
