"""The incremental parse must yield exactly what a full parse yields (correctness first)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.feedgen import Talk, render_feed, seminar_series
from bot.core.diff import diff_feed
from bot.core.incremental import FeedState, absorb, parse_changed
from bot.core.models import ParsedFeed
from bot.core.parse import ParseLimits, parse_feed
from bot.errors import FeedError
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store.db import open_database
from bot.store.parse_cache import ParseCache
from tests.conftest import corpus_files

W0 = datetime(2025, 10, 1, tzinfo=UTC)
SPAN = timedelta(days=180)


def full(body: bytes, ws: datetime) -> ParsedFeed | str:
    try:
        return parse_feed(body, window_start=ws, window_end=ws + SPAN)
    except FeedError as exc:
        return exc.reason


def incremental(
    body: bytes, ws: datetime, state: FeedState | None
) -> tuple[ParsedFeed | str, FeedState | None]:
    try:
        out = parse_changed(
            body, window_start=ws, window_end=ws + SPAN, cache=state.view() if state else None
        )
    except FeedError as exc:
        return exc.reason, None
    state, _, _ = absorb(state, out, body_hash="", settings=b"")
    if out.full is not None:
        return out.full, state
    assert state is not None
    parsed = state.assemble(ws, ws + SPAN, ParseLimits(), out.exact)
    return (parsed if parsed is not None else full(body, ws)), state


def same(a: ParsedFeed | str, b: ParsedFeed | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return (
        a.occurrences == b.occurrences
        and sorted(map(repr, a.skipped)) == sorted(map(repr, b.skipped))
        and (a.calendar_name, a.calendar_timezone, a.producer, a.event_count)
        == (b.calendar_name, b.calendar_timezone, b.producer, b.event_count)
    )


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_corpus_file_parses_the_same_cold_and_warm(path: Path) -> None:
    body = path.read_bytes()
    state = None
    for ws in (W0, W0 + timedelta(hours=5), W0 + timedelta(days=20)):
        inc, state = incremental(body, ws, state)
        assert same(full(body, ws), inc), ws


NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def versions() -> list[tuple[datetime, bytes]]:
    """Successive exports: the engine's diff scenarios as feed bodies."""
    talks = seminar_series(40, first=NOW - timedelta(days=2), recurring_share=0.1)
    out: list[tuple[datetime, bytes]] = []
    t = NOW

    def add(ts: list[Talk], minutes: int = 15) -> None:
        nonlocal t
        t += timedelta(minutes=minutes)
        out.append((t, render_feed(ts, stamp=t)))

    add(talks)
    add(talks)  # unchanged apart from DTSTAMP churn
    add(talks)
    add([*talks, Talk(post_id=9, start=NOW + timedelta(days=2))])  # new
    talks[5] = replace(talks[5], title="An edited title")  # edited
    talks[6] = talks[6].moved(talks[6].start + timedelta(hours=2))  # moved: TEC changes the UID
    talks[7] = replace(talks[7], room="Malone Hall 228")  # room change
    talks[8] = replace(talks[8], status="CANCELLED")  # cancelled
    add(talks)
    del talks[9]  # vanished
    add(talks)
    add(talks, minutes=40)
    series = talks[10]
    talks[10] = replace(series, start=series.start + timedelta(hours=1))  # series moved, same UID
    add(talks)
    add(talks, minutes=60 * 24 * 16)  # the window leaves the expansion horizon
    add(talks)
    return out


def test_diff_scenarios_yield_the_same_actions_and_stored_events() -> None:
    db_full, db_inc = open_database(None), open_database(None)
    cache = ParseCache(db_inc)
    f_full = feed_store.upsert_feed(db_full, name="f", url="http://x", now=NOW)
    f_inc = feed_store.upsert_feed(db_inc, name="f", url="http://x", now=NOW)
    state: FeedState | None = None
    for index, (now, body) in enumerate(versions()):
        ws = now - timedelta(days=1)
        reference = full(body, ws)
        out = parse_changed(
            body, window_start=ws, window_end=ws + SPAN, cache=state.view() if state else None
        )
        state, added, dropped = absorb(cache.get(f_inc.id), out, body_hash="", settings=b"")
        cache.put(f_inc.id, state, added, dropped)
        assert state is not None and out.full is None
        parsed = state.assemble(ws, ws + SPAN, ParseLimits(), out.exact)
        assert isinstance(reference, ParsedFeed) and isinstance(parsed, ParsedFeed)
        assert same(reference, parsed), index
        outcomes = []
        for db, feed, p in ((db_full, f_full, reference), (db_inc, f_inc, parsed)):
            result = diff_feed(
                "f",
                event_store.load_events(db, feed.id),
                p,
                now=now,
                baseline="announce" if index == 0 else None,
            )
            event_store.save_poll_result(
                db, feed.id, result, now=now, etag=None, last_modified=None, body_hash=None
            )
            outcomes.append(result)
        assert [a.to_dict() for a in outcomes[0].actions] == [
            a.to_dict() for a in outcomes[1].actions
        ], index
        assert event_store.load_events(db_full, f_full.id) == event_store.load_events(
            db_inc, f_inc.id
        ), index
    # The store round-trips the cache: a restart resumes where it was.
    reloaded = ParseCache(db_inc).get(f_inc.id)
    assert reloaded is not None and state is not None
    assert reloaded.groups == state.groups and reloaded.order == state.order
    kinds = {a["kind"] for a in (x.to_dict() for x in outcomes[0].actions)}
    assert kinds <= {"announce", "update", "reschedule", "cancel"}
