"""Members' reminders and subscriptions: the rules behind ``/remind``, ``/subscribe``,
``/subscriptions``, ``/unsubscribe`` and the "Remind me" button.

Every function runs on the database thread. Refusals are typed errors carrying what the
Discord layer needs to explain them; planning the actual reminder rows stays with
``service/reminders.py`` (the worker runs it right after a change).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot.core.models import Occurrence
from bot.core.reminders import due_for, matches
from bot.errors import SeminarBotError
from bot.service.feeds import settings_from_row
from bot.store import attendance as attendance_store
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store import reminders as reminder_store
from bot.store.events import UpcomingEvent
from bot.store.reminders import SubscriptionRow

#: Most events offered by the ``/remind`` autocomplete (Discord shows 25 choices).
CHOICES = 25


class ReminderRefusal(SeminarBotError):
    """A reminder that cannot be set; ``title`` names the event when there is one."""

    reason = "refused"

    def __init__(self, message: str, *, title: str = "") -> None:
        super().__init__(message)
        self.title = title


class UnknownEvent(ReminderRefusal):
    reason = "unknown_event"


class EventCancelled(ReminderRefusal):
    reason = "cancelled"


class TooSoon(ReminderRefusal):
    reason = "too_soon"


class UnknownFeed(ReminderRefusal):
    reason = "unknown_feed"


@dataclass(frozen=True)
class EventReminder:
    """A one-event subscription that was stored (or already existed)."""

    feed_id: int
    occurrence: Occurrence
    due: datetime
    created: bool


@dataclass(frozen=True)
class FilterSubscription:
    """A filter subscription that was stored (or already existed), and what it matches now."""

    subscription: SubscriptionRow
    created: bool
    feed_name: str
    #: Feeds whose reminders must be planned again.
    feed_ids: list[int]
    matching_now: int


def is_upcoming(event: UpcomingEvent, now: datetime) -> bool:
    start = event.occurrence.start
    if isinstance(start, datetime):
        return start > now
    return start >= now.date()


def member_seen(db: Database, user_id: int, *, now: datetime) -> None:
    """The member used the bot: that proves they are still in the server."""
    reminder_store.member_seen(db, user_id, now=now)


def remember_dm_channel(db: Database, user_id: int, channel_id: int, *, now: datetime) -> None:
    """The member asked for a DM reminder: keep their DM channel and note they are here.

    Both are learnt while the member interacts, so the reminder at its due time needs only
    the send itself.
    """
    reminder_store.set_dm_channel_id(db, user_id, channel_id)
    reminder_store.member_seen(db, user_id, now=now)


def users_with_pending_hint(db: Database) -> set[int]:
    return reminder_store.users_with_pending_hint(db)


def clear_dm_hint(db: Database, user_id: int) -> None:
    """The "your DMs are closed" hint was shown; never show it again for that closure."""
    reminder_store.clear_hint(db, user_id)


def _store(
    db: Database,
    *,
    guild_id: int,
    user_id: int,
    kind: str,
    offset: timedelta,
    via: str,
    feed_id: int | None,
    now: datetime,
    announcement_id: str = "",
    field: str = "",
    pattern: str = "",
) -> tuple[SubscriptionRow, bool]:
    """Store a subscription; asking for DMs again re-enables DMs closed earlier."""
    if via == "dm":
        reminder_store.reactivate_dm(db, user_id, now=now)
    return reminder_store.add_subscription(
        db,
        guild_id=guild_id,
        user_id=user_id,
        kind=kind,
        offset=offset,
        via=via,
        feed_id=feed_id,
        announcement_id=announcement_id,
        field=field,
        pattern=pattern,
        now=now,
    )


def remind_of_event(
    db: Database,
    *,
    guild_id: int,
    user_id: int,
    announcement_id: str,
    offset: timedelta,
    via: str,
    now: datetime,
    default_timezone: str,
) -> EventReminder:
    """Subscribe to one event of this server, if it is still ahead far enough."""
    event = event_store.event_by_announcement(db, announcement_id)
    feed = feed_store.get_feed(db, event.feed_id) if event else None
    if event is None or feed is None or feed.guild_id != guild_id:
        raise UnknownEvent("unknown event")
    occ = event.occurrence
    if event.state == "cancelled" or occ.cancelled:
        raise EventCancelled("cancelled", title=occ.title)
    zone = settings_from_row(feed).timezone or default_timezone
    due = due_for(occ, offset, zone)
    if due <= now:
        raise TooSoon("too soon", title=occ.title)
    sub, created = _store(
        db,
        guild_id=guild_id,
        user_id=user_id,
        kind="event",
        offset=offset,
        via=via,
        feed_id=feed.id,
        now=now,
        announcement_id=announcement_id,
    )
    if not created:
        # Asked for by name: if "I'm going" had set it, it is no longer going's to remove.
        attendance_store.release_subscription(db, sub.id)
    return EventReminder(feed_id=feed.id, occurrence=occ, due=due, created=created)


def subscribe_to_filter(
    db: Database,
    *,
    guild_id: int,
    user_id: int,
    feed: str | None,
    field: str,
    pattern: str,
    offset: timedelta,
    via: str,
    now: datetime,
) -> FilterSubscription:
    """Subscribe to every talk (of one feed, or all) matching the filter, now and later."""
    feed_row = None
    if feed:
        feed_row = feed_store.get_feed_by_name(db, feed, guild_id)
        if feed_row is None:
            raise UnknownFeed("unknown feed")
    sub, created = _store(
        db,
        guild_id=guild_id,
        user_id=user_id,
        kind="filter",
        offset=offset,
        via=via,
        feed_id=feed_row.id if feed_row else None,
        now=now,
        field=field,
        pattern=pattern,
    )
    feeds = [feed_row] if feed_row else feed_store.list_feeds(db, guild_id)
    count = sum(
        1
        for e in event_store.upcoming_events(db, guild_id, now=now)
        if (feed_row is None or e.feed_id == feed_row.id)
        and is_upcoming(e, now)
        and matches(field, pattern, e.occurrence)
    )
    return FilterSubscription(
        subscription=sub,
        created=created,
        feed_name=feed_row.name if feed_row else "",
        feed_ids=[row.id for row in feeds],
        matching_now=count,
    )


def remindable_events(
    db: Database, guild_id: int, typed: str, *, now: datetime, limit: int = CHOICES
) -> list[UpcomingEvent]:
    """Events still ahead and not cancelled that match what was typed, soonest first."""
    chosen = []
    for event in event_store.upcoming_events(db, guild_id, now=now):
        if event.occurrence.cancelled or not is_upcoming(event, now):
            continue
        if typed and not matches("keyword", typed, event.occurrence):
            continue
        chosen.append(event)
        if len(chosen) == limit:
            break
    return chosen


def feed_names(db: Database, guild_id: int) -> list[str]:
    return [row.name for row in feed_store.list_feeds(db, guild_id)]


@dataclass(frozen=True)
class Described:
    """A subscription with the names a member recognises it by."""

    subscription: SubscriptionRow
    title: str
    feed_name: str


def my_subscriptions(db: Database, user_id: int, guild_id: int) -> list[Described]:
    """The member's subscriptions in this server, with event titles and feed names."""
    described = []
    for sub in reminder_store.list_subscriptions(db, user_id, guild_id):
        title, feed_name = "", ""
        if sub.kind == "event":
            event = event_store.event_by_announcement(db, sub.announcement_id)
            title = event.occurrence.title if event else ""
        elif sub.feed_id is not None:
            feed = feed_store.get_feed(db, sub.feed_id)
            feed_name = feed.name if feed else ""
        described.append(Described(sub, title, feed_name))
    return described


def unsubscribe(db: Database, subscription_id: int, user_id: int, *, now: datetime) -> bool:
    """Remove one of the member's subscriptions (and its pending reminders)."""
    return reminder_store.remove_subscription(db, subscription_id, user_id, now=now)


def unsubscribe_all(db: Database, user_id: int, guild_id: int, *, now: datetime) -> int:
    return reminder_store.remove_all_subscriptions(db, user_id, guild_id, now=now)
