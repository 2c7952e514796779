"""Where the incremental parser keeps per-group results: memory first, SQLite behind it.

Only the database thread touches a :class:`ParseCache`. The cache is a pure memo of
(parser version, settings, header, group bytes, horizon) → parse result, independent of the
events table, so it is written in its own small transaction and may lag or be lost safely: a
missing entry only costs a parse. What a group result is: :mod:`bot.core.incremental`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import weakref
from datetime import datetime
from itertools import compress, count, islice
from operator import ne
from typing import Any

from sqlite_utils import Database

from bot.core.incremental import PARSER_VERSION, FeedState, GroupResult
from bot.store.db import write_transaction

#: Rows written per statement batch, keeping each GIL-holding burst short.
_CHUNK = 500


#: The ``parse_cache_groups`` row (by its digest, which no hash produces) holding a feed's
#: *base* group order: written when the order changes shape, while the state row carries only
#: the positions that differ from it. A 10,000-group order is ~200 kB; rewriting it on every
#: poll that edits one talk cost more than the rest of that poll's bookkeeping.
_ORDER_ROW = b""
#: Beyond this many positions differing from the base, the base is rewritten.
_PATCH_LIMIT = 1024


class ParseCache:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._states: dict[int, FeedState | None] = {}
        #: feed -> (the base order as stored, its tag), for the patches of later polls.
        self._bases: dict[int, tuple[tuple[bytes, ...], str]] = {}
        self._pending_base: tuple[tuple[bytes, ...], str] | None = None

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
            base: dict[str, Any] | None = None
            groups: dict[bytes, GroupResult] = {}
            for digest, text in self._db.conn.execute(
                "SELECT digest, result_json FROM parse_cache_groups WHERE feed_id = ?", [feed_id]
            ):
                if bytes(digest) == _ORDER_ROW:
                    base = json.loads(text)
                else:
                    groups[bytes(digest)] = GroupResult.from_dict(json.loads(text))
            order = _decode_order(data) if "order_base" not in data else _patched(data, base)
            state = FeedState(
                context=bytes.fromhex(data["context"]),
                horizon_start=datetime.fromisoformat(data["horizon_start"]),
                horizon_end=datetime.fromisoformat(data["horizon_end"]),
                meta=(data["meta"][0], data["meta"][1], data["meta"][2]),
                order=order,
                event_count=int(data["event_count"]),
                body_hash=str(data["body_hash"]),
                settings=bytes.fromhex(data["settings"]),
                groups=groups,
            )
        except (KeyError, ValueError, TypeError, IndexError):
            return None  # unreadable: start over
        if base is not None and "order_base" in data:
            self._bases[feed_id] = (_decode_order(base), str(base["tag"]))
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
        if state is None:
            self._bases.pop(feed_id, None)
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
            self._pending_base = None
            order = self._order_fields(feed_id, state.order)
            self._db.conn.execute(
                "INSERT OR REPLACE INTO parse_cache (feed_id, parser_version, state_json)"
                " VALUES (?, ?, ?)",
                [feed_id, PARSER_VERSION, json.dumps(_state_dict(state, order))],
            )
        if self._pending_base is not None:  # committed: later polls patch against it
            self._bases[feed_id] = self._pending_base

    def _order_fields(self, feed_id: int, order: tuple[bytes, ...]) -> dict[str, Any]:
        """The state row's order: a patch of the stored base, which is rewritten (in the
        caller's transaction) only when the order's length or digest size changed or the
        patch grew too long. The new base is remembered by :meth:`put` once committed."""
        known = self._bases.pop(feed_id, None)
        patch = _patch(known[0], order) if known is not None else None
        if known is not None and patch is not None:
            self._pending_base = known
            return _encode_patch(known[1], order, patch)
        encoded = _encode_order(order)
        if "order_packed" not in encoded:  # mixed digest sizes (older rows): inline
            return encoded
        tag = hashlib.blake2b(encoded["order_packed"].encode(), digest_size=8).hexdigest()
        self._db.conn.execute(
            "INSERT OR REPLACE INTO parse_cache_groups (feed_id, digest, result_json)"
            " VALUES (?, ?, ?)",
            [feed_id, _ORDER_ROW, json.dumps({**encoded, "tag": tag})],
        )
        self._pending_base = (order, tag)
        return _encode_patch(tag, order, [])


def _state_dict(state: FeedState, order: dict[str, Any]) -> dict[str, Any]:
    return {
        "context": state.context.hex(),
        "horizon_start": state.horizon_start.isoformat(),
        "horizon_end": state.horizon_end.isoformat(),
        "meta": list(state.meta),
        **order,
        "event_count": state.event_count,
        "body_hash": state.body_hash,
        "settings": state.settings.hex(),
    }


def _patch(base: tuple[bytes, ...], order: tuple[bytes, ...]) -> list[int] | None:
    """The positions where ``order`` differs from ``base`` (found in C), or ``None`` when a
    patch cannot say it (another length or digest size) or would be too long."""
    if len(base) != len(order) or (order and len(order[0]) != len(base[0])):
        return None
    if base is order:
        return []
    positions = list(islice(compress(count(), map(ne, base, order)), _PATCH_LIMIT + 1))
    if len(positions) > _PATCH_LIMIT:
        return None
    if any(len(order[p]) != len(base[0]) for p in positions):
        return None
    return positions


def _encode_patch(tag: str, order: tuple[bytes, ...], positions: list[int]) -> dict[str, Any]:
    digests = b"".join(order[p] for p in positions)
    return {
        "order_base": tag,
        "order_patch": positions,
        "order_patch_digests": base64.b64encode(digests).decode("ascii"),
    }


def _patched(data: dict[str, Any], base: dict[str, Any] | None) -> tuple[bytes, ...]:
    """The order a patched state row names: its base (which must be the one it was written
    against) with the patched positions replaced."""
    if base is None or base.get("tag") != data["order_base"]:
        raise ValueError("the group order's base is missing or another")
    order = list(_decode_order(base))
    size = int(base["size"])
    packed = base64.b64decode(data["order_patch_digests"], validate=True)
    positions = [int(p) for p in data["order_patch"]]
    if len(packed) != size * len(positions):
        raise ValueError("group order patch of the wrong length")
    for n, position in enumerate(positions):
        if not 0 <= position < len(order):
            raise ValueError("group order patch out of range")
        order[position] = packed[n * size : (n + 1) * size]
    return tuple(order)


def _encode_order(order: tuple[bytes, ...]) -> dict[str, Any]:
    """The group order: digests of one size are packed into one base64 string (a list of
    10,000 hex strings cost most of a small poll's write); older rows and mixed sizes keep
    the list form."""
    sizes = set(map(len, order))
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
