"""Saving polls: events and outbox commit together, idempotently, and survive a restart."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.core.diff import DiffResult, diff_feed
from bot.core.models import Occurrence
from bot.store import events as event_store
from bot.store import outbox as outbox_store
from bot.store.db import open_database
from bot.store.events import (
    load_events,
    recent_polls,
    record_not_modified,
    record_poll_failure,
    save_poll_result,
)
from bot.store.feeds import get_feed, get_feed_by_name, list_feeds, upsert_feed
from bot.store.outbox import (
    claim_outbox_row,
    due_rows,
    mark_outbox_failed,
    mark_outbox_sent,
    set_announcement_message,
)
from tests.store.factories import T0, feed_of, occ, tec_occ, weekly
from tests.store.inspect_store import get_announcement_message, list_outbox

MIN = timedelta(minutes=1)
DAY = timedelta(days=1)
URL = "https://www.cs.jhu.edu/events/?ical=1"
CHANNEL = 555


def poll_and_save(db: Database, feed_id: int, occurrences: list[Occurrence], now) -> DiffResult:  # type: ignore[no-untyped-def]
    """The poller's path without the network: load → diff → save."""
    result = diff_feed("seminar", load_events(db, feed_id), feed_of(occurrences, now=now), now=now)
    save_poll_result(db, feed_id, result, now=now, etag=None, last_modified=None, body_hash="h")
    return result


@pytest.fixture
def db() -> Database:
    return open_database(None)


def test_upsert_feed_creates_then_updates_in_place(db: Database) -> None:
    first = upsert_feed(db, name="jhu", url=URL, now=T0)
    assert (first.status, first.fail_count, first.baseline_done, first.settings) == (
        "active",
        0,
        False,
        {},
    )
    second = upsert_feed(
        db, name="jhu", url=URL + "&x", channel_id=42, settings={"window_days": 7}, now=T0 + MIN
    )
    assert second.id == first.id and second.url == URL + "&x" and second.channel_id == 42
    assert second.settings == {"window_days": 7} and second.created_at == T0
    other = upsert_feed(db, name="jhu", url=URL, guild_id=9, now=T0)
    assert other.id != first.id
    assert get_feed_by_name(db, "jhu", 9) == other and get_feed(db, first.id) == second
    assert [f.id for f in list_feeds(db)] == [first.id, other.id]
    assert get_feed_by_name(db, "nope") is None


def test_save_queues_outbox_rows_with_decodable_actions_and_nonces(db: Database) -> None:
    feed = upsert_feed(db, name="jhu", url=URL, channel_id=CHANNEL, now=T0)
    result = diff_feed("seminar", [], feed_of(weekly(3), now=T0), now=T0)
    ids = save_poll_result(
        db, feed.id, result, now=T0, etag='"e1"', last_modified=None, body_hash="h1"
    )
    assert len(ids) == 3
    rows = due_rows(db, now=T0, limit=10)
    assert [r.id for r in rows] == ids
    assert [r.action for r in rows] == list(result.actions)
    assert [r.nonce for r in rows] == [f"ob{i}" for i in ids]
    assert all(r.state == "pending" and r.attempts == 0 for r in rows)
    assert load_events(db, feed.id) == list(result.events)
    saved = get_feed(db, feed.id)
    assert saved is not None
    assert (saved.baseline_done, saved.etag, saved.body_hash, saved.last_ok_at) == (
        True,
        '"e1"',
        "h1",
        T0,
    )


def test_saving_the_same_diff_twice_queues_nothing_new(db: Database) -> None:
    feed = upsert_feed(db, name="jhu", url=URL, now=T0)
    result = diff_feed("seminar", [], feed_of(weekly(2), now=T0), now=T0)
    first = save_poll_result(
        db, feed.id, result, now=T0, etag=None, last_modified=None, body_hash=None
    )
    again = save_poll_result(
        db, feed.id, result, now=T0, etag=None, last_modified=None, body_hash=None
    )
    assert len(first) == 2 and again == []
    assert len(list_outbox(db)) == 2


def test_tec_reschedule_replaces_the_row_and_queues_one_edit(db: Database) -> None:
    feed = upsert_feed(db, name="phil", url=URL, now=T0)
    talk, anchor = tec_occ(34174, T0 + 2 * DAY), tec_occ(9, T0 + 20 * DAY)
    poll_and_save(db, feed.id, [talk, anchor], T0)
    moved = tec_occ(34174, T0 + 3 * DAY)
    poll_and_save(db, feed.id, [moved, anchor], T0 + MIN)
    keys = {e.key for e in load_events(db, feed.id)}
    assert keys == {moved.key, anchor.key}
    kinds = [(r.kind, r.action.previous_key) for r in list_outbox(db)]
    assert kinds == [("announce", None), ("reschedule", talk.key)]
    assert len({r.announcement_id for r in list_outbox(db)}) == 1


