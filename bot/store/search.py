"""Read-only queries behind the member commands: upcoming lists, search and autocomplete.

Every query is scoped to one guild's feeds (feeds of guild 0, from a config file without a
guild id, count for a guild that has none of its own) and answers from indexes, so it stays
fast with tens of thousands of stored events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.core import search
from bot.core.diff import EventState
from bot.core.models import Occurrence
from bot.store.rows import ts

#: Multi-day events that began this long ago may still be running.
LOOKBACK = timedelta(days=7)

_GUILD_FEEDS = """
    gf AS (
        SELECT id, name FROM feeds
        WHERE guild_id = :guild
           OR (guild_id = 0 AND NOT EXISTS (SELECT 1 FROM feeds WHERE guild_id = :guild))
    )
"""
_UPCOMING = """
    e.state NOT IN ('cancelled', 'expired')
    AND e.start_utc >= :lookback AND e.start_utc < :until
    AND COALESCE(e.end_utc, e.start_utc) > :now
"""
_COLUMNS = (
    "e.rowid AS rowid, e.feed_id AS feed_id, gf.name AS feed_name, e.state AS state, "
    "e.occurrence_json AS occurrence_json"
)
_SEARCH_COLUMNS = ("speaker", "title", "affiliation", "series")


@dataclass(frozen=True, slots=True)
class EventHit:
    """One stored occurrence as lookups show it; ``rowid`` is its handle for autocomplete."""

    rowid: int
    feed_id: int
    feed_name: str
    state: EventState
    occurrence: Occurrence


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[EventHit]
    #: The corrected query when the typo fallback was used, else "".
    corrected: str = ""


def _hit(row: tuple[Any, ...]) -> EventHit:
    return EventHit(
        rowid=int(row[0]),
        feed_id=int(row[1]),
        feed_name=str(row[2]),
        state=EventState(row[3]),
        occurrence=Occurrence.from_dict(json.loads(row[4])),
    )


def _params(guild_id: int, now: datetime, until: datetime | None) -> dict[str, Any]:
    return {
        "guild": guild_id,
        "now": ts(now),
        "lookback": ts(now - LOOKBACK),
        "until": ts(until) if until is not None else "9999",
    }


def upcoming(
    db: Database,
    guild_id: int,
    *,
    now: datetime,
    until: datetime | None = None,
    feed: str | None = None,
    limit: int = 100,
) -> list[EventHit]:
    """Events not yet over, soonest first (cancelled ones left out)."""
    params = _params(guild_id, now, until) | {"limit": limit, "feed": feed}
    rows = db.conn.execute(
        f"""
        WITH {_GUILD_FEEDS}
        SELECT {_COLUMNS} FROM gf JOIN events e ON e.feed_id = gf.id
        WHERE {_UPCOMING} AND (:feed IS NULL OR gf.name = :feed)
        ORDER BY e.start_utc, e.rowid LIMIT :limit
        """,
        params,
    ).fetchall()
    return [_hit(r) for r in rows]


def get_event(db: Database, guild_id: int, rowid: int) -> EventHit | None:
    """One event by handle, only if it belongs to one of the guild's feeds."""
    row = db.conn.execute(
        f"""
        WITH {_GUILD_FEEDS}
        SELECT {_COLUMNS} FROM gf JOIN events e ON e.feed_id = gf.id WHERE e.rowid = :rowid
        """,
        {"guild": guild_id, "rowid": rowid},
    ).fetchone()
    return _hit(row) if row else None


def _match(
    db: Database, guild_id: int, expression: str, *, now: datetime, limit: int
) -> list[EventHit]:
    # bm25 column weights: speaker, title, affiliation, abstract, series, extra.
    rows = db.conn.execute(
        f"""
        WITH {_GUILD_FEEDS}
        SELECT {_COLUMNS}
        FROM events_fts
        JOIN events e ON e.rowid = events_fts.rowid
        JOIN gf ON gf.id = e.feed_id
        WHERE events_fts MATCH :match AND {_UPCOMING}
        ORDER BY bm25(events_fts, 10.0, 6.0, 4.0, 1.0, 3.0, 1.0), e.start_utc
        LIMIT :limit
        """,
        _params(guild_id, now, None) | {"match": expression, "limit": limit},
    ).fetchall()
    return [_hit(r) for r in rows]


def _vocabulary(db: Database) -> list[str]:
    """Distinct words of the name-like columns (the typo fallback corrects against these)."""
    db.conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.events_fts_vocab"
        " USING fts5vocab(main, events_fts, 'col')"
    )
    marks = ", ".join("?" for _ in _SEARCH_COLUMNS)
    rows = db.conn.execute(
        f"SELECT DISTINCT term FROM temp.events_fts_vocab WHERE col IN ({marks})",
        list(_SEARCH_COLUMNS),
    ).fetchall()
    return [str(r[0]) for r in rows]


def search_events(
    db: Database, guild_id: int, query: str, *, now: datetime, limit: int = 25
) -> SearchResult:
    """Ranked upcoming matches: all words, then any word, then typo-corrected words."""
    words = search.tokens(query)
    if not words:
        return SearchResult([])
    hits = _match(db, guild_id, search.match_expression(words), now=now, limit=limit)
    if hits:
        return SearchResult(hits)
    fixed = search.corrections(words, _vocabulary(db))
    corrected = search.did_you_mean(fixed)
    if corrected:
        hits = _match(db, guild_id, search.corrected_expression(fixed), now=now, limit=limit)
        if hits:
            return SearchResult(hits, corrected)
    if len(words) > 1:
        any_word = search.match_expression(words, any_word=True)
        return SearchResult(_match(db, guild_id, any_word, now=now, limit=limit))
    return SearchResult([])


def autocomplete(
    db: Database, guild_id: int, text: str, *, now: datetime, limit: int = 25
) -> list[EventHit]:
    """Choices while typing: the next events, or prefix matches of what was typed so far."""
    words = search.tokens(text)
    if not words:
        return upcoming(db, guild_id, now=now, limit=limit)
    return _match(db, guild_id, search.match_expression(words), now=now, limit=limit)
