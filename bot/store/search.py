"""Read-only queries behind the member commands: upcoming lists, search and autocomplete.

Every query is scoped to one guild's feeds (feeds of guild 0, from a config file without a
guild id, count for a guild that has none of its own) and answers from indexes, so it stays
fast with tens of thousands of stored events.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
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
#: Lists pick rows by these alone (answered from indexes: the stored text of an event is large,
#: and sorting it along with every candidate row cost more than the query itself); the text of
#: the few rows picked is read afterwards by rowid.
_KEY_COLUMNS = "e.rowid AS rowid, e.feed_id AS feed_id, gf.name AS feed_name, e.state AS state"
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


@lru_cache(maxsize=1024)
def _occurrence(stored_json: str) -> Occurrence:
    """Decoding is most of a lookup's cost, and members ask about the same few weeks again
    and again; keyed by the stored text itself, a changed event can never be served stale
    (an ``Occurrence`` is immutable, so sharing one is safe)."""
    return Occurrence.from_dict(json.loads(stored_json))


def _hits(db: Database, keys: list[tuple[Any, ...]]) -> list[EventHit]:
    """The picked rows (rowid, feed id, feed name, state), in order, with their events."""
    if not keys:
        return []
    marks = ", ".join("?" for _ in keys)
    texts = dict(
        db.conn.execute(
            f"SELECT rowid, occurrence_json FROM events WHERE rowid IN ({marks})",
            [k[0] for k in keys],
        ).fetchall()
    )
    return [
        EventHit(
            rowid=int(rowid),
            feed_id=int(feed_id),
            feed_name=str(feed_name),
            state=EventState(state),
            occurrence=_occurrence(str(texts[rowid])),
        )
        for rowid, feed_id, feed_name, state in keys
        if rowid in texts
    ]


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
    keys = db.conn.execute(
        f"""
        WITH {_GUILD_FEEDS}
        SELECT {_KEY_COLUMNS} FROM gf JOIN events e ON e.feed_id = gf.id
        WHERE {_UPCOMING} AND (:feed IS NULL OR gf.name = :feed)
        ORDER BY e.start_utc, e.rowid LIMIT :limit
        """,
        params,
    ).fetchall()
    return _hits(db, keys)


def get_event(db: Database, guild_id: int, rowid: int) -> EventHit | None:
    """One event by handle, only if it belongs to one of the guild's feeds."""
    keys = db.conn.execute(
        f"""
        WITH {_GUILD_FEEDS}
        SELECT {_KEY_COLUMNS} FROM gf JOIN events e ON e.feed_id = gf.id WHERE e.rowid = :rowid
        """,
        {"guild": guild_id, "rowid": rowid},
    ).fetchall()
    hits = _hits(db, keys)
    return hits[0] if hits else None


def _match(
    db: Database, guild_id: int, expression: str, *, now: datetime, limit: int
) -> list[EventHit]:
    # bm25 column weights: speaker, title, affiliation, abstract, series, extra.
    keys = db.conn.execute(
        f"""
        WITH {_GUILD_FEEDS}
        SELECT {_KEY_COLUMNS}
        FROM events_fts
        JOIN events e ON e.rowid = events_fts.rowid
        JOIN gf ON gf.id = e.feed_id
        WHERE events_fts MATCH :match AND {_UPCOMING}
        ORDER BY bm25(events_fts, 10.0, 6.0, 4.0, 1.0, 3.0, 1.0), e.start_utc
        LIMIT :limit
        """,
        _params(guild_id, now, None) | {"match": expression, "limit": limit},
    ).fetchall()
    return _hits(db, keys)


#: Per connection: the event-version stamp the index was built at, and the index.
_VOCABULARY_INDEXES: weakref.WeakKeyDictionary[
    Database, tuple[tuple[tuple[int, int], ...], search.VocabularyIndex]
] = weakref.WeakKeyDictionary()


def _events_stamp(db: Database) -> tuple[tuple[int, int], ...]:
    """Every feed's write counter (bumped by triggers on any write to ``events``)."""
    rows = db.conn.execute("SELECT feed_id, version FROM event_versions ORDER BY feed_id")
    return tuple((int(r[0]), int(r[1])) for r in rows)


def vocabulary_index(db: Database) -> search.VocabularyIndex:
    """The typo-correction vocabulary as a trigram index, rebuilt only after events change.

    Building it reads the whole vocabulary once (tens of milliseconds for 10,000 events);
    every later typo search until the next change looks up a few trigrams instead.
    """
    stamp = _events_stamp(db)
    cached = _VOCABULARY_INDEXES.get(db)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    words = frozenset(search.fold(v) for v in _vocabulary(db) if v)
    # Most polls change times or abstracts, not names: then the index is still right.
    if cached is not None and cached[1].words == words:
        index = cached[1]
    else:
        index = search.VocabularyIndex.of_folded(words)
    _VOCABULARY_INDEXES[db] = (stamp, index)
    return index


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
    fixed = search.corrections(words, vocabulary_index(db))
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