def test_restart_between_polls_gives_the_same_diff(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    versions = [
        (T0, [occ("a", T0 + DAY), occ("b", T0 + 2 * DAY), occ("far", T0 + 10 * DAY)]),
        (T0 + 20 * MIN, [occ("a", T0 + DAY, location="B17"), occ("far", T0 + 10 * DAY)]),
        (T0 + 60 * MIN, [occ("a", T0 + DAY, location="B17"), occ("far", T0 + 10 * DAY)]),
        (T0 + 4 * DAY, [occ("far", T0 + 10 * DAY, status="CANCELLED")]),
    ]
    in_memory: list = []  # type: ignore[type-arg]
    expected = []
    for now, occurrences in versions:
        result = diff_feed("seminar", in_memory, feed_of(occurrences, now=now), now=now)
        in_memory = list(result.events)
        expected.append(result)

    db = open_database(path)
    feed_id = upsert_feed(db, name="jhu", url=URL, now=T0).id
    db.close()
    for (now, occurrences), want in zip(versions, expected, strict=True):
        db = open_database(path)  # a fresh process would see exactly this
        stored = load_events(db, feed_id)
        got = diff_feed("seminar", stored, feed_of(occurrences, now=now), now=now)
        assert got == want
        save_poll_result(db, feed_id, got, now=now, etag=None, last_modified=None, body_hash=None)
        db.close()
    db = open_database(path)
    assert [r.kind for r in list_outbox(db)] == ["announce", "announce", "update", "cancel"]


def test_crash_after_the_events_upsert_leaves_everything_unchanged(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = upsert_feed(db, name="jhu", url=URL, now=T0)
    poll_and_save(db, feed.id, [occ("a", T0 + DAY)], T0)
    before_events = load_events(db, feed.id)
    before_outbox = list_outbox(db)
    second = [occ("a", T0 + DAY, location="B17"), occ("b", T0 + 2 * DAY)]
    result = diff_feed("seminar", before_events, feed_of(second, now=T0 + MIN), now=T0 + MIN)

    def crash(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(outbox_store, "insert_outbox_rows", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            save_poll_result(
                db, feed.id, result, now=T0 + MIN, etag=None, last_modified=None, body_hash=None
            )
    assert load_events(db, feed.id) == before_events
    assert list_outbox(db) == before_outbox
    assert not db.conn.in_transaction

    # The poller re-runs the poll: same diff, same outbox as a run that never crashed.
    rerun = diff_feed(
        "seminar", load_events(db, feed.id), feed_of(second, now=T0 + MIN), now=T0 + MIN
    )
    save_poll_result(
        db, feed.id, rerun, now=T0 + MIN, etag=None, last_modified=None, body_hash=None
    )
    clean = open_database(None)
    clean_feed = upsert_feed(clean, name="jhu", url=URL, now=T0)
    poll_and_save(clean, clean_feed.id, [occ("a", T0 + DAY)], T0)
    poll_and_save(clean, clean_feed.id, second, T0 + MIN)
    assert [r.idem_key for r in list_outbox(db)] == [r.idem_key for r in list_outbox(clean)]
    assert len(list_outbox(db)) == 3


def test_save_waits_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = open_database(path)
    feed = upsert_feed(db, name="jhu", url=URL, now=T0)
    result = diff_feed("seminar", [], feed_of(weekly(2), now=T0), now=T0)
    locked, release, done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold_write_lock() -> None:
        try:
            other = open_database(path)
            other.conn.execute("BEGIN IMMEDIATE")
            other.conn.execute("UPDATE feeds SET last_error = 'held' WHERE id = ?", [feed.id])
            locked.set()
            release.wait(0.5)  # hold the lock ~0.5 s (or until told to let go)
            other.conn.execute("COMMIT")
            other.close()
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            done.set()

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    assert locked.wait(5)
    started = time.monotonic()
    ids = save_poll_result(
        db, feed.id, result, now=T0, etag=None, last_modified=None, body_hash=None
    )
    waited = time.monotonic() - started
    release.set()
    holder.join(5)
    assert done.is_set() and not errors
    assert len(ids) == 2
    assert waited >= 0.3  # it really waited for the other writer rather than skipping it
    saved = get_feed(db, feed.id)
    assert saved is not None and saved.last_ok_at == T0 and saved.last_error is None


def test_failed_poll_changes_no_event_and_counts_up(db: Database) -> None:
    feed = upsert_feed(db, name="jhu", url=URL, now=T0)
    poll_and_save(db, feed.id, weekly(2), T0)
    events = load_events(db, feed.id)
    after = record_poll_failure(
        db,
        feed.id,
        now=T0 + MIN,
        reason="http_error",
        message="HTTP 503",
        next_poll_at=T0 + 10 * MIN,
    )
    after = record_poll_failure(
        db,
        feed.id,
        now=T0 + 11 * MIN,
        reason="timeout",
        message="timed out",
        next_poll_at=T0 + 30 * MIN,
    )
    assert (after.fail_count, after.last_error_reason, after.last_error) == (
        2,
        "timeout",
        "timed out",
    )
    assert after.next_poll_at == T0 + 30 * MIN and after.last_ok_at == T0
    assert load_events(db, feed.id) == events
    ok = record_not_modified(db, feed.id, now=T0 + 31 * MIN, next_poll_at=T0 + 60 * MIN)
    assert (ok.fail_count, ok.last_ok_at, ok.last_error) == (0, T0 + 31 * MIN, None)
    assert [p.outcome for p in recent_polls(db, feed.id)] == [
        "not_modified",
        "error",
        "error",
        "ok",
    ]


def test_suspect_poll_marks_the_feed_and_a_good_one_clears_it(db: Database) -> None:
    feed = upsert_feed(db, name="jhu", url=URL, now=T0)
    ten = weekly(10)
    poll_and_save(db, feed.id, ten, T0)
    result = poll_and_save(db, feed.id, [ten[0], ten[9]], T0 + MIN)
    assert result.suspect
    suspect = get_feed(db, feed.id)
    assert suspect is not None and suspect.status == "suspect"
    assert recent_polls(db, feed.id)[0].reason == "mass_drop"
    poll_and_save(db, feed.id, ten, T0 + 2 * MIN)
    back = get_feed(db, feed.id)
    assert back is not None and back.status == "active"


def test_poll_log_is_bounded_per_feed(db: Database) -> None:
    feed = upsert_feed(db, name="jhu", url=URL, now=T0)
    for i in range(event_store.POLL_LOG_KEEP + 20):
        record_not_modified(db, feed.id, now=T0 + i * MIN, next_poll_at=None)
    polls = recent_polls(db, feed.id, limit=1000)
    assert len(polls) == event_store.POLL_LOG_KEEP
    assert polls[0].at == T0 + (event_store.POLL_LOG_KEEP + 19) * MIN


def test_outbox_claim_send_and_retry_transitions(db: Database) -> None:
    feed = upsert_feed(db, name="jhu", url=URL, channel_id=CHANNEL, now=T0)
    poll_and_save(db, feed.id, weekly(2), T0)
    first, second = due_rows(db, now=T0, limit=10)

    claimed = claim_outbox_row(db, first.id, now=T0 + MIN)
    assert claimed is not None and (claimed.state, claimed.attempts) == ("sending", 1)
    assert claim_outbox_row(db, first.id, now=T0 + MIN) is None  # no double claim
    mark_outbox_sent(db, first.id, 1234, now=T0 + MIN)

    assert claim_outbox_row(db, second.id, now=T0 + MIN) is not None
    mark_outbox_failed(db, second.id, "HTTP 502", T0 + 5 * MIN, False, now=T0 + MIN)
    assert due_rows(db, now=T0 + 2 * MIN, limit=10) == []
    (retry,) = due_rows(db, now=T0 + 5 * MIN, limit=10)
    assert (retry.id, retry.attempts, retry.last_error) == (second.id, 1, "HTTP 502")
    assert claim_outbox_row(db, second.id, now=T0 + 5 * MIN) is not None
    mark_outbox_failed(db, second.id, "403 50013", None, True, now=T0 + 5 * MIN)
    rows = {r.id: r for r in list_outbox(db)}
    assert (rows[first.id].state, rows[first.id].discord_message_id) == ("sent", 1234)
    assert (rows[second.id].state, rows[second.id].attempts) == ("dead", 2)
    assert due_rows(db, now=T0 + DAY, limit=10) == []


def test_announcement_message_is_remembered_per_channel(db: Database) -> None:
    assert get_announcement_message(db, "a1", 10) is None
    set_announcement_message(db, "a1", 10, 555, now=T0)
    set_announcement_message(db, "a1", 11, 777, now=T0)
    set_announcement_message(db, "a1", 10, 556, now=T0 + MIN)
    assert get_announcement_message(db, "a1", 10) == 556
    assert get_announcement_message(db, "a1", 11) == 777
