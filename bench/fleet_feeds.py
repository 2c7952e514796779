"""The fleet bench's calendar host: a thousand Events-Calendar feeds that change as real ones do.

Each feed has a *kind*, fixed by its index, that says how its body changes from one poll cycle
to the next (a cycle is one poll period of wall time since the bot was started):

* ``etag`` (40 %): never changes and carries an ETag, so every poll after the first is a 304;
* ``same`` (20 %): never changes and has no validators, so the same bytes are downloaded and
  recognised as unchanged;
* ``stamp`` (20 %): every cycle re-stamps DTSTAMP (what WordPress does on every export) with
  nothing a reader sees changing;
* ``new`` (10 %): every cycle a new talk appears (an announcement);
* ``edit`` (10 %): every cycle a new talk appears and the one added the cycle before moves to
  another room (an edit of that announcement).

The first talk of every feed starts ``REMINDER_LEAD`` after a due time inside the run, so the
15-minute reminders of it come due while the bench watches. One URL is shared by many feeds
(``/feed/shared.ics``, kind ``new``); a few URLs hang until the bot's fetch times out.

The feeds are spread over many loopback addresses, as a fleet's calendars are spread over
many departments' web servers: the bot limits its connections per host, so putting every
feed on one host would measure that limit rather than the fleet.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bench.feedgen import Talk, render_feed, seminar_series

EVENTS_PER_FEED = 30
REMINDER_LEAD = timedelta(minutes=15)
KINDS = ("etag", "etag", "etag", "etag", "same", "same", "stamp", "stamp", "new", "edit")
SHARED = "shared"
#: A hung host answers after this long; the bot gives up at its 30 s total fetch timeout.
HANG_SECONDS = 45.0


def kind_of(index: int) -> str:
    return "new" if index < 0 else KINDS[index % len(KINDS)]


class FleetFeeds:
    """Serves ``/feed/<index>.ics`` and ``/feed/shared.ics``; records every request's arrival."""

    def __init__(self, *, period: float, hanging: set[int]) -> None:
        self._launched = time.time()
        self._period = period
        self._reminder_due: dict[int, datetime] = {}
        self._hanging = hanging
        self._cache: dict[int, tuple[str, bytes]] = {}
        #: path key (feed index, or ``SHARED``) -> wall-clock arrival of each request
        self.arrivals: dict[int | str, list[float]] = {}
        self.not_modified = 0
        self.full_bodies = 0

    def begin(self, launched: float, reminder_due: dict[int, datetime]) -> None:
        """Cycles count from ``launched``; feed ``i``'s first talk is due for reminders at
        ``reminder_due[i]`` (index -1: the shared URL)."""
        self._launched = launched
        self._reminder_due = reminder_due
        self._cache.clear()

    def path_of(self, index: int, *, shared: bool) -> str:
        return f"/feed/{SHARED if shared else index}.ics"

    def cycle(self) -> int:
        return max(0, int((time.time() - self._launched) // self._period))

    def _talks(self, index: int, cycle: int) -> list[Talk]:
        due = self._reminder_due[index]
        talks = seminar_series(EVENTS_PER_FEED, first=due + REMINDER_LEAD)
        kind = kind_of(index)
        if kind not in ("new", "edit"):
            return talks
        first_new = due + timedelta(days=2)
        for added in range(1, cycle + 1):
            talk = Talk(
                post_id=900_000 + added,
                start=first_new + timedelta(hours=added),
                speaker=f"Guest {added}",
                title=f"Invited talk {added}",
                room="Hackerman Hall B-17",
            )
            if kind == "edit" and added == cycle - 1:
                talk = replace(talk, room=f"Malone {200 + cycle}")
            talks.append(talk)
        return talks

    def _version(self, index: int, cycle: int) -> str:
        kind = kind_of(index)
        if kind in ("etag", "same"):
            return "0"
        return str(cycle)

    def _body(self, index: int, cycle: int) -> tuple[str, bytes]:
        version = self._version(index, cycle)
        cached = self._cache.get(index)
        if cached is not None and cached[0] == version:
            return cached
        stamp = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=int(version))
        body = render_feed(self._talks(index, cycle), stamp=stamp)
        self._cache[index] = (version, body)
        return version, body

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        key: int | str = SHARED if name == SHARED else int(name)
        self.arrivals.setdefault(key, []).append(time.time())
        index = -1 if key == SHARED else int(key)
        if index in self._hanging:
            await asyncio.sleep(HANG_SECONDS)
        version, body = self._body(index, self.cycle())
        headers: dict[str, str] = {}
        if kind_of(index) != "same":
            headers["ETag"] = f'"{name}-{version}"'
            if request.headers.get("If-None-Match") == headers["ETag"]:
                self.not_modified += 1
                return web.Response(status=304, headers=headers)
        self.full_bodies += 1
        return web.Response(body=body, content_type="text/calendar", headers=headers)

    async def start(self, hosts: int) -> tuple[web.AppRunner, int]:
        """Listen on 127.0.0.1 (the shared URL) and ``hosts`` more loopback addresses, one port."""
        app = web.Application()
        app.router.add_get("/feed/{name}.ics", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        first = web.TCPSite(runner, "127.0.0.1", 0)
        await first.start()
        port = int(runner.addresses[0][1])
        for number in range(hosts):
            await web.TCPSite(runner, host_of(number), port).start()
        return runner, port


def host_of(number: int) -> str:
    """The ``number``-th calendar host: 127.0.1.0, 127.0.1.1, … (all loopback)."""
    return f"127.0.{1 + number // 256}.{number % 256}"
