"""The shared REST pacer on a virtual clock: the budget per second and who goes first."""

from __future__ import annotations

import asyncio

import pytest

from bot.discord_ui.pacer import DISCORD_GLOBAL_LIMIT, Pacer, Priority, burst_for


class VirtualTime:
    """Time that only moves when the pacer waits: pacing costs no real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def timer(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def most_in_one_second(times: list[float]) -> int:
    ordered = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


@pytest.mark.parametrize("rate", [45.0, 20.0, 49.0])
def test_the_default_burst_keeps_every_second_below_discords_limit(rate: float) -> None:
    assert rate + burst_for(rate) < DISCORD_GLOBAL_LIMIT or burst_for(rate) == 1


async def test_many_waiters_get_at_most_rate_plus_burst_in_any_second() -> None:
    vt = VirtualTime()
    pacer = Pacer(10.0, burst=2, timer=vt.timer, sleep=vt.sleep)
    granted: list[float] = []

    async def request(priority: Priority) -> None:
        await pacer.take(priority)
        granted.append(vt.now)

    await asyncio.wait_for(
        asyncio.gather(*(request(Priority(i % 4)) for i in range(60))), timeout=10
    )
    assert len(granted) == 60
    assert most_in_one_second(granted) <= 10 + 2
    # The budget is used, not wasted: 60 requests take about 58 / 10 seconds.
    assert 5.5 <= max(granted) <= 6.0


async def test_due_reminders_go_before_a_queue_of_edits() -> None:
    vt = VirtualTime()
    pacer = Pacer(5.0, burst=1, timer=vt.timer, sleep=vt.sleep)
    order: list[str] = []

    async def request(name: str, priority: Priority) -> None:
        await pacer.take(priority)
        order.append(name)

    edits = [asyncio.create_task(request(f"edit{i}", Priority.UPKEEP)) for i in range(10)]
    await asyncio.sleep(0)  # the edits queue first
    reminders = [asyncio.create_task(request(f"dm{i}", Priority.DUE_REMINDER)) for i in range(3)]
    announcement = asyncio.create_task(request("post", Priority.ANNOUNCEMENT))
    await asyncio.wait_for(asyncio.gather(*edits, *reminders, announcement), timeout=10)
    # The first edit had the one token in the bucket; everything else waited its turn.
    assert order[:5] == ["edit0", "dm0", "dm1", "dm2", "post"]
    assert order[5:] == [f"edit{i}" for i in range(1, 10)]


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    vt = VirtualTime()
    pacer = Pacer(5.0, burst=1, timer=vt.timer, sleep=vt.sleep)
    await pacer.take(Priority.UPKEEP)  # the bucket is empty now
    order: list[str] = []

    async def request(name: str, priority: Priority) -> None:
        await pacer.take(priority)
        order.append(name)

    gone = asyncio.create_task(request("gone", Priority.DUE_REMINDER))
    kept = asyncio.create_task(request("kept", Priority.UPKEEP))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.wait_for(kept, timeout=5)
    assert order == ["kept"]
    assert pacer.waiting == 0
