"""Where the incremental parser keeps per-group results: memory first, SQLite behind it.

Only the database thread touches a :class:`ParseCache`. The cache is a pure memo of
(parser version, settings, header, group bytes, horizon) → parse result, independent of the
events table, so it is written in its own small transaction and may lag or be lost safely: a
missing entry only costs a parse. What a group result is: :mod:`bot.core.incremental`.
"""

from __future__ import annotations

import base64
import json
import weakref
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.core.incremental import PARSER_VERSION, FeedState, GroupResult
from bot.store.db import write_transaction

#: Rows written per statement batch, keeping each GIL-holding burst short.
_CHUNK = 500


class ParseCache:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._states: dict[int, FeedState | None] = {}

    def get(self, feed_id: int) -> FeedState | None:
        if feed_id not in self._states:
            self._states[feed_id] = self._load(feed_id)
        return self._states[feed_id]

    def _load(self, feed_id: int) -> FeedState | None:
        row = self._db.conn.execute(
            "SELECT parser_version, state_json FROM parse_cache WHERE feed_id = ?", [feed_id]
        ).fetchone()
        if row is None or int(row[0]) != PARSER_VERSION:
            return None
        try:
            data = json.loads(row[1])
            state = FeedState(
                context=bytes.fromhex(data["context"]),
                horizon_start=datetime.fromisoformat(data["horizon_start"]),
                horizon_end=datetime.fromisoformat(data["horizon_end"]),
                meta=(data["meta"][0], data["meta"][1], data["meta"][2]),
                order=_decode_order(data),
                event_count=int(data["event_count"]),
                body_hash=str(data["body_hash"]),
                settings=bytes.fromhex(data["settings"]),
            )
            for digest, text in self._db.conn.execute(
                "SELECT digest, result_json FROM parse_cache_groups WHERE feed_id = ?", [feed_id]
            ):
                state.groups[bytes(digest)] = GroupResult.from_dict(json.loads(text))
        except (KeyError, ValueError, TypeError, IndexError):
            return None  # unreadable: start over
        return state

    def put(
        self,
        feed_id: int,
        state: FeedState | None,
        added: set[bytes],
        dropped: set[bytes],
    ) -> None:
        """Remember ``state`` and persist what changed (only the changed groups are written)."""
        self._states[feed_id] = state
        with write_transaction(self._db):
            if state is None:
                self._db.conn.execute("DELETE FROM parse_cache WHERE feed_id = ?", [feed_id])
                self._db.conn.execute("DELETE FROM parse_cache_groups WHERE feed_id = ?", [feed_id])
                return
            self._db.conn.executemany(
                "DELETE FROM parse_cache_groups WHERE feed_id = ? AND digest = ?",
                [[feed_id, d] for d in dropped],
            )
            digests = [d for d in added if d in state.groups]
            for index in range(0, len(digests), _CHUNK):
                # Encoded chunk by chunk: a first poll of a huge feed never holds all the JSON.
                rows = [
                    [feed_id, d, json.dumps(state.groups[d].to_dict(), ensure_ascii=False)]
                    for d in digests[index : index + _CHUNK]
                ]
                self._db.conn.executemany(
                    "INSERT OR REPLACE INTO parse_cache_groups (feed_id, digest, result_json)"
                    " VALUES (?, ?, ?)",
                    rows,
                )
            self._db.conn.execute(
                "INSERT OR REPLACE INTO parse_cache (feed_id, parser_version, state_json)"
                " VALUES (?, ?, ?)",
                [feed_id, PARSER_VERSION, json.dumps(_state_dict(state))],
            )


def _state_dict(state: FeedState) -> dict[str, Any]:
    return {
        "context": state.context.hex(),
        "horizon_start": state.horizon_start.isoformat(),
        "horizon_end": state.horizon_end.isoformat(),
        "meta": list(state.meta),
        **_encode_order(state.order),
        "event_count": state.event_count,
        "body_hash": state.body_hash,
        "settings": state.settings.hex(),
    }


def _encode_order(order: tuple[bytes, ...]) -> dict[str, Any]:
    """The group order, rewritten after every poll that changes a group: digests of one size
    are packed into one base64 string (a list of 10,000 hex strings cost most of a small
    poll's write); older rows and mixed sizes keep the list form."""
    sizes = {len(d) for d in order}
    if len(sizes) == 1:
        (size,) = sizes
        return {"order_packed": base64.b64encode(b"".join(order)).decode("ascii"), "size": size}
    return {"order": [d.hex() for d in order]}


def _decode_order(data: dict[str, Any]) -> tuple[bytes, ...]:
    if "order_packed" not in data:
        return tuple(bytes.fromhex(d) for d in data["order"])
    packed = base64.b64decode(data["order_packed"], validate=True)
    size = int(data["size"])
    if size <= 0 or len(packed) % size:
        raise ValueError("packed group order of the wrong length")
    return tuple(packed[i : i + size] for i in range(0, len(packed), size))


_CACHES: weakref.WeakKeyDictionary[Database, ParseCache] = weakref.WeakKeyDictionary()


def cache_for(db: Database) -> ParseCache:
    """The one cache of this database connection (created on first use)."""
    cache = _CACHES.get(db)
    if cache is None:
        cache = _CACHES[db] = ParseCache(db)
    return cache
