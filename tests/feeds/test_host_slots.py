"""Feeds that hang on one server never hold up the healthy feeds on that server: a download's
deadline starts once it has a slot, a slow download lends its slot out, and a feed that cannot
get a slot in time is told so without counting as a failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from bot.errors import FeedTimeout, ForbiddenAddress, HostBusy
from bot.feeds.host_slots import HostSlots
from bot.feeds.http import Downloaded, FetchLimits
from tests.feeds.conftest import ICS, FetcherFactory, Served, ServeFactory

HANGING = 10
HEALTHY = 10


@dataclass
class Host:
    """One calendar server: some paths answer at once, some never, some after a delay."""

    served: Served
    active: int = 0
    most_active: int = 0


@pytest.fixture
async def host(serve: ServeFactory) -> AsyncIterator[Host]:
    never = asyncio.Event()  # set at teardown: the hung requests end with the test
    state: Host

    async def counted(answer: float | None) -> web.StreamResponse:
        state.active += 1
        state.most_active = max(state.most_active, state.active)
        try:
            if answer is None:
                await asyncio.wait_for(never.wait(), 10)
            else:
                await asyncio.sleep(answer)  # a server that takes its time, then answers
            return web.Response(body=ICS, content_type="text/calendar")
        finally:
            state.active -= 1

    async def hang(request: web.Request) -> web.StreamResponse:
        return await counted(None)

    async def ok(request: web.Request) -> web.StreamResponse:
        return await counted(0)

    async def slow(request: web.Request) -> web.StreamResponse:
        return await counted(0.4)

    routes = {f"/hang/{n}.ics": hang for n in range(HANGING)}
    routes |= {f"/ok/{n}.ics": ok for n in range(HEALTHY)}
    routes["/slow.ics"] = slow
    state = Host(await serve(routes))
    yield state
    never.set()


async def timed(coro: object) -> tuple[float, object]:
    started = time.monotonic()
    try:
        result = await coro  # type: ignore[misc]
    except Exception as exc:  # the caller looks at which error
        result = exc
    return time.monotonic() - started, result


async def test_hanging_feeds_do_not_hold_up_healthy_feeds_on_the_same_server(
    host: Host, make_fetcher: FetcherFactory
) -> None:
    limits = FetchLimits(
        total_timeout=1.5, connect_timeout=1, read_timeout=1.5, per_host=4, overdue_after=0.2
    )
    fetcher = make_fetcher(host.served, limits=limits)  # untrusted: the address guard runs
    hanging = [
        asyncio.ensure_future(timed(fetcher.fetch(host.served.url(f"/hang/{n}.ics"))))
        for n in range(HANGING)
    ]
    await asyncio.sleep(0)  # the hanging feeds ask first and take every slot
    healthy = await asyncio.gather(
        *(timed(fetcher.fetch(host.served.url(f"/ok/{n}.ics"))) for n in range(HEALTHY))
    )
    for took, result in healthy:
        assert isinstance(result, Downloaded) and result.body == ICS
        assert took < 1.0  # never waited out a hanging feed's deadline
    for took, result in await asyncio.gather(*hanging):
        assert isinstance(result, FeedTimeout)  # each times out on its own deadline
        assert took >= 1.5
    # The server never saw more than its slots plus the lent-out (overdue) downloads.
    assert host.most_active <= limits.per_host + limits.max_overdue_per_host
    assert fetcher.host_slots.holding(f"127.0.0.1:{host.served.port}") == 0


async def test_the_deadline_starts_when_the_slot_is_held(
    host: Host, make_fetcher: FetcherFactory
) -> None:
    limits = FetchLimits(
        total_timeout=0.6, read_timeout=1, per_host=1, max_overdue_per_host=0, overdue_after=0.1
    )
    fetcher = make_fetcher(host.served, limits=limits)
    first = asyncio.ensure_future(timed(fetcher.fetch(host.served.url("/hang/0.ics"))))
    await asyncio.sleep(0)
    # Waits 0.6 s for the only slot, then needs 0.4 s of its own: 1 s in all, more than the
    # 0.6 s deadline, yet on time by its own clock.
    took, result = await timed(fetcher.fetch(host.served.url("/slow.ics")))
    assert isinstance(result, Downloaded)
    assert took >= 0.9
    assert isinstance((await first)[1], FeedTimeout)


async def test_a_bounded_wait_for_a_slot_says_busy_not_failed(
    host: Host, make_fetcher: FetcherFactory
) -> None:
    limits = FetchLimits(total_timeout=1.0, per_host=1, max_overdue_per_host=0, max_queue_wait=0.2)
    fetcher = make_fetcher(host.served, limits=limits)
    first = asyncio.ensure_future(timed(fetcher.fetch(host.served.url("/hang/0.ics"))))
    await asyncio.sleep(0)
    took, result = await timed(fetcher.fetch(host.served.url("/ok/0.ics")))
    assert isinstance(result, HostBusy) and result.reason == "host_busy"
    assert 0.2 <= took < 0.9
    assert fetcher.host_slots.gave_up == 1
    assert isinstance((await first)[1], FeedTimeout)
    assert host.served.hits == 1  # the busy feed never reached the server


async def test_the_address_guard_still_refuses_while_slots_are_free(
    host: Host, make_fetcher: FetcherFactory
) -> None:
    # Nothing exempt: loopback is forbidden to untrusted links, whatever the slots say.
    fetcher = make_fetcher(extra_ports=[host.served.port])
    with pytest.raises(ForbiddenAddress):
        await fetcher.fetch(host.served.url("/ok/0.ics", host="127.0.0.1"))
    assert host.served.hits == 0


async def test_downloads_from_one_server_take_turns_in_arrival_order(
    host: Host, make_fetcher: FetcherFactory
) -> None:
    fetcher = make_fetcher(host.served, limits=FetchLimits(per_host=2))
    urls = [host.served.url(f"/ok/{n}.ics") for n in range(HEALTHY)]
    results = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
    assert all(isinstance(r, Downloaded) for r in results)
    assert [r.path for r in host.served.requests] == [f"/ok/{n}.ics" for n in range(HEALTHY)]
    assert host.most_active <= 2


async def test_a_poll_cancelled_while_waiting_gives_its_turn_back() -> None:
    slots = HostSlots(per_host=1, overdue_after=60, max_wait=60)
    entered = asyncio.Event()

    async def waiter() -> None:
        async with slots.slot("cal.example.edu:443"):
            entered.set()

    async with slots.slot("cal.example.edu:443"):
        queued = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)  # it is now in line
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
    assert not entered.is_set()
    assert slots.holding("cal.example.edu:443") == 0
    async with slots.slot("cal.example.edu:443"):  # free at once, nothing left in line
        assert slots.holding("cal.example.edu:443") == 1
