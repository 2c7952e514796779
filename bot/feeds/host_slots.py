"""How many downloads run at once against one calendar server, and who goes next.

A department server hosting forty calendars should not see forty connections from us at once,
so each host has a few *slots*, handed out in arrival order. Two rules keep one bad feed from
holding up the healthy ones on the same host:

* A slot is lent, not owned: a download still running after ``overdue_after`` gives its slot
  to the next in line and runs on as *overdue* until its own deadline. A host sees at most
  ``per_host + max_overdue`` of our connections; past that, an overdue download keeps its slot.
* Waiting for a slot is not part of a download's deadline (the deadline starts once the slot
  is held), and the wait itself is bounded: after ``max_wait`` the caller gets ``HostBusy``,
  which says "not polled this time", not "the feed failed".

Only the event loop touches a :class:`HostSlots`; times are the loop's monotonic clock.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.errors import HostBusy


@dataclass
class _Host:
    holding: int = 0
    overdue: int = 0
    queue: deque[asyncio.Future[None]] = field(default_factory=deque)

    @property
    def idle(self) -> bool:
        return not (self.holding or self.overdue or self.queue)


@dataclass
class _Use:
    """One download's claim: whether it still holds its slot, and its overdue timer."""

    host: _Host
    holds: bool = True
    timer: asyncio.TimerHandle | None = None


class HostSlots:
    def __init__(
        self,
        *,
        per_host: int = 6,
        overdue_after: float = 1.0,
        max_overdue: int = 12,
        max_wait: float = 60.0,
    ) -> None:
        self.per_host = max(1, per_host)
        self.overdue_after = overdue_after
        self.max_overdue = max(0, max_overdue)
        self.max_wait = max_wait
        self._hosts: dict[str, _Host] = {}
        #: Downloads that gave up waiting (``HostBusy``), for the operator's figures.
        self.gave_up = 0

    def holding(self, host: str) -> int:
        """Slots of ``host`` held right now (overdue downloads not counted)."""
        entry = self._hosts.get(host)
        return entry.holding if entry else 0

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of ``host``'s slots for the body of the ``async with``."""
        entry = self._hosts.setdefault(host, _Host())
        await self._acquire(host, entry)
        use = _Use(entry)
        self._arm(use)
        try:
            yield
        finally:
            if use.timer is not None:
                use.timer.cancel()
            if use.holds:
                self._pass_on(entry)
            else:
                entry.overdue -= 1
            if entry.idle and self._hosts.get(host) is entry:
                del self._hosts[host]

    async def _acquire(self, host: str, entry: _Host) -> None:
        if entry.holding < self.per_host and not entry.queue:
            entry.holding += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry.queue.append(turn)
        try:
            await asyncio.wait({turn}, timeout=self.max_wait)
        except asyncio.CancelledError:
            self._leave(entry, turn)
            raise
        if turn.done():
            return  # the slot was handed over to us
        self._leave(entry, turn)
        self.gave_up += 1
        raise HostBusy(
            f"The calendar server {host} is busy with the bot's other downloads; "
            f"this feed waited {self.max_wait:g} s and will be polled at its next turn."
        )

    def _leave(self, entry: _Host, turn: asyncio.Future[None]) -> None:
        """Stop waiting; a slot handed over at that very moment goes to the next in line."""
        if turn.done() and not turn.cancelled():
            self._pass_on(entry)
            return
        turn.cancel()
        if turn in entry.queue:
            entry.queue.remove(turn)

    def _pass_on(self, entry: _Host) -> None:
        """Give a held slot to the first one still waiting, or free it."""
        while entry.queue:
            turn = entry.queue.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        entry.holding -= 1

    def _arm(self, use: _Use) -> None:
        loop = asyncio.get_running_loop()
        use.timer = loop.call_later(self.overdue_after, self._overdue, use)

    def _overdue(self, use: _Use) -> None:
        """A slow download lends its slot out, if the host may take one more connection."""
        entry = use.host
        if not use.holds:
            return
        if entry.overdue >= self.max_overdue:
            self._arm(use)  # try again later; until then it keeps its slot
            return
        use.holds = False
        use.timer = None
        entry.overdue += 1
        self._pass_on(entry)
