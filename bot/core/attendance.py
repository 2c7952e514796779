""" "I'm going", pure: how a card shows the count, when a card may be edited again, and what a
reschedule or cancellation means for the people going.

* **Debounced card edits.** A click never edits the card itself; it marks the card changed.
  The first change waits ``COALESCE`` (so a burst starts as one edit), and one card is edited
  at most once per ``CARD_EDIT_INTERVAL``; the count is read from the database at edit time,
  so the last edit of a burst always shows the exact number. Ten seconds of clicks on one
  card cost at most five edits.
* **Attendance follows the talk.** It is keyed by the announcement id, which survives
  reschedules. A talk that moves (time or place) tells each person going once; a cancelled
  talk tells them once and their attendance ends. The notice has the same key as the one a
  reminder subscriber gets (``core.reminders.notice_key``), so someone who is both going and
  subscribed is told once, not twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.reminders import (
    Notice,
    PlanEvent,
    anchor_of,
    change_kind,
    change_notice,
    notice_key,
)

#: The wait after the first change of a quiet card, so a burst of clicks starts as one edit.
COALESCE = timedelta(seconds=1)
#: At most one edit per card this often (Discord allows about five edits per 5 s per channel).
CARD_EDIT_INTERVAL = timedelta(seconds=3)
#: Card edits per channel in any ``CHANNEL_WINDOW`` (below Discord's 5 per 5 s).
CHANNEL_EDITS = 4
CHANNEL_WINDOW = timedelta(seconds=5)

GOING_LABEL = "I'm going"


def going_label(count: int) -> str:
    """The button's label: the count rides on the button, so a phone shows it without
    growing the card (and the card is unchanged while nobody is going)."""
    return f"{GOING_LABEL} · {count}" if count > 0 else GOING_LABEL


def next_edit_at(changed_at: datetime, edited_at: datetime | None) -> datetime:
    """When a card changed at ``changed_at`` (first change not shown yet) may be edited."""
    due = changed_at + COALESCE
    if edited_at is not None:
        due = max(due, edited_at + CARD_EDIT_INTERVAL)
    return due


@dataclass
class ChannelPacer:
    """Spreads card edits over a channel's budget, in the injected clock's time."""

    limit: int = CHANNEL_EDITS
    window: timedelta = CHANNEL_WINDOW
    _edits: dict[int, list[datetime]] = field(default_factory=dict)

    def free_at(self, channel_id: int, now: datetime) -> datetime:
        """The first instant (``now`` or later) at which this channel may take an edit."""
        recent = [t for t in self._edits.get(channel_id, []) if now - t < self.window]
        self._edits[channel_id] = recent
        if len(recent) < self.limit:
            return now
        return recent[-self.limit] + self.window

    def spend(self, channel_id: int, now: datetime) -> None:
        self._edits.setdefault(channel_id, []).append(now)


@dataclass(frozen=True, slots=True)
class Attendee:
    """One person going, with the time and place they last heard of."""

    user_id: int
    announcement_id: str
    start_json: str
    place: str


@dataclass
class AttendancePlan:
    notices: list[Notice] = field(default_factory=list)
    #: Attendees who heard of the new time/place: (attendee, start_json, place) to store.
    moved: list[tuple[Attendee, str, str]] = field(default_factory=list)
    #: Attendance that ends (the talk was cancelled).
    ended: list[Attendee] = field(default_factory=list)


def follow_events(
    attendees: Sequence[Attendee],
    events: Mapping[str, PlanEvent],
    *,
    feed_zone: str,
    now: datetime,
    already_told: frozenset[str] = frozenset(),
) -> AttendancePlan:
    """What a poll's events mean for the people going (talks that have started are left alone).

    ``already_told`` holds the notice keys planned for reminder subscribers in the same pass.
    """
    plan = AttendancePlan()
    told = set(already_told)
    for person in attendees:
        event = events.get(person.announcement_id)
        if event is None or anchor_of(event.occurrence, feed_zone) <= now:
            continue
        kind = change_kind(person.start_json, person.place, event)
        if event.cancelled:
            plan.ended.append(person)
        elif person.start_json != event.start_json or person.place != event.place:
            plan.moved.append((person, event.start_json, event.place))
        if kind is None:
            continue
        key = notice_key(person.user_id, event.announcement_id, kind, event.start_json, event.place)
        if key in told:
            continue
        told.add(key)
        known = (person.start_json, person.place)
        plan.notices.append(change_notice(key, person.user_id, kind, known, event, feed_zone))
    return plan
