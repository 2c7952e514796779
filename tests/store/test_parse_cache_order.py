"""The remembered group order survives a restart: packed, in the older list form, and as a
patch of a stored base (so a poll editing one talk does not rewrite the whole order)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlite_utils import Database

from bot.core.incremental import FeedState, GroupResult
from bot.store.db import open_database
from bot.store.feeds import upsert_feed
from bot.store.parse_cache import ParseCache, _decode_order, _encode_order


@given(st.lists(st.binary(min_size=16, max_size=16), max_size=50))
def test_packed_order_round_trips(order: list[bytes]) -> None:
    stored = json.loads(json.dumps(_encode_order(tuple(order))))
    assert _decode_order(stored) == tuple(order)


def test_rows_written_before_packing_still_load() -> None:
    assert _decode_order({"order": ["00ff", "abcd"]}) == (b"\x00\xff", b"\xab\xcd")


def test_digests_of_mixed_sizes_keep_the_list_form() -> None:
    stored = _encode_order((b"ab", b"abc"))
    assert "order" in stored and _decode_order(stored) == (b"ab", b"abc")


def test_a_damaged_packed_order_is_refused() -> None:
    with pytest.raises(ValueError):
        _decode_order({"order_packed": "YWJj", "size": 2})  # three bytes in twos


# --- the order as a patch of a stored base -------------------------------------------------

T = datetime(2026, 3, 2, tzinfo=UTC)


def _state(order: list[bytes]) -> FeedState:
    return FeedState(
        context=b"ctx",
        horizon_start=T,
        horizon_end=T + timedelta(days=200),
        meta=("name", "UTC", "producer"),
        order=tuple(order),
        event_count=len(order),
        groups={d: GroupResult() for d in order},
        body_hash="c:00",
        settings=b"s",
    )


def _digest(n: int) -> bytes:
    return n.to_bytes(16, "big")


def _state_row(db: Database) -> str:
    return str(db.conn.execute("SELECT state_json FROM parse_cache").fetchone()[0])


def test_the_order_survives_restarts_through_patches_and_new_bases() -> None:
    db = open_database(None)
    feed = upsert_feed(db, name="f", url="http://x", now=T).id
    cache = ParseCache(db)
    order = [_digest(n) for n in range(3000)]
    rnd = random.Random(7)
    previous: set[bytes] = set()
    for step in range(12):
        if step == 4:
            order.append(_digest(10_000))  # another length: a new base
        elif step == 8:
            order = [_digest(20_000 + n) for n in range(3000)]  # everything new: a new base
        else:
            for _ in range(rnd.choice([1, 5, 100])):
                order[rnd.randrange(len(order))] = _digest(rnd.randrange(1 << 60))
        state = _state(order)
        cache.put(feed, state, set(state.groups) - previous, previous - set(state.groups))
        previous = set(state.groups)
        reloaded = ParseCache(db).get(feed)
        assert reloaded is not None and reloaded.order == tuple(order), step
        assert reloaded.groups == state.groups, step


def test_editing_a_group_writes_a_small_state_row_not_the_whole_order() -> None:
    db = open_database(None)
    feed = upsert_feed(db, name="f", url="http://x", now=T).id
    cache = ParseCache(db)
    order = [_digest(n) for n in range(10_000)]
    cache.put(feed, _state(order), set(order), set())
    order[1234] = _digest(99_999)
    cache.put(feed, _state(order), {order[1234]}, {_digest(1234)})
    assert len(_state_row(db)) < 1000
    reloaded = ParseCache(db).get(feed)
    assert reloaded is not None and reloaded.order == tuple(order)


def test_a_state_row_whose_base_is_gone_starts_over() -> None:
    db = open_database(None)
    feed = upsert_feed(db, name="f", url="http://x", now=T).id
    order = [_digest(n) for n in range(10)]
    ParseCache(db).put(feed, _state(order), set(order), set())
    db.conn.execute("DELETE FROM parse_cache_groups WHERE digest = ?", [b""])
    assert ParseCache(db).get(feed) is None
