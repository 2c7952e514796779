"""What keeps a large poll cheap must never change what a poll decides.

Unchanged events cost no write, the in-memory copy of a feed's events never goes stale, and a
body that differs only in DTSTAMP lines is recognised without a parse.
"""

from __future__ import annotations

import json
from datetime import timedelta

from bench.feedgen import Talk, render_feed
from bot.core.diff import diff_feed
from bot.core.incremental import content_digest
from bot.store.db import open_database
from bot.store.event_cache import events_version
from bot.store.events import load_events, save_poll_result
from bot.store.feeds import upsert_feed
from tests.store.factories import T0, feed_of, weekly

URL = "https://www.cs.example.edu/events/?ical=1"


def _poll(db, feed_id, occurrences, now):  # type: ignore[no-untyped-def]
    result = diff_feed("s", load_events(db, feed_id), feed_of(occurrences, now=now), now=now)
    save_poll_result(db, feed_id, result, now=now, etag=None, last_modified=None, body_hash=None)
    return result


def test_an_unchanged_poll_writes_no_event_row() -> None:
    db = open_database(None)
    feed = upsert_feed(db, name="s", url=URL, now=T0)
    talks = weekly(20)
    _poll(db, feed.id, talks, T0)
    before = events_version(db, feed.id)
    _poll(db, feed.id, talks, T0 + timedelta(minutes=15))
    assert events_version(db, feed.id) == before
    edited = [talks[0].with_changes(summary="A new title"), *talks[1:]]
    result = _poll(db, feed.id, edited, T0 + timedelta(minutes=30))
    assert events_version(db, feed.id) == before + 1
    stored = {e.key: e for e in load_events(db, feed.id)}
    assert stored[talks[0].key].occurrence.summary == "A new title"
    assert [e for e in result.events] == sorted(
        stored.values(), key=lambda e: (e.occurrence.start, e.key)
    )


def test_the_in_memory_events_follow_writes_made_elsewhere() -> None:
    db = open_database(None)
    feed = upsert_feed(db, name="s", url=URL, now=T0)
    talks = weekly(3)
    _poll(db, feed.id, talks, T0)
    assert len(load_events(db, feed.id)) == 3  # now held in memory
    data = talks[1].with_changes(summary="Edited by hand").to_dict()
    db.conn.execute(
        "UPDATE events SET occurrence_json = ? WHERE feed_id = ? AND uid = ?",
        [json.dumps(data), feed.id, talks[1].key.uid],
    )
    db.conn.execute("DELETE FROM events WHERE feed_id = ? AND uid = ?", [feed.id, talks[2].key.uid])
    events = load_events(db, feed.id)
    assert [e.occurrence.summary for e in events] == [talks[0].summary, "Edited by hand"]


def test_a_failed_save_leaves_the_in_memory_events_as_the_table() -> None:
    db = open_database(None)
    feed = upsert_feed(db, name="s", url=URL, now=T0)
    _poll(db, feed.id, weekly(3), T0)
    before = load_events(db, feed.id)
    now = T0 + timedelta(minutes=15)
    result = diff_feed("s", before, feed_of(weekly(2), now=now), now=now)
    db.conn.execute("DROP TABLE poll_log")  # the save's last statement fails: all rolls back
    try:
        save_poll_result(
            db, feed.id, result, now=now, etag=None, last_modified=None, body_hash=None
        )
    except Exception:
        pass
    else:  # pragma: no cover
        raise AssertionError("the save should have failed")
    assert load_events(db, feed.id) == before


def test_content_digest_ignores_stamps_and_nothing_else() -> None:
    talks = [Talk(post_id=i, start=T0 + timedelta(days=i)) for i in range(3)]
    a = render_feed(talks, stamp=T0)
    b = render_feed(talks, stamp=T0 + timedelta(hours=1))
    assert a != b and content_digest(a) == content_digest(b)
    mixed = b.replace(b"DTSTAMP:20", b"DTSTAMP:19", 1)  # stamps that differ between events
    assert content_digest(mixed) == content_digest(a)
    edited = render_feed(
        [talks[0], talks[1].moved(talks[1].start + timedelta(hours=1)), talks[2]], stamp=T0
    )
    assert content_digest(edited) != content_digest(a)
    # A folded stamp line is not a whole line: dropping it would glue its continuation onto
    # the line before, which parses differently.
    stamp_line = f"DTSTAMP:{T0:%Y%m%dT%H%M%S}\r\n".encode()
    folded = a.replace(stamp_line, stamp_line + b" x\r\n", 1)
    glued = folded.replace(stamp_line, b"", 1)
    assert folded != a and content_digest(folded) != content_digest(glued)
