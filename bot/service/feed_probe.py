"""Test-fetch what an admin pasted and find the calendar behind it, before anything is saved.

Every address (the pasted one, a Google link's feed, links found in a page) is fetched as
*untrusted*: through the SSRF guard, with every cap. Web pages are read (bounded) only to
look for the calendar they advertise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.discovery import Candidate, candidates_from_html, initial_candidates
from bot.core.models import ParsedFeed, sort_key
from bot.errors import FeedError, NotACalendar
from bot.feeds.http import Downloaded, FeedFetcher
from bot.feeds.isolate import ParserPool

PAGE_LIMIT = 512 * 1024
PROBE_WINDOW = timedelta(days=180)


@dataclass(frozen=True)
class Probe:
    """A calendar that fetched and parsed: what ``/feeds add`` reports and then saves."""

    url: str
    how: str
    parsed: ParsedFeed
    upcoming: int
    next_title: str
    next_start: datetime | None


def _summary(candidate: Candidate, parsed: ParsedFeed, now: datetime) -> Probe:
    future = [
        o
        for o in parsed.occurrences
        if not o.cancelled and sort_key(o.end if o.end is not None else o.start) > now
    ]
    future.sort(key=lambda o: sort_key(o.start))
    first = future[0] if future else None
    return Probe(
        url=candidate.url,
        how=candidate.how,
        parsed=parsed,
        upcoming=len(future),
        next_title=first.title if first else "",
        next_start=sort_key(first.start) if first else None,
    )


async def fetch_page(fetcher: FeedFetcher, url: str) -> tuple[str, str]:
    """A web page's text (first 512 KiB) and final address, through the fetcher's guard."""
    fetched = await fetcher.fetch(url, trusted=False, web_page=True)
    assert isinstance(fetched, Downloaded)  # no validators were sent, so never NotModified
    charset = "utf-8"
    if "charset=" in fetched.content_type:
        charset = fetched.content_type.split("charset=", 1)[1].split(";")[0].strip() or charset
    try:
        text = fetched.body[:PAGE_LIMIT].decode(charset, errors="replace")
    except LookupError:
        text = fetched.body[:PAGE_LIMIT].decode("utf-8", errors="replace")
    return text, fetched.final_url


async def _try(
    fetcher: FeedFetcher,
    parser: ParserPool,
    candidate: Candidate,
    *,
    now: datetime,
    default_timezone: str,
) -> Probe:
    fetched = await fetcher.fetch(candidate.url, trusted=False)
    assert isinstance(fetched, Downloaded)  # no validators were sent, so never NotModified
    parsed = await parser.parse(
        fetched.body,
        window_start=now - timedelta(days=1),
        window_end=now + PROBE_WINDOW,
        default_timezone=default_timezone,
    )
    return _summary(candidate, parsed, now)


async def probe_feed(
    fetcher: FeedFetcher,
    parser: ParserPool,
    pasted: str,
    *,
    now: datetime,
    default_timezone: str = "UTC",
) -> Probe:
    """The first candidate that is a working calendar; else the most telling error."""
    (first,) = initial_candidates(pasted)[:1]
    try:
        return await _try(fetcher, parser, first, now=now, default_timezone=default_timezone)
    except NotACalendar as exc:
        if "web page" not in str(exc):
            raise
        page_error: FeedError = exc
    html, final_url = await fetch_page(fetcher, first.url)
    candidates = candidates_from_html(html, final_url)
    if not candidates:
        raise NotACalendar(
            "That link is a web page that does not point to a calendar feed. Look for an "
            "“iCal”, “Export” or “Subscribe” link on it and paste that address instead."
        ) from page_error
    last: FeedError = page_error
    for candidate in candidates:
        try:
            return await _try(
                fetcher, parser, candidate, now=now, default_timezone=default_timezone
            )
        except FeedError as exc:
            last = exc
    raise last
