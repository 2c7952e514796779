"""APScheduler 3.x wiring: a poll job per feed, rebuilt from the database at start-up.

The scheduler only decides *when*; the database holds every piece of state, so jobs are
derived and disposable (explicit ids, ``replace_existing``). Jobs are coroutines run on the
bot's loop; their exceptions reach our logger with the feed name.

Each feed fires on its own fixed slots (``bot.core.poll_slots``): an interval trigger anchored
at the feed's phase, without jitter, so fires are exactly one period apart, spread across the
period by feed id, and the same after a restart. Whether a fire polls is decided by
:func:`wait_until_due` against the feed's stored due time: an early fire waits, it is never
dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock
from bot.core.poll_slots import (
    CATCH_UP_SPREAD,
    GRID_ORIGIN,
    catch_up_spread,
    decide_fire,
    first_fire,
    phase_of,
    poll_period,
    slot_after,
    slot_at_or_after,
)

log = logging.getLogger(__name__)

PollJob = Callable[[int], Awaitable[object]]
Sleep = Callable[[float], Awaitable[object]]


def poll_job_id(feed_id: int) -> str:
    return f"poll:{feed_id}"


class SlotTrigger(IntervalTrigger):  # type: ignore[misc]  # APScheduler ships no types
    """The feed's slots, ``origin + phase + n × period``, as an APScheduler trigger (no jitter).

    The next fire is the first slot after the previous one, whenever that one ran and even
    if it was off the grid (a catch-up at start-up, a first poll set by hand): a slow poll or a
    busy loop cannot make the period drift, and an off-grid fire rejoins the grid at once.
    """

    def __init__(self, feed_id: int, interval: timedelta) -> None:
        self.feed_id = feed_id
        self.period = poll_period(interval)
        super().__init__(
            seconds=int(self.period.total_seconds()),
            start_date=GRID_ORIGIN + phase_of(feed_id, self.period),
            timezone=UTC,
        )

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return slot_at_or_after(now, self.feed_id, self.period)
        return slot_after(previous_fire_time, self.feed_id, self.period)


def poll_trigger(feed_id: int, interval: timedelta) -> SlotTrigger:
    return SlotTrigger(feed_id, interval)


async def wait_until_due(
    clock: Clock,
    feed_id: int,
    interval: timedelta,
    due_at: datetime | None,
    *,
    sleep: Sleep = asyncio.sleep,
) -> bool:
    """Whether this wake-up should poll; an early one first waits until the feed is due.

    False only when the feed is backing off past its following slot, which will poll instead.
    """
    decision = decide_fire(clock.now(), feed_id, poll_period(interval), due_at=due_at)
    if decision.action == "skip":
        return False
    if decision.action == "defer":
        wait = (decision.at - clock.now()).total_seconds()
        log.debug("feed %s woke %.3f s early; polling when due", feed_id, wait)
        if wait > 0:
            await sleep(wait)
    return True


class PollScheduler:
    def __init__(self, poll: PollJob, *, now: Callable[[], datetime] | None = None) -> None:
        self._poll = poll
        #: APScheduler fires by the system clock, so first fires are computed on it too.
        self._now = now or (lambda: datetime.now(UTC))
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def _on_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            log.error("scheduled job %s failed", event.job_id, exc_info=event.exception)
        else:
            log.warning("scheduled job %s missed its run time", event.job_id)

    def start(self) -> None:
        """Needs the running loop (call from ``setup_hook``)."""
        self._scheduler.start()

    def schedule_feed(
        self,
        feed_id: int,
        interval: timedelta,
        *,
        first_run: datetime | None = None,
        due_at: datetime | None = None,
        catch_up: timedelta = CATCH_UP_SPREAD,
    ) -> None:
        """Poll ``feed_id`` on its slots; the first fire is ``first_run`` if given.

        Otherwise a feed not yet due (``due_at`` in the future) waits for its next slot and a
        due one runs within ``catch_up``, so a restart does not stampede.
        """
        if first_run is None:
            first_run = first_fire(
                self._now(), feed_id, poll_period(interval), due_at=due_at, spread=catch_up
            )
        self._scheduler.add_job(
            self._poll,
            poll_trigger(feed_id, interval),
            args=[feed_id],
            id=poll_job_id(feed_id),
            replace_existing=True,
            next_run_time=first_run,
        )

    def schedule_fleet(self, feeds: list[tuple[int, timedelta, datetime | None]]) -> None:
        """Schedule every ``(feed_id, interval, due_at)`` at start-up.

        The feeds already due start a fifth of a second apart (a minute at most for a big
        fleet): one feed still polls at once, a thousand do not all poll in the same second.
        """
        now = self._now()
        due = sum(1 for _, _, due_at in feeds if due_at is None or due_at <= now)
        spread = catch_up_spread(due)
        for feed_id, interval, due_at in feeds:
            self.schedule_feed(feed_id, interval, due_at=due_at, catch_up=spread)

    def unschedule_feed(self, feed_id: int) -> None:
        job = self._scheduler.get_job(poll_job_id(feed_id))
        if job is not None:
            job.remove()

    def next_run(self, feed_id: int) -> datetime | None:
        job = self._scheduler.get_job(poll_job_id(feed_id))
        return None if job is None else job.next_run_time

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
