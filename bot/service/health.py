"""A health file the container's HEALTHCHECK reads: live gateway and recent successful polls.

The running bot rewrites the file every minute, and at once when the gateway connects or
disconnects (discord.py's ready/resumed/disconnect events; the client's ``is_ready()`` and
``ws`` outlive a disconnect, so they are no evidence); ``seminar-bot health`` exits 0 only
if the file is fresh, the gateway is connected and no active feed has gone too long without
a successful poll. A file (not a port) keeps the image free of an HTTP server.

A shard process also lists each of its shards (connected, heartbeat latency, since when);
it is unhealthy when any of them is down, even while the others serve their servers.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.service.feeds import settings_from_row
from bot.store import feeds as feed_store

STALE_AFTER = timedelta(minutes=3)
#: A feed may miss this many poll intervals (at least an hour) before the bot is unhealthy.
MISSED_POLLS = 3
MIN_FEED_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class FeedHealth:
    name: str
    status: str
    last_ok_at: datetime | None
    poll_interval: timedelta
    created_at: datetime


@dataclass(frozen=True)
class ShardHealth:
    shard_id: int
    connected: bool
    #: Heartbeat round trip; None before the first acknowledged heartbeat.
    latency_ms: float | None
    changed_at: datetime | None


def write_health(
    path: str | os.PathLike[str],
    *,
    now: datetime,
    gateway_connected: bool,
    feeds: Iterable[FeedHealth],
    gateway_changed_at: datetime | None = None,
    shards: Iterable[ShardHealth] = (),
) -> None:
    """Atomically replace the health file (a reader never sees half a file)."""
    data: dict[str, Any] = {
        "updated_at": now.isoformat(),
        "gateway_connected": gateway_connected,
        "gateway_changed_at": gateway_changed_at.isoformat() if gateway_changed_at else None,
        "feeds": [
            {
                "name": f.name,
                "status": f.status,
                "last_ok_at": f.last_ok_at.isoformat() if f.last_ok_at else None,
                "poll_interval_s": int(f.poll_interval.total_seconds()),
                "created_at": f.created_at.isoformat(),
            }
            for f in feeds
        ],
        "shards": [
            {
                "shard_id": s.shard_id,
                "connected": s.connected,
                "latency_ms": s.latency_ms,
                "changed_at": s.changed_at.isoformat() if s.changed_at else None,
            }
            for s in shards
        ],
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".health-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, target)


def check_health(path: str | os.PathLike[str], *, now: datetime) -> tuple[bool, str]:
    """(healthy, explanation) for the file the bot wrote."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        updated = datetime.fromisoformat(data["updated_at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"no readable health file at {path} ({exc.__class__.__name__})"
    if now - updated > STALE_AFTER:
        return False, f"health file not updated since {updated.isoformat()} (bot stuck or stopped)"
    down = [s for s in data.get("shards", []) if not s.get("connected")]
    if down:
        return False, "; ".join(
            f"shard {s.get('shard_id')} is not connected to the Discord gateway"
            + (f" since {s['changed_at']}" if s.get("changed_at") else "")
            for s in down
        )
    if not data.get("gateway_connected"):
        since = data.get("gateway_changed_at")
        return False, "not connected to the Discord gateway" + (f" since {since}" if since else "")
    late = []
    for feed in data.get("feeds", []):
        if feed.get("status") not in ("active", "suspect"):
            continue
        grace = max(MIN_FEED_GRACE, MISSED_POLLS * timedelta(seconds=feed["poll_interval_s"]))
        since_raw = feed.get("last_ok_at") or feed.get("created_at")
        since = datetime.fromisoformat(since_raw)
        if now - since > grace:
            late.append(feed["name"])
    if late:
        return False, f"no successful poll recently for: {', '.join(late)}"
    return True, "ok"


def feed_health(db: Database) -> list[FeedHealth]:
    """What the health file says about each feed that is meant to be polled."""
    rows = [(row, settings_from_row(row)) for row in feed_store.list_feeds(db)]
    return [
        FeedHealth(
            name=row.name,
            status=row.status,
            last_ok_at=row.last_ok_at,
            poll_interval=settings.poll_interval,
            created_at=row.created_at,
        )
        for row, settings in rows
        if not settings.paused
    ]
