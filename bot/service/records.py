"""The row types the Discord layer renders, handed out by the service layer.

The store defines them (they are what its queries return); the Discord layer names them only
through this module, so it never imports the store.
"""

from __future__ import annotations

from bot.store.delivery_repo import Announcement
from bot.store.mirror_repo import DigestRow, FeedEvent
from bot.store.reminders_repo import ReminderRow, SubscriptionRow, UpcomingEvent
from bot.store.repo import FeedRow, OutboxRow
from bot.store.search_repo import EventHit, SearchResult

__all__ = [
    "Announcement",
    "DigestRow",
    "EventHit",
    "FeedEvent",
    "FeedRow",
    "OutboxRow",
    "ReminderRow",
    "SearchResult",
    "SubscriptionRow",
    "UpcomingEvent",
]
