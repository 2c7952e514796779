"""Bookkeeping for the two features that follow a feed's stored events after each poll:
the Events-tab mirror and the weekly digest.

The Discord layer reads and writes Discord; what it needs from the database, and the rules
for which stored events count (live, cancelled, shown in a digest), are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from bot.core.diff.model import LIVE_STATES
from bot.core.event_mirror import MirrorRecord, RecordStatus
from bot.core.models import Occurrence
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store import mirror as mirror_store
from bot.store import outbox as outbox_store
from bot.store.events import FeedEvent
from bot.store.mirror import DigestRow


def mirror_notice_key(feed_id: int) -> str:
    """The admin notice said once when the mirror lost its permission."""
    return f"mirror-forbidden:{feed_id}"


@dataclass(frozen=True)
class MirrorWindow:
    """What the mirror should show: live talks and the talks known to be cancelled."""

    live: list[tuple[str, Occurrence]]
    cancelled: set[str]


def feed(db: Database, feed_id: int) -> feed_store.FeedRow | None:
    return feed_store.get_feed(db, feed_id)


def all_feeds(db: Database) -> list[feed_store.FeedRow]:
    return feed_store.list_feeds(db)


def mirror_window(
    db: Database, feed_id: int, *, start_from: datetime, start_before: datetime
) -> MirrorWindow:
    """The stored talks in the window, split into live ones and cancelled announcement ids."""
    stored = event_store.events_starting_in(
        db, feed_id, start_from=start_from, start_before=start_before
    )
    live = [(e.announcement_id, e.occurrence) for e in stored if e.state in LIVE_STATES]
    live_ids = {aid for aid, occ in live if not occ.cancelled}
    cancelled = {
        e.announcement_id for e in stored if e.state == "cancelled" or e.occurrence.cancelled
    } - live_ids
    return MirrorWindow(live=live, cancelled=cancelled)


def mirror_records(db: Database, feed_id: int) -> dict[str, MirrorRecord]:
    return mirror_store.mirror_records(db, feed_id)


def save_mirror_record(
    db: Database,
    feed_id: int,
    announcement_id: str,
    *,
    guild_id: int,
    event_id: int,
    status: RecordStatus,
    now: datetime,
) -> None:
    mirror_store.save_mirror_record(
        db, feed_id, announcement_id, guild_id=guild_id, event_id=event_id, status=status, now=now
    )


def forget_mirror_event(db: Database, event_id: int) -> None:
    """The Discord event was deleted on purpose: stop following it."""
    mirror_store.forget_mirror_event(db, event_id)


def switch_mirror_off(db: Database, feed_id: int, *, now: datetime) -> None:
    """No permission: turn the feed's mirror off and stop following its events.

    Nothing can be cleaned up without the permission; a re-enable adopts what exists.
    """
    feed_store.set_feed_setting(db, feed_id, "scheduled_events", False, now=now)
    mirror_store.abandon_mirror_records(db, feed_id)


def allow_mirror_notice_again(db: Database, feed_id: int) -> None:
    """The admin turned the mirror back on: a new refusal deserves a new notice."""
    outbox_store.forget_notice(db, mirror_notice_key(feed_id))


# --- weekly digest ------------------------------------------------------------------------


def feed_zone(db: Database, feed_id: int) -> str:
    """The zone the feed's own events are written in ("" when none says)."""
    return event_store.feed_zone(db, feed_id)


def get_digest(db: Database, feed_id: int, week: str) -> DigestRow | None:
    return mirror_store.get_digest(db, feed_id, week)


def digest_events(
    db: Database, feed_id: int, *, start_from: datetime, start_before: datetime
) -> list[FeedEvent]:
    """The feed's stored events starting in [from, before), soonest first (any state)."""
    return event_store.events_starting_in(
        db, feed_id, start_from=start_from, start_before=start_before
    )


def claim_digest(
    db: Database, feed_id: int, week: str, *, channel_id: int, nonce: str, now: datetime
) -> DigestRow:
    """Record the intent to post before posting (so a crash is repaired, not repeated)."""
    return mirror_store.claim_digest(db, feed_id, week, channel_id=channel_id, nonce=nonce, now=now)


def digest_posted(
    db: Database, feed_id: int, week: str, *, message_id: int, content_hash: str, now: datetime
) -> None:
    mirror_store.digest_posted(
        db, feed_id, week, message_id=message_id, content_hash=content_hash, now=now
    )
