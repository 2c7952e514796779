"""ParserPool: same answers as in-process, typed errors, and a child that can't hang the bot."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from bot.core.incremental import absorb
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


async def test_killing_a_runaway_child_takes_no_other_feeds_parse_with_it() -> None:
    async with ParserPool(max_workers=2) as isolated:
        runaway = asyncio.create_task(
            isolated.parse(BOMB, **WINDOW, limits=ParseLimits(prescreen_rrules=False), timeout=1.5)
        )
        answers = []
        while not runaway.done():  # the other child keeps parsing before, during and after
            answers.append(await isolated.parse(GOOD, **WINDOW))
            assert len(answers) < 10_000
        with pytest.raises(ParseLimitExceeded, match="longer than"):
            await runaway
        answers.append(await isolated.parse(GOOD, **WINDOW))
    assert all([o.key.uid for o in a.occurrences] == ["n0", "n1", "n2"] for a in answers)


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


NEVER_MATCHING = (
    "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=DAILY;BYMONTH=4,6,9,11;BYMONTHDAY=31",
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=-30",
    "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=1,2,3",
    "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
)
MINUTELY_ZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Office\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\nRRULE:FREQ=MINUTELY\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)
NEAR = {
    "window_start": datetime(2026, 12, 5, tzinfo=UTC),
    "window_end": datetime(2027, 6, 3, tzinfo=UTC),
}


def hostile_feed() -> bytes:
    bad = "".join(
        f"BEGIN:VEVENT\r\nUID:bad{i}\r\nDTSTART:20260105T100000Z\r\nRRULE:{rule}\r\nEND:VEVENT\r\n"
        for i, rule in enumerate(NEVER_MATCHING)
    )
    good = "".join(
        f"BEGIN:VEVENT\r\nUID:good{i}\r\nDTSTART:2026121{i}T150000Z\r\nSUMMARY:talk\r\nEND:VEVENT\r\n"
        for i in range(3)
    )
    office = "BEGIN:VEVENT\r\nUID:office\r\nDTSTART;TZID=Office:20261220T100000\r\nEND:VEVENT\r\n"
    text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{MINUTELY_ZONE}{bad}{good}{office}END:VCALENDAR\r\n"
    return text.encode()


async def test_never_matching_rules_and_a_minutely_zone_cost_only_their_events() -> None:
    """Before, each rule ran to the year 9999 (3-8 s) and the zone for minutes: the child was
    killed at the timeout and the whole feed was lost."""
    body = hostile_feed()
    async with ParserPool() as isolated:
        started = time.monotonic()
        feed = await isolated.parse(body, **NEAR)  # the default 20 s timeout
        outcome = await isolated.parse_incremental(body, **NEAR)
        elapsed = time.monotonic() - started
    assert elapsed < 10
    expected = ["good0", "good1", "good2", "office"]
    assert [o.key.uid for o in feed.occurrences] == expected
    assert sorted(s.uid for s in feed.skipped) == [f"bad{i}" for i in range(6)]
    state, _, _ = absorb(None, outcome, body_hash="", settings=b"")
    assert state is not None
    window = (NEAR["window_start"], NEAR["window_end"])
    assert state.assemble(*window, ParseLimits(), outcome.exact) == feed


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
async def test_a_wide_encoded_feed_parses_fully_and_incrementally(encoding: str) -> None:
    text = GOOD.decode().replace("SUMMARY:n", "SUMMARY:Café")
    body = text.encode(encoding)
    async with ParserPool() as isolated:
        feed = await isolated.parse(body, **WINDOW)
        outcome = await isolated.parse_incremental(body, **WINDOW)
    assert [(o.key.uid, o.summary) for o in feed.occurrences] == [
        ("n0", "Café"),
        ("n1", "Café"),
        ("n2", "Café"),
    ]
    assert outcome.full is None  # the splitter saw the UTF-8 form and split it
    state, _, _ = absorb(None, outcome, body_hash="", settings=b"")
    assert state is not None
    window = (WINDOW["window_start"], WINDOW["window_end"])
    assert state.assemble(*window, ParseLimits(), outcome.exact) == feed
