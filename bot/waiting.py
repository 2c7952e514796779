"""Waiting for a wake-up without losing a cancellation.

Every worker loop sleeps on an ``asyncio.Event`` with a timeout. ``asyncio.wait_for`` on
Python 3.11 can swallow a cancellation that arrives just as the event is set: the worker then
loops on after its task was cancelled, and a shutdown waiting for it never ends.
``asyncio.timeout`` keeps the cancellation, so the loops wait through this one function.
"""

from __future__ import annotations

import asyncio


async def wait_for_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True when it is set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
