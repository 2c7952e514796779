from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.delivery_policy import InvalidRequestBreaker, Verdict, classify, retry_delay


@pytest.mark.parametrize(
    ("status", "code", "editing", "dm", "verdict"),
    [
        (429, 0, False, False, Verdict.RATE_LIMITED),
        (500, 0, False, False, Verdict.RETRY),
        (503, 0, False, False, Verdict.RETRY),
        (0, 0, False, False, Verdict.RETRY),
        (403, 50013, False, False, Verdict.DISABLE_TARGET),
        (403, 50001, False, False, Verdict.DISABLE_TARGET),
        (404, 10003, False, False, Verdict.DISABLE_TARGET),
        (404, 10008, True, False, Verdict.MESSAGE_GONE),
        (403, 50007, False, True, Verdict.DM_CLOSED),
        (400, 50035, False, False, Verdict.DEAD),
        (400, 50006, False, False, Verdict.DEAD),
        (413, 40005, False, False, Verdict.TOO_LARGE),
        (400, 40003, False, True, Verdict.RATE_LIMITED),
    ],
)
def test_discord_errors_are_classified(
    status: int, code: int, editing: bool, dm: bool, verdict: Verdict
) -> None:
    assert classify(status, code, editing=editing, direct_message=dm) is verdict


@pytest.mark.parametrize(
    "text",
    [
        "Invalid Form Body\nIn embeds: Embed size exceeds maximum size of 6000",
        "Invalid Form Body\nIn embeds.3.description: Must be 4096 or fewer in length.",
        "Invalid Form Body\nIn content: Must be 2000 or fewer in length.",
    ],
)
def test_a_message_refused_for_its_size_is_split_never_dead(text: str) -> None:
    assert classify(400, 50035, text=text) is Verdict.TOO_LARGE
    assert classify(400, 50035, text=text, editing=True) is Verdict.TOO_LARGE


def test_other_form_errors_stay_dead() -> None:
    text = "Invalid Form Body\nIn embeds.0.url: Not a well formed URL."
    assert classify(400, 50035, text=text) is Verdict.DEAD


def test_retry_delay_grows_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, rng) for n in range(1, 20)]
    assert delays[0] <= timedelta(seconds=5)
    assert all(d <= timedelta(minutes=15) for d in delays)
    assert delays[-1] >= timedelta(minutes=7, seconds=30)


def test_breaker_trips_after_many_refusals_and_recovers() -> None:
    breaker = InvalidRequestBreaker(threshold=100, window=timedelta(minutes=10))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(99):
        breaker.record(403, now + timedelta(seconds=i))
    assert not breaker.is_open(now + timedelta(seconds=99))
    breaker.record(403, now + timedelta(seconds=100))
    assert breaker.is_open(now + timedelta(seconds=100))
    breaker.record(200, now + timedelta(seconds=101))  # successes do not count
    assert breaker.is_open(now + timedelta(seconds=101))
    assert not breaker.is_open(now + timedelta(minutes=30))
