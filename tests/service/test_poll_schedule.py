"""The poll scheduler driven with an injected clock: 300 feeds, many periods, noisy wake-ups.

The fires come from the real APScheduler trigger the bot installs and each wake-up goes
through the same gate as the bot's scheduled poll, so this is the production schedule with
only time replaced.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from bot.clock import FixedClock
from bot.core.poll_slots import catch_up_spread, first_fire, nearest_slot, slot_after
from bot.service.scheduler import poll_trigger, wait_until_due

T0 = datetime(2026, 12, 6, 5, 0, 17, tzinfo=UTC)
FEEDS = range(1, 301)
PERIOD = timedelta(seconds=60)
CYCLES = 40


class SleepingClock(FixedClock):
    """A fixed clock whose ``sleep`` moves it, so a deferred wake-up costs no real time."""

    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds=seconds)


async def simulate_feed(
    feed_id: int, rng: random.Random
) -> tuple[list[datetime], list[datetime], list[float]]:
    """Fires, poll starts and deferrals for one feed over CYCLES periods.

    A wake-up lands up to 0.4 s early (another clock, a coarse timer) or 2 s late (a busy
    loop); the poll reads its clock up to 3 s after starting (queued behind the database).
    """
    trigger = poll_trigger(feed_id, PERIOD)
    clock = SleepingClock(T0)
    # The first fire is the start-up catch-up, off the feed's grid, as the bot schedules it.
    fire = first_fire(T0, feed_id, PERIOD, due_at=None, spread=catch_up_spread(len(FEEDS)))
    due: datetime | None = None
    fires: list[datetime] = []
    starts: list[datetime] = []
    while len(fires) < CYCLES:
        fires.append(fire)
        clock.set(fire + timedelta(seconds=rng.uniform(-0.4, 2.0)))
        if await wait_until_due(clock, feed_id, PERIOD, due, sleep=clock.sleep):
            starts.append(clock.now())
            due = slot_after(clock.now() + timedelta(seconds=rng.uniform(0, 3)), feed_id, PERIOD)
        fire = trigger.get_next_fire_time(fire, clock.now())
    return fires, starts, clock.slept


async def simulate_fleet() -> dict[int, tuple[list[datetime], list[datetime], list[float]]]:
    rng = random.Random(13)
    return {feed_id: await simulate_feed(feed_id, rng) for feed_id in FEEDS}


@pytest.fixture(scope="module")
def fleet() -> dict[int, tuple[list[datetime], list[datetime], list[float]]]:
    return asyncio.run(simulate_fleet())


def test_no_feed_ever_skips_a_poll_or_goes_one_and_a_half_periods_without_one(
    fleet: dict[int, tuple[list[datetime], list[datetime], list[float]]],
) -> None:
    for _fires, starts, _slept in fleet.values():
        assert len(starts) == CYCLES
        gaps = [b - a for a, b in pairwise(starts)]
        assert max(gaps) <= PERIOD * 1.5


def test_the_period_is_exactly_the_interval_so_nothing_drifts(
    fleet: dict[int, tuple[list[datetime], list[datetime], list[float]]],
) -> None:
    for fires, starts, _slept in fleet.values():
        assert {b - a for a, b in pairwise(fires[1:])} == {PERIOD}
        mean = (starts[-1] - starts[1]) / (len(starts) - 2)  # from the first slotted poll
        assert abs(mean - PERIOD) < timedelta(seconds=0.1)


def test_after_the_start_up_catch_up_every_poll_starts_on_its_slot(
    fleet: dict[int, tuple[list[datetime], list[datetime], list[float]]],
) -> None:
    for feed_id, (fires, starts, _slept) in fleet.items():
        assert fires[1] == slot_after(fires[0], feed_id, PERIOD)  # back on the grid at once
        for start in starts[1:]:
            lateness = start - nearest_slot(start, feed_id, PERIOD)
            assert timedelta(0) <= lateness <= timedelta(seconds=2)


def test_the_fleet_is_spread_across_the_period_not_stampeded(
    fleet: dict[int, tuple[list[datetime], list[datetime], list[float]]],
) -> None:
    per_second = Counter(int(f.timestamp()) for fires, _s, _d in fleet.values() for f in fires[1:])
    assert max(per_second.values()) <= math.ceil(len(FEEDS) / PERIOD.total_seconds()) + 2


def test_early_wake_ups_were_deferred_to_their_due_time_and_still_polled(
    fleet: dict[int, tuple[list[datetime], list[datetime], list[float]]],
) -> None:
    deferrals = [s for _f, _st, slept in fleet.values() for s in slept]
    assert deferrals, "the noise should have produced early wake-ups"
    assert max(deferrals) < 3.5  # waited for the due time, not for the next period


async def test_wait_until_due_skips_only_a_backoff_that_outlasts_the_following_slot() -> None:
    clock = SleepingClock(slot_after(T0, 5, PERIOD))
    backoff = clock.now() + 2 * PERIOD + timedelta(seconds=1)
    assert not await wait_until_due(clock, 5, PERIOD, backoff, sleep=clock.sleep)
    assert clock.slept == []
    soon = clock.now() + timedelta(seconds=20)
    assert await wait_until_due(clock, 5, PERIOD, soon, sleep=clock.sleep)
    assert clock.now() == soon
