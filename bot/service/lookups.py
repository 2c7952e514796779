"""Member lookups behind ``/seminars``: which feeds a server sees and which talks match.

A server that has no feeds of its own sees the operator's unassigned feeds (guild 0), so a
single-server bot configured without guild ids still answers.
"""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from bot.core.templates import CardTemplates
from bot.errors import SeminarBotError
from bot.service.feeds import card_style, settings_from_row
from bot.store import feeds as feed_store
from bot.store import search as search_store
from bot.store.search import EventHit, SearchResult

#: Feeds from the config file without a guild id belong to every server.
UNASSIGNED = 0


class UnknownFeed(SeminarBotError):
    """The member named a feed this server does not have."""

    reason = "unknown_feed"


def feed_names(db: Database, guild_id: int) -> list[str]:
    """The names of the feeds this server sees (its own, else the unassigned ones)."""
    rows = feed_store.list_feeds(db, guild_id) or feed_store.list_feeds(db, UNASSIGNED)
    return [row.name for row in rows]


def _check_feed(db: Database, guild_id: int, feed: str | None) -> None:
    if feed is None:
        return
    if feed_store.get_feed_by_name(db, feed, guild_id) is None and (
        feed_store.get_feed_by_name(db, feed, UNASSIGNED) is None
    ):
        raise UnknownFeed(f"no feed called {feed!r}")


def upcoming(
    db: Database,
    guild_id: int,
    *,
    now: datetime,
    until: datetime | None = None,
    feed: str | None = None,
    limit: int = 100,
) -> list[EventHit]:
    """Talks from now (until ``until``), soonest first; ``UnknownFeed`` for a bad feed name."""
    _check_feed(db, guild_id, feed)
    return search_store.upcoming(db, guild_id, now=now, until=until, feed=feed, limit=limit)


def search(db: Database, guild_id: int, query: str, *, now: datetime, limit: int) -> SearchResult:
    """Upcoming talks matching the words, with a spelling correction when nothing matched."""
    return search_store.search_events(db, guild_id, query, now=now, limit=limit)


def suggest(db: Database, guild_id: int, text: str, *, now: datetime, limit: int) -> list[EventHit]:
    """Autocomplete: what was typed so far, or the next talks when nothing was."""
    return search_store.autocomplete(db, guild_id, text, now=now, limit=limit)


def find_event(db: Database, guild_id: int, ref: str, *, now: datetime) -> EventHit | None:
    """A picked suggestion (its id), else the best match for the typed text."""
    if ref.strip().isdigit():
        hit = search_store.get_event(db, guild_id, int(ref.strip()))
        if hit is not None:
            return hit
    result = search_store.search_events(db, guild_id, ref, now=now, limit=1)
    return result.hits[0] if result.hits else None


def feed_card_style(db: Database, feed_id: int) -> tuple[CardTemplates | None, str]:
    """The feed's card templates and the zone they write times in, so a looked-up card
    reads like the one posted in the channel."""
    row = feed_store.get_feed(db, feed_id)
    if row is None:
        return None, "UTC"
    return card_style(settings_from_row(row))
