"""Poll backoff, Retry-After and auto-disable (fault matrix rows 1 and 2)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.backoff import (
    MAX_DELAY,
    next_poll_delay,
    parse_retry_after,
    should_disable,
)

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
FIVE_MIN = timedelta(minutes=5)


def test_healthy_feed_polls_near_its_interval() -> None:
    delay = next_poll_delay(FIVE_MIN, 0, rng=random.Random(1))
    assert timedelta(minutes=4.5) <= delay <= timedelta(minutes=5.5)


def test_delay_doubles_then_caps_at_six_hours() -> None:
    delays = [next_poll_delay(FIVE_MIN, n, rng=random.Random(7), jitter=0) for n in range(10)]
    assert delays[:5] == [FIVE_MIN * 2**n for n in range(5)]
    assert delays[-1] == MAX_DELAY
    assert all(a <= b for a, b in itertools.pairwise(delays))


def test_jitter_is_deterministic_for_a_seed_and_varies_between_seeds() -> None:
    a = [next_poll_delay(FIVE_MIN, 2, rng=random.Random(42)) for _ in range(3)]
    assert len(set(a)) == 1
    spread = {next_poll_delay(FIVE_MIN, 2, rng=random.Random(seed)) for seed in range(20)}
    assert len(spread) > 10
    assert all(timedelta(minutes=18) <= d <= timedelta(minutes=22) for d in spread)


@given(
    failures=st.integers(min_value=0, max_value=10_000),
    minutes=st.integers(min_value=1, max_value=24 * 60),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_delay_is_always_positive_and_capped(failures: int, minutes: int, seed: int) -> None:
    delay = next_poll_delay(timedelta(minutes=minutes), failures, rng=random.Random(seed))
    assert timedelta(0) < delay <= MAX_DELAY


def test_retry_after_is_a_floor_up_to_the_cap() -> None:
    rng = random.Random(3)
    assert next_poll_delay(FIVE_MIN, 1, rng=rng, retry_after=3600) == timedelta(hours=1)
    assert next_poll_delay(FIVE_MIN, 1, rng=rng, retry_after=10**6) == MAX_DELAY
    short = next_poll_delay(FIVE_MIN, 3, rng=random.Random(3), retry_after=1, jitter=0)
    assert short == FIVE_MIN * 8


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError):
        next_poll_delay(timedelta(0), 1, rng=random.Random(0))
    with pytest.raises(ValueError):
        next_poll_delay(FIVE_MIN, 1, rng=random.Random(0), jitter=1.5)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Tue, 04 Mar 2025 12:02:00 GMT", 120.0),
        ("Tue, 04 Mar 2025 12:00:00 -0000", 0.0),
        ("Tue, 04 Mar 2025 11:00:00 GMT", 0.0),
        ("Tuesday, 04-Mar-25 13:00:00 GMT", 3600.0),
        ("99999999999999", 366 * 24 * 3600.0),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_disable_after_a_day_of_continuous_failures() -> None:
    since = NOW - timedelta(hours=24)
    assert should_disable(since, 10, now=NOW)
    assert not should_disable(since + timedelta(seconds=1), 10, now=NOW)
    assert not should_disable(None, 10, now=NOW)
    # One failure after a long bot outage is not a day of failures.
    assert not should_disable(since - timedelta(days=3), 1, now=NOW)
    assert should_disable(NOW - timedelta(hours=2), 5, now=NOW, after=timedelta(hours=1))
