"""The poller's cheap path (the stored events' index kept in memory, only changed columns
written) must post, queue and store exactly what the plain path does: a diff that visits
every event of a freshly loaded feed, saved by full upserts. Both run the same histories:
edits, reschedules, cancellations, events vanishing and coming back, new events, time moving
talks into the announce window and past their end, and a restart of the cheap side."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlite_utils import Database

from bot.core.diff import DiffPolicy, DiffResult, diff_feed
from bot.core.models import Occurrence
from bot.store import event_cache
from bot.store import events as event_store
from bot.store.db import open_database
from bot.store.feeds import upsert_feed
from tests.store.factories import T0, feed_of, tec_occ

POLICY = DiffPolicy(announce_window=timedelta(days=2))


def _history(seed: int) -> list[tuple[int, list[Occurrence], bool]]:
    """(minutes since T0, the feed, restart the cheap side first) for each poll."""
    rnd = random.Random(seed)
    talks = {i: tec_occ(i, T0 + timedelta(hours=7 * i)) for i in range(1, 41)}
    gone: dict[int, Occurrence] = {}
    minutes, out = 0, []
    for n in range(16):
        for _ in range(rnd.choice([0, 1, 1, 2, 5])):
            post = rnd.choice(list(talks))
            how = rnd.choice(["retitle", "room", "move", "cancel", "drop", "back", "new"])
            talk = talks[post]
            if how == "retitle":
                talks[post] = replace(talk, summary=f"{talk.summary} (rev {n})")
            elif how == "room":
                talks[post] = replace(talk, location=f"Room {n}")
            elif how == "move":
                talks[post] = tec_occ(post, talk.start + timedelta(hours=3))  # type: ignore[operator]
            elif how == "cancel":
                talks[post] = replace(talk, status="CANCELLED")
            elif how == "drop":
                gone[post] = talks.pop(post)
            elif how == "back" and gone:
                back = rnd.choice(list(gone))
                talks[back] = gone.pop(back)
            elif how == "new":
                post = 100 + n
                talks[post] = tec_occ(post, T0 + timedelta(hours=rnd.randint(1, 300)))
        feed = sorted(talks.values(), key=lambda o: (o.start, o.key))
        out.append((minutes, feed, n == 9))
        minutes += rnd.choice([15, 15, 40, 6 * 60, 26 * 60])
    return out


def _rows(db: Database) -> list[tuple[Any, ...]]:
    return db.conn.execute(
        "SELECT e.uid, e.recurrence_id, e.occurrence_json, e.fingerprint, e.state, e.start_utc,"
        " e.end_utc, e.all_day, e.missing_count, e.missing_since, e.announcement_id,"
        " e.revision, e.first_seen, e.last_seen, f.title, f.extra, f.abstract"
        " FROM events e JOIN events_fts f ON f.rowid = e.rowid ORDER BY e.uid, e.recurrence_id"
    ).fetchall()


def _queued(db: Database) -> list[tuple[Any, ...]]:
    return db.conn.execute(
        "SELECT idem_key, kind, announcement_id, event_key, payload_json FROM outbox ORDER BY id"
    ).fetchall()


def _poll(
    db: Database, feed_id: int, feed: list[Occurrence], minutes: int, cheap: bool
) -> DiffResult:
    now = T0 + timedelta(minutes=minutes)
    parsed = feed_of(feed, now=now)
    if cheap:
        stored, index = event_store.load_for_diff(db, feed_id)
        result = diff_feed(
            "f", stored, parsed, now=now, policy=POLICY, stored_sorted=True, index=index
        )
    else:
        event_cache.take(db, feed_id)  # read every row again: no identity to lean on
        stored = event_store.load_events(db, feed_id)
        result = diff_feed("f", stored, parsed, now=now, policy=POLICY)
        event_cache.take(db, feed_id)  # and save with full upserts
    event_store.save_poll_result(
        db, feed_id, result, now=now, etag=None, last_modified=None, body_hash=None
    )
    return result


@pytest.mark.parametrize("seed", range(6))
def test_the_cheap_poll_path_posts_and_stores_what_the_plain_one_does(seed: int) -> None:
    plain, cheap = open_database(None), open_database(None)
    feeds = [upsert_feed(db, name="f", url="http://x", now=T0).id for db in (plain, cheap)]
    used_index = 0
    for step, (minutes, feed, restart) in enumerate(_history(seed)):
        if restart:  # the cheap side loses its memory: the next poll rebuilds from the rows
            event_cache.take(cheap, feeds[1])
        expected = _poll(plain, feeds[0], feed, minutes, cheap=False)
        got = _poll(cheap, feeds[1], feed, minutes, cheap=True)
        used_index += got.visited is not None
        assert [a.to_dict() for a in got.actions] == [a.to_dict() for a in expected.actions], step
        assert got.over_cap == expected.over_cap, step
        assert _rows(cheap) == _rows(plain), step
        assert _queued(cheap) == _queued(plain), step
    assert used_index >= 5  # the cheap path really was taken (pairing needs the walk)


def test_a_title_edit_rewrites_only_what_changed() -> None:
    db = open_database(None)
    feed_id = upsert_feed(db, name="f", url="http://x", now=T0).id
    talks = [tec_occ(i, T0 + timedelta(days=5, hours=i)) for i in range(1, 6)]
    _poll(db, feed_id, talks, 0, cheap=True)
    _poll(db, feed_id, talks, 15, cheap=True)
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    edited = [replace(talks[0], summary="A better title"), *talks[1:]]
    _poll(db, feed_id, edited, 30, cheap=True)
    db.conn.set_trace_callback(None)
    # (a statement is traced again for each trigger it fires)
    writes = sorted({s for s in statements if "events SET" in s or "INTO events " in s})
    assert len(writes) == 1 and writes[0].lstrip().startswith("UPDATE events SET occurrence_json")
    assert "start_utc" not in writes[0]  # the time did not move: its indexes are left alone
    title = db.conn.execute(
        "SELECT f.title FROM events e JOIN events_fts f ON f.rowid = e.rowid WHERE e.uid = ?",
        [talks[0].key.uid],
    ).fetchone()
    assert title == ("A better title",)
