from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import feeds as feed_store
from bot.store import reminders as reminder_store
from bot.store.db import open_database

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
