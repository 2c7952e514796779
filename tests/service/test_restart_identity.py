"""After a restart the store and the parse cache load separate copies of each occurrence.

The first poll after it must still write nothing for unchanged events, and must leave the
stored events holding the parse's own objects, so later polls can set them aside unvisited.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from bench.feedgen import render_feed, seminar_series
from bot.core.diff import diff_feed
from bot.core.diff import engine as diff_module
from bot.core.incremental import absorb, parse_changed
from bot.core.models import ParsedFeed
from bot.core.parse import ParseLimits
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store.db import open_database
from bot.store.event_cache import events_version
from bot.store.parse_cache import ParseCache

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SPAN = timedelta(days=180)


def poll(path: Path, body: bytes, now: datetime, cache: ParseCache, db: Database) -> ParsedFeed:
    feed = feed_store.get_feed_by_name(db, "f")
    assert feed is not None
    ws = now - timedelta(days=1)
    state = cache.get(feed.id)
    out = parse_changed(
        body, window_start=ws, window_end=ws + SPAN, cache=state.view() if state else None
    )
    state, added, dropped = absorb(state, out, body_hash="", settings=b"")
    cache.put(feed.id, state, added, dropped)
    assert state is not None
    parsed = state.assemble(ws, ws + SPAN, ParseLimits(), out.exact)
    assert parsed is not None
    stored = event_store.load_events(db, feed.id)
    result = diff_feed("f", stored, parsed, now=now, stored_sorted=True)
    event_store.save_poll_result(
        db, feed.id, result, now=now, etag=None, last_modified=None, body_hash=None
    )
    return parsed


def test_a_restart_costs_no_write_and_restores_the_set_aside_path(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    talks = seminar_series(30, first=NOW + timedelta(days=10))
    db = open_database(path)
    feed = feed_store.upsert_feed(db, name="f", url="http://x", now=NOW)
    poll(path, render_feed(talks, stamp=NOW), NOW, ParseCache(db), db)
    db.close()

    db = open_database(path)  # a restart: every cache starts from the database
    cache = ParseCache(db)
    before = events_version(db, feed.id)
    later = NOW + timedelta(minutes=15)
    poll(path, render_feed(talks, stamp=later), later, cache, db)
    assert events_version(db, feed.id) == before  # nothing written for unchanged events

    visited: list[int] = []
    real_diff = diff_module._diff

    def spy(*args: object, **kwargs: object) -> object:
        rest = kwargs.get("rest")
        visited.append(len(rest[1]) if isinstance(rest, tuple) else -1)
        return real_diff(*args, **kwargs)  # type: ignore[arg-type]

    diff_module._diff = spy  # type: ignore[assignment]
    try:
        even_later = later + timedelta(minutes=15)
        edited = [replace(talks[0], title="A new title"), *talks[1:]]
        parsed = poll(path, render_feed(edited, stamp=even_later), even_later, cache, db)
    finally:
        diff_module._diff = real_diff
    assert visited == [1]  # only the edited event was visited
    stored = {e.key: e for e in event_store.load_events(db, feed.id)}
    assert [stored[o.key].occurrence for o in parsed.occurrences] == list(parsed.occurrences)
    assert events_version(db, feed.id) == before + 1
    db.close()
