"""The row types the Discord layer renders, handed out by the service layer.

The store defines them (they are what its queries return); the Discord layer names them only
through this module, so it never imports the store.
"""

from __future__ import annotations

from bot.store.events import FeedEvent, UpcomingEvent
from bot.store.feeds import FeedRow
from bot.store.outbox import Announcement, AnnouncementState, OutboxRow
from bot.store.reminders import ReminderRow, ReminderState, SubscriptionRow
from bot.store.search import EventHit

__all__ = [
    "Announcement",
    "AnnouncementState",
    "EventHit",
    "FeedEvent",
    "FeedRow",
    "OutboxRow",
    "ReminderRow",
    "ReminderState",
    "SubscriptionRow",
    "UpcomingEvent",
]
