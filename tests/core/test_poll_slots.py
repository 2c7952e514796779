"""Poll slots: spread across the interval by feed id, exactly one period apart, never skipped."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from bot.core.poll_slots import (
    CATCH_UP_SPREAD,
    catch_up_spread,
    decide_fire,
    first_fire,
    nearest_slot,
    phase_of,
    poll_period,
    slot_after,
    slot_at_or_after,
)

T0 = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
periods = st.integers(min_value=60, max_value=7 * 86400).map(lambda s: timedelta(seconds=s))
feed_ids = st.integers(min_value=0, max_value=2**40)
moments = st.integers(min_value=0, max_value=10 * 365 * 86400 * 1000).map(
    lambda ms: T0 + timedelta(milliseconds=ms)
)


@given(feed_ids, periods, moments)
def test_slots_are_exactly_one_period_apart_and_never_further_than_one_period(
    feed_id: int, period: timedelta, moment: datetime
) -> None:
    first = slot_after(moment, feed_id, period)
    assert timedelta(0) < first - moment <= period
    assert timedelta(0) <= slot_at_or_after(moment, feed_id, period) - moment < period
    following = [first]
    for _ in range(5):
        following.append(slot_after(following[-1], feed_id, period))
    assert {b - a for a, b in pairwise(following)} == {period}


@given(feed_ids, periods, moments, moments)
def test_slots_are_the_same_from_any_starting_point_so_a_restart_keeps_them(
    feed_id: int, period: timedelta, before: datetime, after: datetime
) -> None:
    # Two processes (before and after a restart) computing the feed's slots agree.
    assert (slot_after(before, feed_id, period) - slot_after(after, feed_id, period)) % period == (
        timedelta(0)
    )
    assert 0 <= phase_of(feed_id, period) / period < 1


@given(
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=1, max_value=1000),
    st.integers(min_value=60, max_value=3600),
)
def test_a_run_of_feed_ids_is_spread_across_the_period(
    first_id: int, count: int, seconds: int
) -> None:
    period = timedelta(seconds=seconds)
    per_second = Counter(
        int(phase_of(feed_id, period).total_seconds())
        for feed_id in range(first_id, first_id + count)
    )
    assert max(per_second.values()) <= math.ceil(count / seconds) + 2


@given(feed_ids, periods, moments, st.floats(min_value=0.001, max_value=0.49))
def test_an_early_wake_up_is_deferred_to_the_due_time_not_dropped(
    feed_id: int, period: timedelta, moment: datetime, early: float
) -> None:
    due = slot_after(moment, feed_id, period)  # what the last poll stored
    woke = due - period * early
    decision = decide_fire(woke, feed_id, period, due_at=due)
    assert decision.action == "defer" and decision.at == due


@given(feed_ids, periods, moments, st.floats(min_value=0, max_value=0.49))
def test_a_late_wake_up_runs_at_once(
    feed_id: int, period: timedelta, moment: datetime, late: float
) -> None:
    due = slot_after(moment, feed_id, period)
    woke = due + period * late
    assert decide_fire(woke, feed_id, period, due_at=due).action == "run"
    assert decide_fire(woke, feed_id, period, due_at=None).action == "run"


def test_a_feed_backing_off_past_its_following_slot_lets_this_wake_up_pass() -> None:
    period = timedelta(minutes=5)
    slot = slot_after(T0, 42, period)
    backoff_until = slot + 2 * period + timedelta(seconds=3)
    assert decide_fire(slot, 42, period, due_at=backoff_until).action == "skip"
    assert decide_fire(slot + period, 42, period, due_at=backoff_until).action == "skip"
    # The wake-up just before the backoff ends waits for it instead of adding a whole period.
    assert decide_fire(slot + 2 * period, 42, period, due_at=backoff_until).at == backoff_until


def test_nearest_slot_tells_an_early_wake_up_from_a_late_one() -> None:
    period = timedelta(seconds=60)
    slot = slot_after(T0, 7, period)
    assert nearest_slot(slot - timedelta(seconds=20), 7, period) == slot
    assert nearest_slot(slot + timedelta(seconds=20), 7, period) == slot


def test_after_a_restart_due_feeds_catch_up_spread_and_others_keep_their_slot() -> None:
    period = timedelta(minutes=5)
    firsts = [first_fire(T0, feed_id, period, due_at=None) for feed_id in range(1, 301)]
    assert all(T0 <= at < T0 + CATCH_UP_SPREAD for at in firsts)
    assert max(Counter(int((at - T0).total_seconds()) for at in firsts).values()) <= 7
    not_due = first_fire(T0, 9, period, due_at=T0 + timedelta(minutes=3))
    assert not_due == slot_at_or_after(T0, 9, period)


def test_one_due_feed_starts_at_once_and_a_fleet_within_a_minute_five_a_second() -> None:
    assert catch_up_spread(1) == timedelta(milliseconds=200)
    assert first_fire(T0, 1, timedelta(minutes=15), due_at=None, spread=catch_up_spread(1)) < (
        T0 + timedelta(milliseconds=200)
    )
    assert catch_up_spread(1000) == CATCH_UP_SPREAD
    spread = catch_up_spread(150)
    firsts = [
        first_fire(T0, i, timedelta(minutes=5), due_at=None, spread=spread) for i in range(1, 151)
    ]
    assert max(Counter(int((at - T0).total_seconds()) for at in firsts).values()) <= 7


def test_the_period_is_whole_seconds_and_never_under_a_minute() -> None:
    assert poll_period(timedelta(seconds=5)) == timedelta(seconds=60)
    assert poll_period(timedelta(seconds=90.7)) == timedelta(seconds=90)
