"""The parse step of a poll, incremental: reuse what the store already parsed.

Runs the split-and-parse in the parser pool and the cache work (hashing the body, rebuilding
the window's occurrences) on the database thread, so nothing heavy touches the event loop.
Any doubt ends in the plain full parse, whose answer is authoritative. The pure pieces, and
the invariants they keep, are described in :mod:`bot.core.incremental`.
"""

from __future__ import annotations

import gc
from datetime import datetime

from sqlite_utils import Database

from bot.core.incremental import (
    CacheView,
    DraftDigest,
    FeedState,
    Outcome,
    absorb,
    content_digest,
    draft_digest,
    settings_key,
    settle_digest,
)
from bot.core.models import ParsedFeed
from bot.core.parse import ParseLimits
from bot.feeds.isolate import ParserPool, scaled_allowance
from bot.service.dbthread import DatabaseThread
from bot.store.parse_cache import cache_for

_DEFAULT_LIMITS = ParseLimits()
#: Groups parsed in one poll beyond which the heap is frozen on the next poll (see _settle).
FREEZE_AFTER_GROUPS = 1000
_freeze_pending = False


def _settle() -> None:
    """Move what a big poll left alive out of the cyclic collector's reach.

    A first poll of a large feed leaves hundreds of thousands of long-lived objects (cached
    occurrences, stored events). Every full collection then walks them all while holding the
    GIL, on whichever thread allocates: 50-150 ms of event-loop stall at 10,000 events, at a
    random moment of a later poll. ``gc.freeze`` moves them to the permanent generation (they are
    acyclic and still freed by reference counting). It runs at the start of the *next* poll,
    when the earlier poll's temporaries are gone; cyclic garbage alive at that instant would
    stay, which bounds the cost to once per big reparse.
    """
    global _freeze_pending
    if _freeze_pending:
        _freeze_pending = False
        gc.freeze()


def body_digest(body: bytes) -> str:
    """The key the parse caches know a body by: equal for bodies that differ only in DTSTAMPs."""
    return _key(content_digest(body))


def _key(digest: bytes) -> str:
    return "c:" + digest.hex()


def _lookup(
    db: Database,
    feed_id: int,
    body: bytes,
    window: tuple[datetime, datetime],
    settings: bytes,
    limits: ParseLimits,
    body_hash: str | None,
) -> tuple[ParsedFeed | None, CacheView | None, str | DraftDigest]:
    """A body equal to the last one but for DTSTAMPs is answered from the cache (no child, no
    split, no parse); otherwise what the child needs, and the body's key or, when only a
    search for stamps of other values can settle it, its draft (see ``draft_digest``).
    ``body_hash``: the body's :func:`body_digest`, when the caller has it already."""
    _settle()
    state = cache_for(db).get(feed_id)
    key: str | DraftDigest
    if body_hash is not None:
        key = body_hash
    else:
        known = bytes.fromhex(state.body_hash[2:]) if state and state.body_hash else None
        draft = draft_digest(body, known=known)
        key = _key(draft.value) if draft.cuts is None else draft
    if state is None or state.settings != settings:
        return None, None, key
    if isinstance(key, str):
        parsed = _answer_from(state, body, key, window, settings, limits)
        if parsed is not None:
            return parsed, None, key
    return None, state.view(), key


def _answer_from(
    state: FeedState,
    body: bytes,
    body_hash: str,
    window: tuple[datetime, datetime],
    settings: bytes,
    limits: ParseLimits,
) -> ParsedFeed | None:
    """The window's occurrences from ``state`` when it holds this body (stamps aside) parsed
    under these settings; ``None`` when it cannot say."""
    if state.settings != settings or state.body_hash != body_hash:
        return None
    # The size check keeps the byte cap exact: stamps of another length could cross it.
    if len(body) > limits.max_bytes or not state.covers(*window):
        return None
    return state.assemble(window[0], window[1], limits)


def answer_from_feed(
    db: Database,
    source_feed_id: int,
    body: bytes,
    body_hash: str,
    window: tuple[datetime, datetime],
    settings: bytes,
    limits: ParseLimits,
) -> ParsedFeed | None:
    """What the full parse of ``body`` would give, read from another feed's remembered parse.

    For feeds following one calendar: the feed that parsed this body left its groups in its
    cache, and any window inside their horizon is assembled from them exactly as for that feed.
    Database thread only (the cache is owned by it). ``None`` when the state does not fit
    (another body since, other settings, a window outside the horizon, a cap in reach).
    """
    state = cache_for(db).get(source_feed_id)
    if state is None:
        return None
    return _answer_from(state, body, body_hash, window, settings, limits)


def _absorb(
    db: Database,
    feed_id: int,
    outcome: Outcome,
    body: bytes,
    key: str | DraftDigest,
    settings: bytes,
    window: tuple[datetime, datetime],
    limits: ParseLimits,
) -> ParsedFeed | None:
    if isinstance(key, str):
        body_hash = key
    else:  # settled here, after the child: done beside it, it slowed the child's hand-off
        body_hash = _key(settle_digest(body, key, single_stamp=outcome.single_stamp))
    cache = cache_for(db)
    state, added, dropped = absorb(
        cache.get(feed_id), outcome, body_hash=body_hash, settings=settings
    )
    cache.put(feed_id, state, added, dropped)
    if len(added) >= FREEZE_AFTER_GROUPS:
        global _freeze_pending
        _freeze_pending = True
    if outcome.full is not None:
        return outcome.full
    if state is None:
        return None
    return state.assemble(window[0], window[1], limits, outcome.exact)


async def parse_incrementally(
    parser: ParserPool,
    db_thread: DatabaseThread,
    db: Database,
    feed_id: int,
    body: bytes,
    *,
    window_start: datetime,
    window_end: datetime,
    default_timezone: str = "UTC",
    limits: ParseLimits = _DEFAULT_LIMITS,
    body_hash: str | None = None,
) -> ParsedFeed:
    """The same ParsedFeed as ``parser.parse(body, ...)``, at the cost of what changed.

    ``body_hash``: the body's :func:`body_digest`, when the caller computed it already."""
    window = (window_start, window_end)
    settings = settings_key(default_timezone, limits)
    parsed, view, key = await db_thread.run(
        _lookup, db, feed_id, body, window, settings, limits, body_hash
    )
    if parsed is not None:
        return parsed
    outcome = await parser.parse_incremental(
        body,
        window_start=window_start,
        window_end=window_end,
        default_timezone=default_timezone,
        limits=limits,
        cache=view,
    )
    parsed = await db_thread.run(_absorb, db, feed_id, outcome, body, key, settings, window, limits)
    if parsed is None:  # the groups interact after all: the full parse decides
        parsed = await parser.parse(
            body,
            window_start=window_start,
            window_end=window_end,
            default_timezone=default_timezone,
            limits=limits,
            timeout=scaled_allowance(len(body)) + 5,
        )
    return parsed
