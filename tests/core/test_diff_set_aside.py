"""The diff's fast path (events shown unchanged are set aside unvisited) must decide exactly
what visiting every event decides, over any history, with sorted or unsorted stored events."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.diff import Baseline, DiffPolicy, StoredEvent, diff_feed
from bot.core.diff.engine import _whole
from bot.core.diff.model import event_sort
from bot.core.models import Occurrence
from tests.store.factories import T0, feed_of, tec_occ

POOL = [tec_occ(100 + i, T0 + timedelta(days=i % 9, hours=i % 5)) for i in range(12)]

mutation = st.sampled_from(
    ["same", "same", "same", "equal", "retitle", "move", "cancel", "drop", "dup"]
)
version = st.lists(mutation, min_size=len(POOL), max_size=len(POOL))
step = st.tuples(version, st.integers(min_value=0, max_value=3 * 24 * 60), st.booleans())


def mutate(occ: Occurrence, how: str, n: int) -> list[Occurrence]:
    if how == "drop":
        return []
    if how == "equal":  # equal but not the same object: the slow path's business
        return [replace(occ)]
    if how == "retitle":
        return [replace(occ, summary=f"{occ.summary} v{n}")]
    if how == "move":
        post = int(occ.key.uid.split("-")[0])
        return [tec_occ(post, occ.start + timedelta(hours=1 + n % 3), summary=occ.summary)]  # type: ignore[arg-type]
    if how == "cancel":
        return [replace(occ, status="CANCELLED")]
    if how == "dup":  # the same key twice: the last one wins
        return [occ, replace(occ, summary=f"{occ.summary} dup {n}")]
    return [occ]


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_setting_aside_untouched_events_changes_no_decision(
    steps: list[tuple[list[str], int, bool]], rnd: random.Random
) -> None:
    policy = DiffPolicy(announce_window=timedelta(days=3))
    stored: list[StoredEvent] = []
    now = T0
    current = list(POOL)
    for n, (mutations, minutes, shuffle) in enumerate(steps):
        now += timedelta(minutes=minutes)
        feed: list[Occurrence] = []
        for occ, how in zip(current, mutations, strict=True):
            feed.extend(mutate(occ, how, n))
        # Keep the objects the last poll stored, so "same" really is the same object.
        current = [next((o for o in reversed(feed) if o.key == occ.key), occ) for occ in current]
        parsed = feed_of(feed, now=now)
        baseline: Baseline | None = "silent" if n == 0 else None
        given_stored = list(stored)
        if shuffle:
            rnd.shuffle(given_stored)
        expected = _whole("f", given_stored, parsed, now, policy, baseline)
        fast = diff_feed(
            "f",
            given_stored,
            parsed,
            now=now,
            policy=policy,
            baseline=baseline,
            stored_sorted=not shuffle,
        )
        assert fast == expected
        assert [event_sort(e) for e in fast.events] == sorted(event_sort(e) for e in fast.events)
        stored = list(expected.events)
