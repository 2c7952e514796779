"""A worker loop sleeping until woken still stops when its task is cancelled, whatever the
moment the cancellation lands (on Python 3.11, ``asyncio.wait_for`` can swallow it)."""

from __future__ import annotations

import asyncio
import contextlib

from bot.waiting import wait_for_event


async def _yield(times: int) -> None:
    for _ in range(times):
        await asyncio.sleep(0)  # one scheduling step, not a wait for time to pass


async def test_a_cancellation_landing_as_the_loop_is_woken_stops_the_loop() -> None:
    survivors = 0
    for before in range(8):
        for after in range(3):
            wake = asyncio.Event()

            async def worker(wake: asyncio.Event = wake) -> None:
                while True:  # like the delivery, reminder and card workers
                    wake.clear()
                    await asyncio.sleep(0)
                    await wait_for_event(wake, 10)

            task = asyncio.create_task(worker())
            await _yield(before)
            wake.set()
            await _yield(after)
            task.cancel()
            await _yield(20)
            if not task.done():
                survivors += 1
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert survivors == 0


async def test_the_wait_says_whether_it_was_woken() -> None:
    wake = asyncio.Event()
    assert await wait_for_event(wake, 0.01) is False
    wake.set()
    assert await wait_for_event(wake, 10) is True
