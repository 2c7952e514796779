"""One download serves every feed that follows the same calendar.

Fifty servers following one department calendar should cost that department one request per
interval, not fifty. Feeds share by (normalised URL, trust policy): a body fetched under the
operator's relaxed policy must never reach a feed an admin added from Discord, so the two
policies never share. Sharing takes two forms:

* polls that overlap join the request already in flight;
* a recent successful body is reused for up to the shortest interval of the feeds asking for
  it, so feeds whose polls are spread across the interval (each feed has its own phase)
  still cause one request per interval; but a feed is never handed back the answer it
  already got, so the feed that made the last request makes the next one, on its own slot.
  A feed's body is thus at most one interval old when it is polled, and a feed alone on its
  URL downloads at every poll.

Only successes are remembered: a failure reaches the callers of that one request and nothing
later, so each feed records its own failure as before and the next poll asks again. Validators
stay per feed: a shared 200 body serves everyone, but a 304 only answers the feeds whose
validators it confirmed; any other feed falls back to a full download of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from yarl import URL

from bot.clock import Clock
from bot.feeds.http import Downloaded, FeedFetcher, FetchResult, NotModified, Validators

#: (normalised URL, trusted)
FetchKey = tuple[str, bool]


def normalise_url(url: str) -> str:
    """The same calendar spelt differently (case of scheme/host, webcal, default port) is one."""
    text = url.strip()
    try:
        parsed = URL(text)
    except ValueError:
        return text
    if not parsed.scheme or not parsed.host:
        return text
    scheme = {"webcal": "https", "webcals": "https"}.get(parsed.scheme.lower(), parsed.scheme)
    return str(parsed.with_scheme(scheme.lower()).with_host(parsed.host.lower()))


@dataclass
class _Recent:
    """The last good answer for a key: its body (when one was downloaded) and when confirmed."""

    validators: Validators
    body: Downloaded | None
    confirmed_at: datetime
    #: Which download confirmed it (see :meth:`SharedFetcher.ticket`).
    download: int = 0


@dataclass
class _InFlight:
    task: asyncio.Task[FetchResult]
    validators: Validators
    started_at: datetime
    number: int


class SharedFetcher:
    """Wraps a ``FeedFetcher`` so feeds with the same URL and trust share downloads."""

    def __init__(self, fetcher: FeedFetcher, clock: Clock) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._in_flight: dict[FetchKey, _InFlight] = {}
        self._recent: dict[FetchKey, _Recent] = {}
        #: Each feed's interval per key: the shortest one bounds how long a body is reused.
        self._intervals: dict[FetchKey, dict[int, timedelta]] = {}
        self._key_of: dict[int, FetchKey] = {}
        #: Downloads started so far; a download's number orders it against poll requests.
        self._downloads = 0
        #: The download each feed's last answer came from: it is never handed that one again.
        self._answered: dict[int, int] = {}

    def ticket(self) -> int:
        """Taken when a poll is asked for: a download numbered above it started later."""
        return self._downloads

    def follow(self, feed_id: int, url: str, *, trusted: bool, interval: timedelta) -> FetchKey:
        """Note that this feed follows ``url`` (a poll says so before it awaits anything, so
        polls started together know of each other before any of them parses)."""
        key: FetchKey = (normalise_url(url), trusted)
        previous = self._key_of.get(feed_id)
        if previous is not None and previous != key:  # the feed changed URL or trust
            self._intervals[previous].pop(feed_id, None)
        self._key_of[feed_id] = key
        self._intervals.setdefault(key, {})[feed_id] = interval
        return key

    def shares_calendar(self, feed_id: int) -> bool:
        """Whether another feed follows the same calendar under the same trust as this one
        (as of their last fetches): only then can a parse be shared."""
        key = self._key_of.get(feed_id)
        return key is not None and len(self._intervals.get(key, ())) > 1

    @property
    def requests_in_flight(self) -> int:
        return len(self._in_flight)

    async def fetch(
        self,
        feed_id: int,
        url: str,
        *,
        validators: Validators,
        trusted: bool,
        interval: timedelta,
        reuse: bool = True,
        asked_after: int | None = None,
    ) -> FetchResult:
        """What ``FeedFetcher.fetch`` would answer this feed, sharing the request when it can.

        ``reuse=False`` (someone asked for a poll now) skips the recent body unless its request
        started after the :meth:`ticket` ``asked_after`` taken when the poll was asked for, and
        still joins a request already under way: either answer is as fresh as a new one. So
        several polls asked for at once (a refresh of every feed on one calendar) still cost
        one request.
        """
        key = self.follow(feed_id, url, trusted=trusted, interval=interval)
        recent = self._recent.get(key)
        if recent is not None and recent.body is not None:
            if reuse:
                usable = self._fresh(key, recent) and recent.download > self._answered.get(
                    feed_id, 0
                )
            else:
                usable = asked_after is not None and recent.download > asked_after
            if usable:
                self._answered[feed_id] = recent.download
                return _answer_with_body(recent.body, validators)
        flight = self._in_flight.get(key)
        if flight is None:
            flight = self._start(key, url, validators, trusted)
        result = await asyncio.shield(flight.task)
        self._answered[feed_id] = flight.number
        if isinstance(result, Downloaded):
            return _answer_with_body(result, validators)
        if validators and validators == flight.validators:
            return result
        held = self._held_body(key, result.validators)
        if held is not None:  # the 304 confirmed a body we still hold
            return _answer_with_body(held, validators)
        # A 304 to someone else's validators says nothing this feed can use.
        return await self._fetcher.fetch(url, validators=validators, trusted=trusted)

    def _fresh(self, key: FetchKey, recent: _Recent) -> bool:
        window = min(self._intervals[key].values())
        return self._clock.now() - recent.confirmed_at < window

    def _start(self, key: FetchKey, url: str, validators: Validators, trusted: bool) -> _InFlight:
        started_at = self._clock.now()
        self._downloads += 1
        number = self._downloads
        task = asyncio.ensure_future(
            self._fetcher.fetch(url, validators=validators, trusted=trusted)
        )
        flight = _InFlight(task=task, validators=validators, started_at=started_at, number=number)
        self._in_flight[key] = flight

        def finished(done: asyncio.Task[FetchResult]) -> None:
            if self._in_flight.get(key) is flight:
                del self._in_flight[key]
            if done.cancelled() or done.exception() is not None:
                return  # a failure is never remembered
            self._remember(key, done.result(), started_at, number)

        task.add_done_callback(finished)
        return flight

    def _remember(self, key: FetchKey, result: FetchResult, at: datetime, number: int) -> None:
        if isinstance(result, Downloaded):
            self._recent[key] = _Recent(result.validators, result, at, number)
            return
        held = self._held_body(key, result.validators)
        if held is not None:
            self._recent[key] = _Recent(result.validators, held, at, number)

    def _held_body(self, key: FetchKey, validators: Validators) -> Downloaded | None:
        """The remembered body that these validators describe, if any."""
        recent = self._recent.get(key)
        if recent is None or recent.body is None or recent.validators != validators:
            return None
        return recent.body


def _answer_with_body(body: Downloaded, validators: Validators) -> FetchResult:
    """A feed that already holds this exact body gets the 304 its own request would have got."""
    if validators and validators == body.validators:
        return NotModified(validators)
    return body
