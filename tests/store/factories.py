"""Builders for occurrences, parsed feeds and a feed's successive polls, shared by diff and store tests.

Tests build ``Occurrence``/``ParsedFeed`` directly so they do not depend on the parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.diff import Baseline, DiffPolicy, DiffResult, StoredEvent, diff_feed
from bot.core.models import Occurrence, OccurrenceKey, ParsedFeed

#: A Monday noon; every scenario counts from here.
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOST = "philosophy.example.edu"


def tec_uid(post_id: int, start: datetime, end: datetime, host: str = HOST) -> str:
    """The Events Calendar's UID: post id plus start/end epochs (so it changes on reschedule)."""
    return f"{post_id}-{int(start.timestamp())}-{int(end.timestamp())}@{host}"


def occ(uid: str, start: datetime, *, hours: float = 1, **fields: Any) -> Occurrence:
    fields.setdefault("summary", f"Talk {uid}")
    fields.setdefault("timezone", "America/New_York")
    return Occurrence(
        key=OccurrenceKey(uid), start=start, end=start + timedelta(hours=hours), **fields
    )


def tec_occ(post_id: int, start: datetime, *, hours: float = 1, **fields: Any) -> Occurrence:
    end = start + timedelta(hours=hours)
    fields.setdefault("url", f"https://{HOST}/event/talk-{post_id}/")
    fields.setdefault("summary", f"Talk {post_id}")
    return occ(tec_uid(post_id, start, end), start, hours=hours, **fields)


def feed_of(
    occurrences: Sequence[Occurrence], *, now: datetime, days_ahead: int = 180
) -> ParsedFeed:
    return ParsedFeed(
        occurrences=tuple(occurrences),
        window_start=now - timedelta(days=1),
        window_end=now + timedelta(days=days_ahead),
        event_count=len(occurrences),
    )


def weekly(n: int, *, first: datetime = T0 + timedelta(days=1)) -> list[Occurrence]:
    return [occ(f"ev{i}", first + timedelta(days=i)) for i in range(n)]


class FeedHistory:
    """Successive polls of one feed, carrying the stored state from one diff to the next."""

    def __init__(self, name: str = "seminar", policy: DiffPolicy | None = None) -> None:
        self.name = name
        self.policy = policy or DiffPolicy()
        self.events: list[StoredEvent] = []

    def poll(
        self,
        occurrences: Sequence[Occurrence],
        *,
        now: datetime,
        baseline: Baseline | None = None,
    ) -> DiffResult:
        result = diff_feed(
            self.name,
            self.events,
            feed_of(occurrences, now=now),
            now=now,
            policy=self.policy,
            baseline=baseline,
        )
        self.events = list(result.events)
        return result

    def stored(self, key: OccurrenceKey | str) -> StoredEvent:
        wanted = OccurrenceKey(key) if isinstance(key, str) else key
        matches = [e for e in self.events if e.key == wanted]
        assert len(matches) == 1, f"{wanted} stored {len(matches)} times"
        return matches[0]


def kinds(result: DiffResult) -> list[str]:
    return [a.kind.value for a in result.actions]
