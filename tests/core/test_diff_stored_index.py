"""The indexed set-aside (the store's index of a feed's events, patched poll by poll) must
decide exactly what visiting every event decides, over any history: events entering the
announce window with no change, edits, moves, cancellations, drops, duplicates, parses in
the stored order or not, and an index rebuilt from scratch (a restart) or carried along."""

from __future__ import annotations

import operator
import random
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.diff import Baseline, DiffPolicy, DiffResult, StoredEvent, StoredIndex, diff_feed
from bot.core.diff.engine import _whole
from bot.core.diff.model import event_sort
from bot.core.models import ActionKind, Occurrence
from tests.core.test_diff_set_aside import mutate
from tests.store.factories import T0, feed_of, tec_occ

POOL = [tec_occ(100 + i, T0 + timedelta(days=i % 9, hours=i % 5)) for i in range(30)]
POLICY = DiffPolicy(announce_window=timedelta(days=3))

#: A few events changed per poll (most polls of a large feed), now and then many.
changes = st.dictionaries(
    st.integers(min_value=0, max_value=len(POOL) - 1),
    st.sampled_from(["equal", "retitle", "move", "cancel", "drop", "dup"]),
    max_size=4,
) | st.lists(
    st.sampled_from(["same", "same", "equal", "retitle", "move", "cancel", "drop", "dup"]),
    min_size=len(POOL),
    max_size=len(POOL),
).map(lambda kinds: dict(enumerate(kinds)))
#: The changes, minutes to advance, the order the parse lists occurrences in, a restart.
step = st.tuples(
    changes,
    st.integers(min_value=0, max_value=2 * 24 * 60),
    st.sampled_from(["sorted", "sorted", "feed", "shuffled"]),
    st.booleans(),
)


def fresh_events(index: StoredIndex, result: DiffResult) -> list[StoredEvent]:
    """What the store writes: the events that are not the very objects it holds."""
    if result.visited is not None and result.basis is index:
        return [e for e in result.visited if index.by_key.get(e.key) is not e]
    known = {id(e) for e in index.events}
    return [e for e in result.events if id(e) not in known]


def same_index(a: StoredIndex, b: StoredIndex) -> bool:
    return (
        a.events == b.events
        and a.by_key == b.by_key
        and a.keys == b.keys
        and all(map(operator.is_, a.occurrences, b.occurrences))
        and len(a.occurrences) == len(b.occurrences)
        and a.by_occurrence == b.by_occurrence
        and a.restless == b.restless
        and a.pending_until(T0 + timedelta(days=3650)) == b.pending_until(T0 + timedelta(days=3650))
    )


def in_order(feed: list[Occurrence], how: str, rnd: random.Random) -> list[Occurrence]:
    if how == "sorted":
        return sorted(feed, key=lambda o: (o.start, o.key))
    if how == "shuffled":
        feed = list(feed)
        rnd.shuffle(feed)
    return feed


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=10), st.randoms(use_true_random=False))
def test_the_indexed_set_aside_changes_no_decision(
    steps: list[tuple[dict[int, str], int, str, bool]], rnd: random.Random
) -> None:
    index = StoredIndex([], {})
    now = T0 - timedelta(days=2)
    current = list(POOL)
    for n, (mutations, minutes, order, restart) in enumerate(steps):
        now += timedelta(minutes=minutes)
        feed: list[Occurrence] = []
        for position, occ in enumerate(current):
            feed.extend(mutate(occ, mutations.get(position, "same"), n))
        current = [next((o for o in reversed(feed) if o.key == occ.key), occ) for occ in current]
        parsed = feed_of(in_order(feed, order, rnd), now=now)
        baseline: Baseline | None = "silent" if n == 0 else None
        if restart:  # the copy in memory was lost: the store rebuilds the index
            index = StoredIndex(list(index.events), dict(index.by_key))
        expected = _whole("f", list(index.events), parsed, now, POLICY, baseline)
        fast = diff_feed(
            "f",
            index.events,
            parsed,
            now=now,
            policy=POLICY,
            baseline=baseline,
            stored_sorted=True,
            index=index,
        )
        assert fast == expected
        events = list(fast.events)
        assert [event_sort(e) for e in events] == sorted(event_sort(e) for e in events)
        index.advance(events, fresh_events(index, fast), fast.removed)
        assert index.usable
        assert same_index(index, StoredIndex(events, {e.key: e for e in events}))


def _index_of(result: DiffResult) -> StoredIndex:
    events = list(result.events)
    return StoredIndex(events, {e.key: e for e in events})


def _poll(index: StoredIndex, feed: list[Occurrence], minutes: int) -> DiffResult:
    now = T0 + timedelta(minutes=minutes)
    result = diff_feed(
        "f", index.events, feed_of(feed, now=now), now=now, policy=POLICY, index=index
    )
    index.advance(list(result.events), fresh_events(index, result), result.removed)
    return result


def test_a_talk_entering_the_announce_window_unchanged_is_announced() -> None:
    talks = [tec_occ(1, T0 + timedelta(days=5)), tec_occ(2, T0 + timedelta(days=20))]
    now = T0
    first = diff_feed("f", [], feed_of(talks, now=now), now=now, policy=POLICY)
    index = _index_of(first)
    assert _poll(index, talks, 60).actions == ()
    # Two days later the first talk is three days away: same objects, nothing else changed.
    later = _poll(index, talks, 2 * 24 * 60 + 1)
    assert [(a.kind, a.key) for a in later.actions] == [(ActionKind.ANNOUNCE, talks[0].key)]
    assert later.visited is not None  # decided by the index, not by a walk


def test_an_edit_of_an_announced_talk_is_posted_and_the_rest_set_aside() -> None:
    talks = [tec_occ(i, T0 + timedelta(days=1 + i // 5, hours=i)) for i in range(1, 40)]
    now = T0
    first = diff_feed("f", [], feed_of(talks, now=now), now=now, policy=POLICY)
    assert len(first.actions) == 9  # the talks of the next three days
    index = _index_of(first)
    assert _poll(index, talks, 5).actions == ()
    edited = [*talks[:2], replace(talks[2], location="Room 9"), *talks[3:]]
    result = _poll(index, edited, 10)
    assert [(a.kind, a.key) for a in result.actions] == [(ActionKind.UPDATE, talks[2].key)]
    assert result.visited is not None and len(result.visited) == 1


def test_a_restart_with_fresh_copies_of_every_occurrence_decides_the_same() -> None:
    talks = [tec_occ(i, T0 + timedelta(days=i % 6, hours=i)) for i in range(1, 40)]
    now = T0
    index = _index_of(diff_feed("f", [], feed_of(talks, now=now), now=now, policy=POLICY))
    copies = [replace(t) for t in talks]  # equal values, new objects (a reloaded cache)
    copies[0] = replace(copies[0], summary="Renamed")
    now = T0 + timedelta(days=1)
    expected = _whole("f", list(index.events), feed_of(copies, now=now), now, POLICY, None)
    result = _poll(index, copies, 24 * 60)
    assert result == expected
    assert any(a.kind is ActionKind.UPDATE for a in result.actions)
