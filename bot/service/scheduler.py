"""APScheduler 3.x wiring: a poll job per feed, rebuilt from the database at start-up.

The scheduler only decides *when*; the database holds every piece of state, so jobs are
derived and disposable (explicit ids, ``replace_existing``). Jobs are coroutines run on the
bot's loop; their exceptions reach our logger with the feed name.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

PollJob = Callable[[int], Awaitable[object]]


def poll_job_id(feed_id: int) -> str:
    return f"poll:{feed_id}"


class PollScheduler:
    def __init__(self, poll: PollJob) -> None:
        self._poll = poll
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
        self, feed_id: int, interval: timedelta, *, first_run: datetime | None = None
    ) -> None:
        jitter = max(1, int(interval.total_seconds() * 0.05))
        self._scheduler.add_job(
            self._poll,
            IntervalTrigger(seconds=max(60, int(interval.total_seconds())), jitter=jitter),
            args=[feed_id],
            id=poll_job_id(feed_id),
            replace_existing=True,
            next_run_time=first_run or datetime.now(UTC),
        )

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
