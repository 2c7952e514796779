"""One pacer for all of the bot's REST traffic, under Discord's global budget.

Discord lets a bot make about 50 requests per second in all, across every route. discord.py
already honours each route's own bucket (``X-RateLimit-Remaining``/``Reset``) and waits out
429s; what it cannot do is share the global budget fairly between the bot's workers. Every
worker therefore takes a token here before a request, with a priority: a reminder due now
goes before an announcement, which goes before edits, the Events-tab mirror and the weekly
digest, which go before background checks. Waiters of equal priority are served in order.

Interaction responses (replies to commands and buttons) are not counted against the global
limit by Discord and never wait here.

A token bucket of ``rate`` tokens per second holding at most ``burst``: in any one-second
window at most ``rate + burst`` requests start, so the defaults (45/s, burst 4) stay below
Discord's 50.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from enum import IntEnum

#: Discord's global limit for a bot, requests per second.
DISCORD_GLOBAL_LIMIT = 50.0
#: The bot's own budget: a margin below the limit for requests discord.py makes by itself.
DEFAULT_RATE = 45.0
DEFAULT_BURST = 5
#: Rounding slack: a token refilled to 0.9999999 counts as whole (else the wait never ends).
_WHOLE = 1.0 - 1e-9


class Priority(IntEnum):
    """Who goes first when requests queue up (lower goes first)."""

    DUE_REMINDER = 0
    ANNOUNCEMENT = 1
    UPKEEP = 2  # edits, the Events-tab mirror, the weekly digest, crash-recovery scans
    BACKGROUND = 3  # checks made ahead of time (membership before a reminder)


def burst_for(rate: float) -> int:
    """The largest burst that keeps any one-second window below Discord's limit, with one
    request to spare for requests that reach Discord a little bunched."""
    return max(1, min(DEFAULT_BURST, int(DISCORD_GLOBAL_LIMIT - rate) - 1))


class Pacer:
    """A priority token bucket shared by every worker that talks to Discord's REST API.

    ``timer`` and ``sleep`` default to the event loop's clock and ``asyncio.sleep``; tests
    pass a virtual pair so that pacing takes no real time.
    """

    def __init__(
        self,
        rate_per_second: float = DEFAULT_RATE,
        burst: int | None = None,
        *,
        timer: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("the pacer needs a positive rate")
        self.rate = rate_per_second
        self.burst = float(burst_for(rate_per_second) if burst is None else burst)
        self._timer = timer
        self._sleep = sleep or asyncio.sleep
        self._tokens = self.burst
        self._last: float | None = None
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._dispatcher: asyncio.Task[None] | None = None
        #: Tokens handed out, by priority (what the bench and tests report).
        self.granted: Counter[Priority] = Counter()
        #: Seconds the dispatcher spent waiting for tokens.
        self.waited = 0.0

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, f in self._queue if not f.done())

    async def take(self, priority: Priority = Priority.UPKEEP) -> None:
        """Wait for this request's turn under the global budget."""
        self._refill()
        if not self._queue and self._tokens >= _WHOLE:
            self._grant(priority)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (int(priority), next(self._order), future))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="rest-pacer")
        await future

    def _now(self) -> float:
        return self._timer() if self._timer is not None else asyncio.get_running_loop().time()

    def _refill(self) -> None:
        now = self._now()
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def _grant(self, priority: Priority | int) -> None:
        self._tokens -= 1.0
        self.granted[Priority(priority)] += 1

    async def _dispatch(self) -> None:
        """Hand tokens to waiters, best priority first, until nobody waits."""
        while self._queue:
            self._refill()
            while self._queue and self._tokens >= _WHOLE:
                priority, _, future = heapq.heappop(self._queue)
                if future.done():  # the waiter was cancelled: its turn passes on
                    continue
                self._grant(priority)
                future.set_result(None)
            if not self._queue:
                return
            delay = max(1e-6, (1.0 - self._tokens) / self.rate)
            self.waited += delay
            await self._sleep(delay)  # pacing real requests, not synchronising
