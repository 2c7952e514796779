"""One slow parse does not hold up another feed's parse: the pool runs two children."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from bot.core.parse import ParseLimits
from bot.feeds.isolate import ParserPool, WorkerResult, parse_in_child

WINDOW = {
    "window_start": datetime(2025, 1, 1, tzinfo=UTC),
    "window_end": datetime(2025, 2, 1, tzinfo=UTC),
}
QUICK = (
    b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:q\r\nDTSTART:20250110T100000Z\r\n"
    b"SUMMARY:quick\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
SLOW = QUICK.replace(b"UID:q", b"UID:slow")


def slow_for_one_feed(
    body: bytes, window_start: str, window_end: str, default_timezone: str, limits: ParseLimits
) -> WorkerResult:
    """The real parser, except that one feed's body takes three seconds (a hostile calendar)."""
    if b"UID:slow" in body:
        time.sleep(3)
    return parse_in_child(body, window_start, window_end, default_timezone, limits)


async def test_a_slow_parse_does_not_delay_another_feeds_parse() -> None:
    async with ParserPool(worker=slow_for_one_feed) as pool:
        slow = asyncio.create_task(pool.parse(SLOW, **WINDOW, timeout=10))
        await asyncio.sleep(0)  # one step: the slow task submits its parse first
        started = time.monotonic()
        quick = await pool.parse(QUICK, **WINDOW, timeout=10)
        elapsed = time.monotonic() - started
        assert not slow.done()  # the quick feed finished while the slow one still ran
        assert [o.key.uid for o in quick.occurrences] == ["q"]
        assert elapsed < 2.5
        assert [o.key.uid for o in (await slow).occurrences] == ["slow"]


async def test_a_parse_waiting_for_a_free_child_is_not_timed_out_by_the_queue() -> None:
    # Two slow feeds occupy both children for three seconds; a quick feed queued behind them
    # with a two-second allowance must get its own two seconds once a child is free, not fail
    # (and kill the children) because it waited.
    async with ParserPool(worker=slow_for_one_feed) as pool:
        slow = [asyncio.create_task(pool.parse(SLOW, **WINDOW, timeout=10)) for _ in range(2)]
        await asyncio.sleep(0)  # one step: both slow parses are handed out first
        quick = await pool.parse(QUICK, **WINDOW, timeout=2)
        assert [o.key.uid for o in quick.occurrences] == ["q"]
        for task in slow:
            assert [o.key.uid for o in (await task).occurrences] == ["slow"]
