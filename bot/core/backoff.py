"""When to poll a failing feed again, and when to give up on it.

A failed poll must not hammer the server (or us) every interval: the delay doubles per
consecutive failure up to a cap, with jitter so many feeds on one host do not retry in lockstep.
A server's ``Retry-After`` is a floor, never shortened. Randomness and time are injected so the
schedule is reproducible in tests.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_DELAY = timedelta(hours=6)
DISABLE_AFTER = timedelta(hours=24)
DEFAULT_JITTER = 0.1
#: Retry-After values beyond this are nonsense; they are clamped before the cap applies.
_RETRY_AFTER_LIMIT = 366 * 24 * 3600.0


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None.

    Dates in the past mean "now" (0 s); unparseable values are ignored.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(text), _RETRY_AFTER_LIMIT)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" zone: RFC 5322 says UTC with no further information.
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), _RETRY_AFTER_LIMIT)


def next_poll_delay(
    interval: timedelta,
    failures: int,
    *,
    rng: random.Random,
    retry_after: float | None = None,
    cap: timedelta = MAX_DELAY,
    jitter: float = DEFAULT_JITTER,
) -> timedelta:
    """Delay until the next poll after ``failures`` consecutive failures (0 = healthy).

    ``interval × 2^failures`` capped at ``cap``, spread by ±``jitter``, never above the cap;
    ``retry_after`` (seconds) raises the result up to the cap but never lowers it.
    """
    if interval <= timedelta(0):
        raise ValueError("poll interval must be positive")
    if not 0 <= jitter < 1:
        raise ValueError("jitter must be in [0, 1)")
    base = min(interval, cap)
    for _ in range(max(failures, 0)):  # doubling stops at the cap, so this never overflows
        if base >= cap:
            break
        base = min(base * 2, cap)
    spread = 1 - jitter + 2 * jitter * rng.random()
    delay = min(base * spread, cap)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(timedelta(seconds=retry_after), cap))
    return delay


def should_disable(
    failing_since: datetime | None,
    failures: int,
    *,
    now: datetime,
    after: timedelta = DISABLE_AFTER,
    min_failures: int = 3,
) -> bool:
    """True once a feed has failed continuously for ``after`` and at least ``min_failures`` times.

    The count guard stops one failure right after a long bot outage from disabling a feed.
    """
    if failing_since is None or failures < min_failures:
        return False
    return now - failing_since >= after
