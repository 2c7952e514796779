"""When each feed is polled: a fixed grid of slots per feed, spread across the interval.

Every feed owns a *phase*, an offset inside its poll interval derived from the feed id alone,
and is polled at ``GRID_ORIGIN + phase + n × period``. Because the slots are absolute, they do
not drift (a late poll does not push the next one back) and they survive a restart unchanged.
The phase is the golden-ratio (Fibonacci hashing) sequence of the id: consecutive ids, which is
what SQLite hands out, land as evenly across the interval as any fixed rule can place them, so
a fleet of feeds with one interval never fires in the same second.

The scheduler only wakes a feed up; whether that wake-up polls is decided against the feed's
stored due time by :func:`decide_fire`, which runs or defers an early wake-up and never drops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

#: Slots are counted from here; any fixed instant works, it only has to never change.
GRID_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
#: The shortest period the scheduler accepts (shorter settings are raised to it).
MIN_PERIOD = timedelta(seconds=60)
#: After a restart, feeds that are already due start this far apart (five a second)...
CATCH_UP_STAGGER = timedelta(milliseconds=200)
#: ...spread over at most this long, so a big fleet catches up within a minute.
CATCH_UP_SPREAD = timedelta(seconds=60)

_GOLDEN_64 = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd: multiplication mod 2**64 permutes
_MS = timedelta(milliseconds=1)


def poll_period(interval: timedelta) -> timedelta:
    """The period actually used: whole seconds, never under :data:`MIN_PERIOD`."""
    return max(MIN_PERIOD, timedelta(seconds=int(interval.total_seconds())))


def phase_of(feed_id: int, period: timedelta) -> timedelta:
    """The feed's fixed offset inside ``period`` (whole milliseconds, in ``[0, period)``)."""
    period_ms = period // _MS
    if period_ms <= 0:
        raise ValueError("the poll period must be at least a millisecond")
    fraction_64 = (feed_id * _GOLDEN_64) % (1 << 64)
    return _MS * ((fraction_64 * period_ms) >> 64)


def _anchor(feed_id: int, period: timedelta) -> datetime:
    return GRID_ORIGIN + phase_of(feed_id, period)


def slot_at_or_after(moment: datetime, feed_id: int, period: timedelta) -> datetime:
    """The feed's first slot at or after ``moment``."""
    anchor = _anchor(feed_id, period)
    steps = -((anchor - moment) // period)  # ceiling division on exact timedeltas
    return anchor + period * steps


def slot_after(moment: datetime, feed_id: int, period: timedelta) -> datetime:
    """The feed's first slot strictly after ``moment``: when a poll at ``moment`` is next due."""
    anchor = _anchor(feed_id, period)
    return anchor + period * ((moment - anchor) // period + 1)


def nearest_slot(moment: datetime, feed_id: int, period: timedelta) -> datetime:
    """The slot a wake-up at ``moment`` belongs to, whether it came early or late."""
    following = slot_at_or_after(moment, feed_id, period)
    previous = following - period
    return previous if moment - previous < following - moment else following


def catch_up_spread(due_feeds: int) -> timedelta:
    """How long the feeds already due at start-up take to start: short for a few, a minute
    at most for a fleet."""
    return min(CATCH_UP_SPREAD, CATCH_UP_STAGGER * max(due_feeds, 1))


def first_fire(
    now: datetime,
    feed_id: int,
    period: timedelta,
    *,
    due_at: datetime | None,
    spread: timedelta = CATCH_UP_SPREAD,
) -> datetime:
    """When a freshly scheduled feed first wakes up.

    A feed that is not yet due keeps its own slots. One that is already due (never polled,
    or the bot was down past its slot) runs within ``spread``, placed by the same phase
    rule, so a fleet starting together does not stampede in the first second.
    """
    next_slot = slot_at_or_after(now, feed_id, period)
    if due_at is not None and due_at > now:
        return next_slot
    window = min(period, spread)
    if window < _MS:
        return now
    return min(next_slot, now + phase_of(feed_id, window))


@dataclass(frozen=True, slots=True)
class FireDecision:
    """What a wake-up does: poll now, wait until ``at`` and poll, or leave it to a later one."""

    action: Literal["run", "defer", "skip"]
    at: datetime


def decide_fire(
    now: datetime, feed_id: int, period: timedelta, *, due_at: datetime | None
) -> FireDecision:
    """Run, defer or skip one wake-up, given when the feed is next due.

    A wake-up that comes before the due time is deferred to it when the due time falls before
    the feed's following slot; only a due time at or past that slot (a failing feed backing
    off) lets the wake-up pass, because the following one will poll. Late wake-ups run at once.
    """
    if due_at is None or due_at <= now:
        return FireDecision("run", now)
    following = nearest_slot(now, feed_id, period) + period
    if due_at < following:
        return FireDecision("defer", due_at)
    return FireDecision("skip", due_at)
