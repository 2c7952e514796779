"""ParserPool: same answers as in-process, typed errors, and a child that can't hang the bot."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from bot.core.parse import ParseLimits, parse_feed
from bot.errors import CalendarError, EmptyFeed, NotACalendar, ParseLimitExceeded
from bot.feeds.isolate import ParserPool, WorkerResult
from tests.conftest import SHARED_DIR

WINDOW = {
    "window_start": datetime(2019, 1, 1, tzinfo=UTC),
    "window_end": datetime(2030, 1, 1, tzinfo=UTC),
}
EVENTS = b"".join(
    b"BEGIN:VEVENT\r\nUID:n%d\r\nDTSTART:2025010%dT100000Z\r\nSUMMARY:n\r\nEND:VEVENT\r\n"
    % (i, i + 1)
    for i in range(3)
)
GOOD = b"BEGIN:VCALENDAR\r\n" + EVENTS + b"END:VCALENDAR\r\n"
BOMB = (
    b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:bomb\r\nDTSTART:20180101T000000Z\r\n"
    b"RRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n" + EVENTS + b"END:VCALENDAR\r\n"
)


def hog_memory(*_args: object) -> WorkerResult:
    """A worker that allocates far past RLIMIT_AS."""
    chunks = [bytearray(64 * 1024 * 1024) for _ in range(64)]
    return {"ok": len(chunks)}


@pytest.fixture
def seed() -> bytes:
    path = SHARED_DIR / "seeds" / "jhu-cs-seminar.ics"
    return path.read_bytes() if path.is_file() else GOOD


async def test_child_result_equals_in_process_result(seed: bytes) -> None:
    async with ParserPool() as isolated:
        child = await isolated.parse(seed, **WINDOW)
    assert child == parse_feed(seed, **WINDOW)
    assert child.occurrences


async def test_errors_come_back_with_their_type_message_and_reason() -> None:
    async with ParserPool() as isolated:
        with pytest.raises(EmptyFeed) as empty:
            await isolated.parse(b"", **WINDOW)
        assert empty.value.reason == "empty_body"
        with pytest.raises(NotACalendar, match="HTML page"):
            await isolated.parse(b"<html><body>403</body></html>", **WINDOW)
        with pytest.raises(CalendarError, match="truncated") as truncated:
            await isolated.parse(GOOD[:-20], **WINDOW)
        assert type(truncated.value) is CalendarError


async def test_runaway_child_is_killed_at_the_timeout_and_the_pool_recovers() -> None:
    ticks = 0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.05)

    async with ParserPool() as isolated:
        await isolated.parse(GOOD, **WINDOW)  # warm the worker so the timing is about the bomb
        beat = asyncio.create_task(heartbeat())
        started = time.monotonic()
        with pytest.raises(ParseLimitExceeded, match="longer than"):
            await isolated.parse(
                BOMB, **WINDOW, limits=ParseLimits(prescreen_rrules=False), timeout=1.5
            )
        elapsed = time.monotonic() - started
        stop.set()
        await beat
        assert 1.4 < elapsed < 4
        assert ticks >= 10  # the event loop kept running while the child spun
        again = await isolated.parse(GOOD, **WINDOW)
        assert [o.key.uid for o in again.occurrences] == ["n0", "n1", "n2"]


async def test_prescreened_bomb_parses_quickly_in_the_child() -> None:
    async with ParserPool() as isolated:
        feed = await isolated.parse(BOMB, **WINDOW, timeout=10)
    assert [o.key.uid for o in feed.occurrences] == ["n0", "n1", "n2"]
    assert [s.uid for s in feed.skipped] == ["bomb"]


async def test_child_over_its_memory_limit_becomes_parse_limit_exceeded() -> None:
    async with ParserPool(memory_limit=512 * 1024 * 1024, worker=hog_memory) as isolated:
        with pytest.raises(ParseLimitExceeded, match="memory"):
            await isolated.parse(GOOD, **WINDOW, timeout=30)


async def test_in_process_mode_parses_without_a_child(seed: bytes) -> None:
    pool = ParserPool(in_process=True)
    assert await pool.parse(seed, **WINDOW) == parse_feed(seed, **WINDOW)
    await pool.close()


async def test_closed_pool_refuses_work() -> None:
    pool = ParserPool()
    await pool.close()
    with pytest.raises(RuntimeError):
        await pool.parse(GOOD, **WINDOW)
