"""Reminder rules, pure: when a reminder is due, whether a late one is still worth sending,
who should be reminded of what, and what a reschedule or cancellation changes.

Rules (docs/reliability.md, rule 4):

* A timed event is reminded relative to its start. An **all-day event is reminded relative to
  09:00 in the event's zone** (else the feed's zone, else UTC): "1d before" an all-day Friday
  event is Thursday 09:00, "15m before" is Friday 08:45.
* Whole days of an offset are taken off in local wall-clock time, the rest in absolute time,
  so "1d before" a 10:00 talk is 10:00 the day before even across a DST change, while "15m
  before" is always exactly 15 minutes.
* After downtime a reminder is sent late (labelled) while the event has not started, or
  started at most ``grace`` ago; otherwise it is recorded as missed, never dropped silently.
* Planning is a reconciliation: the desired reminders (subscriptions × upcoming events) are
  compared with the stored rows by idempotency key, so running it twice changes nothing.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.models import Occurrence, instant_to_json

#: All-day events are reminded relative to this local time on their first day.
ALL_DAY_ANCHOR = time(9, 0)
#: A reminder this close after its due time is simply "on time".
ON_TIME_SLACK = timedelta(minutes=2)
#: A late reminder is still sent if the event started at most this long ago.
DEFAULT_GRACE = timedelta(minutes=10)
#: Reminders are planned this far ahead (events further out are planned by later passes).
PLAN_HORIZON = timedelta(days=14)
#: Longest personal offset ("remind me a week before").
MAX_PERSONAL_OFFSET = timedelta(days=7)
#: The earliest a DM may go out before its due time when many are due together.
MAX_EARLY = timedelta(seconds=30)


def early_start(count: int, rate_per_second: float, *, cap: timedelta = MAX_EARLY) -> timedelta:
    """How long before their due time DMs due together, ``count`` requests in all, should start.

    Sent at ``rate_per_second``, they take ``count / rate`` seconds; starting half of that
    early centres the spread on the due time, so the first are as early as the last are
    late. Never earlier than ``cap``.
    """
    if count <= 1 or rate_per_second <= 0:
        return timedelta(0)
    return min(cap, timedelta(seconds=count / (2.0 * rate_per_second)))


def zone_for(name: str, fallback: str = "") -> ZoneInfo:
    """The first valid IANA zone of ``name``, ``fallback``, else UTC."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def anchor_of(occ: Occurrence, feed_zone: str = "") -> datetime:
    """The instant reminders count back from: the start, or 09:00 local for all-day events."""
    start = occ.start
    if isinstance(start, datetime):
        return start.astimezone(UTC)
    zone = zone_for(occ.timezone, feed_zone)
    return datetime.combine(start, ALL_DAY_ANCHOR, tzinfo=zone).astimezone(UTC)


def due_time(anchor: datetime, offset: timedelta, zone: ZoneInfo) -> datetime:
    """``anchor`` minus ``offset``: whole days on the local calendar, the rest in real time."""
    days = offset.days
    rest = offset - timedelta(days=days)
    local = anchor.astimezone(zone)
    if days:
        local = datetime.combine(local.date() - timedelta(days=days), local.time(), tzinfo=zone)
    return local.astimezone(UTC) - rest


def due_for(occ: Occurrence, offset: timedelta, feed_zone: str = "") -> datetime:
    return due_time(anchor_of(occ, feed_zone), offset, zone_for(occ.timezone, feed_zone))


class Decision(enum.StrEnum):
    NOT_DUE = "not_due"
    ON_TIME = "on_time"
    LATE = "late"
    MISSED = "missed"


def decide(
    due_at: datetime,
    anchor: datetime,
    now: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    slack: timedelta = ON_TIME_SLACK,
) -> Decision:
    """What to do with a reminder at ``now`` (the late/missed policy)."""
    if now < due_at:
        return Decision.NOT_DUE
    if now - due_at <= slack:
        return Decision.ON_TIME
    if now <= anchor + grace:
        return Decision.LATE
    return Decision.MISSED


# --- matching -------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def matches(field_name: str, pattern: str, occ: Occurrence) -> bool:
    """Whether a subscription filter (``series``/``speaker``/``keyword``/"" = all) fits."""
    needle = _fold(pattern)
    if not field_name or not needle:
        return True
    return needle in haystack(field_name, occ)


def haystack(field_name: str, occ: Occurrence) -> str:
    """The folded text a filter on ``field_name`` searches (one string; newline-separated)."""
    seminar = occ.seminar
    if field_name == "series":
        haystacks: Iterable[str] = (seminar.series, *occ.categories)
    elif field_name == "speaker":
        haystacks = (*seminar.speakers, seminar.speaker) if seminar.speaker else (occ.summary,)
    else:
        haystacks = (
            occ.summary,
            seminar.title,
            seminar.speaker,
            *seminar.speakers,
            seminar.series,
            seminar.affiliation,
            occ.description,
            *occ.categories,
        )
    return "\n".join(_fold(h) for h in haystacks if h)


# --- planning -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanEvent:
    """An upcoming occurrence as the planner sees it (``announcement_id`` survives reschedules)."""

    announcement_id: str
    occurrence: Occurrence
    cancelled: bool = False

    @property
    def start_json(self) -> str:
        return instant_to_json(self.occurrence.start) or ""

    @property
    def place(self) -> str:
        return self.occurrence.place


@dataclass(frozen=True, slots=True)
class PlanSubscription:
    id: int
    user_id: int
    #: "event" (one announcement) or "filter" (everything matching, now and later).
    kind: str
    offset: timedelta
    via: str = "dm"
    announcement_id: str = ""
    field: str = ""
    pattern: str = ""
    feed_id: int | None = None


@dataclass(frozen=True, slots=True)
class Desired:
    """One reminder that should exist."""

    idem_key: str
    announcement_id: str
    event_key: str
    start_json: str
    anchor: datetime
    place: str
    offset: timedelta
    due_at: datetime
    #: "channel" (the feed's reminder), "dm" or "mention" (a personal one in the channel).
    target_kind: str
    target_id: int
    subscription_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredReminder:
    id: int
    idem_key: str
    announcement_id: str
    state: str
    start_json: str
    place: str
    due_at: datetime
    target_kind: str
    subscription_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """One DM telling a subscriber that their event moved or was cancelled."""

    idem_key: str
    user_id: int
    announcement_id: str
    event_key: str
    kind: str  # "moved" | "cancelled"
    anchor: datetime
    payload: Mapping[str, str]
    subscription_id: int | None = None


@dataclass(frozen=True, slots=True)
class Update:
    row_id: int
    desired: Desired
    #: True when a sent/missed/cancelled reminder becomes pending again (new time, still ahead).
    rearm: bool


@dataclass
class ReminderPlan:
    inserts: list[Desired] = field(default_factory=list)
    #: Planned after their due time (e.g. "1d before" an event added 3 hours ahead).
    too_late: list[Desired] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    cancels: list[tuple[int, str]] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return (
            len(self.inserts)
            + len(self.too_late)
            + len(self.updates)
            + len(self.cancels)
            + len(self.notices)
        )


def channel_key(feed_id: int, announcement_id: str, offset: timedelta) -> str:
    return f"c:{feed_id}:{announcement_id}:{int(offset.total_seconds())}"


def personal_key(subscription_id: int, announcement_id: str) -> str:
    return f"s:{subscription_id}:{announcement_id}"


def notice_key(user_id: int, announcement_id: str, kind: str, start_json: str, place: str) -> str:
    if kind == "cancelled":
        return f"n:{user_id}:{announcement_id}:cancelled"
    digest = hashlib.sha256(f"{start_json}\n{place}".encode()).hexdigest()[:12]
    return f"n:{user_id}:{announcement_id}:moved:{digest}"


def plan_feed(
    *,
    feed_id: int,
    channel_id: int | None,
    offsets: Sequence[timedelta],
    feed_zone: str,
    events: Sequence[PlanEvent],
    subscriptions: Sequence[PlanSubscription],
    existing: Sequence[StoredReminder],
    now: datetime,
    horizon: timedelta = PLAN_HORIZON,
) -> ReminderPlan:
    """Reconcile the stored reminders of one feed with what should exist.

    Only events that have not started are in scope: reminders of started events are left to
    the worker's late/missed policy.
    """
    in_scope = {e.announcement_id: e for e in events if anchor_of(e.occurrence, feed_zone) > now}
    horizon_end = now + max(horizon, *(o + timedelta(days=2) for o in offsets), timedelta(0))
    audience = _Audience.of(subscriptions, feed_id)
    desired: dict[str, Desired] = {}
    for event in in_scope.values():
        anchor = anchor_of(event.occurrence, feed_zone)
        if event.cancelled or anchor > horizon_end:
            continue
        target = _Target(event, anchor, zone_for(event.occurrence.timezone, feed_zone))
        if channel_id is not None:
            desired.update(_channel_reminders(target, feed_id, channel_id, offsets))
        desired.update(_personal_reminders(target, audience.of_event(event), channel_id))
    return _reconcile(existing, in_scope, desired, feed_zone, now)


# --- what should exist ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """One in-scope event with the instant its reminders count back from, and its zone."""

    event: PlanEvent
    anchor: datetime
    zone: ZoneInfo

    def reminder(
        self,
        key: str,
        offset: timedelta,
        target_kind: str,
        target_id: int,
        sub: PlanSubscription | None = None,
    ) -> Desired:
        event = self.event
        return Desired(
            idem_key=key,
            announcement_id=event.announcement_id,
            event_key=event.occurrence.key.to_string(),
            start_json=event.start_json,
            anchor=self.anchor,
            place=event.place,
            offset=offset,
            due_at=due_time(self.anchor, offset, self.zone),
            target_kind=target_kind,
            target_id=target_id,
            subscription_id=sub.id if sub else None,
            user_id=sub.user_id if sub else None,
        )


def _channel_reminders(
    target: _Target, feed_id: int, channel_id: int, offsets: Sequence[timedelta]
) -> dict[str, Desired]:
    """The feed's own reminders in its channel, one per configured offset."""
    announcement_id = target.event.announcement_id
    reminders = {}
    for offset in offsets:
        key = channel_key(feed_id, announcement_id, offset)
        reminders[key] = target.reminder(key, offset, "channel", channel_id)
    return reminders


@dataclass(frozen=True, slots=True)
class _Audience:
    """A feed's subscriptions, sorted for matching: per event, and filters."""

    feed_id: int
    by_event: dict[str, list[PlanSubscription]]
    filters: list[PlanSubscription]

    @classmethod
    def of(cls, subscriptions: Sequence[PlanSubscription], feed_id: int) -> _Audience:
        by_event: dict[str, list[PlanSubscription]] = {}
        filters: list[PlanSubscription] = []
        for sub in subscriptions:
            if sub.kind == "event":
                by_event.setdefault(sub.announcement_id, []).append(sub)
            else:
                filters.append(sub)
        return cls(feed_id, by_event, filters)

    def of_event(self, event: PlanEvent) -> list[PlanSubscription]:
        """Who asked to be reminded of ``event``: by name, or by a filter it matches."""
        subs = list(self.by_event.get(event.announcement_id, ()))
        texts: dict[str, str] = {}
        for s in self.filters:
            if s.feed_id is not None and s.feed_id != self.feed_id:
                continue
            needle = _fold(s.pattern)
            if s.field and needle:
                if s.field not in texts:
                    texts[s.field] = haystack(s.field, event.occurrence)
                if needle not in texts[s.field]:
                    continue
            subs.append(s)
        return subs


def _personal_reminders(
    target: _Target, subs: Sequence[PlanSubscription], channel_id: int | None
) -> dict[str, Desired]:
    """One reminder per subscriber: a DM, or a mention in the feed's channel (if it has one)."""
    reminders = {}
    for sub in subs:
        if sub.via != "dm" and channel_id is None:
            continue
        key = personal_key(sub.id, target.event.announcement_id)
        if sub.via == "dm":
            reminders[key] = target.reminder(key, sub.offset, "dm", sub.user_id, sub)
        else:
            reminders[key] = target.reminder(key, sub.offset, "mention", int(channel_id or 0), sub)
    return reminders


# --- reconciling with the stored rows ---------------------------------------------------------


def _reconcile(
    existing: Sequence[StoredReminder],
    in_scope: Mapping[str, PlanEvent],
    desired: dict[str, Desired],
    feed_zone: str,
    now: datetime,
) -> ReminderPlan:
    """Compare the stored rows with ``desired`` by idempotency key (``desired`` is consumed)."""
    plan = ReminderPlan()
    noticed: set[str] = set()
    for row in existing:
        scoped = in_scope.get(row.announcement_id)
        if scoped is None:
            continue  # started or gone: the worker's late/missed policy owns it
        _plan_notice(plan, noticed, row, scoped, feed_zone)
        want = desired.pop(row.idem_key, None)
        if want is None:
            if row.state == "pending":
                plan.cancels.append(
                    (row.id, "event cancelled" if scoped.cancelled else "no longer wanted")
                )
            continue
        update = _row_update(row, want, now)
        if update is not None:
            plan.updates.append(update)
    for want in desired.values():
        # Planned at or after its due time (an event that appears, or is first announced,
        # inside the offset): the announcement itself is the news; record it, do not send.
        if want.due_at > now:
            plan.inserts.append(want)
        else:
            plan.too_late.append(want)
    return plan


def _row_update(row: StoredReminder, want: Desired, now: datetime) -> Update | None:
    """How a stored reminder that is still wanted changes: moved, re-armed, or not at all."""
    moved = row.start_json != want.start_json or row.due_at != want.due_at
    if row.state == "pending":
        if moved or row.place != want.place:
            return Update(row.id, want, rearm=False)
    elif row.state in ("sent", "missed", "cancelled", "failed"):
        ahead = want.due_at > now - ON_TIME_SLACK
        if ahead and (moved or row.state == "cancelled"):
            return Update(row.id, want, rearm=True)
        if moved or row.place != want.place:
            return Update(row.id, want, rearm=False)
    return None


def _plan_notice(
    plan: ReminderPlan, noticed: set[str], row: StoredReminder, event: PlanEvent, feed_zone: str
) -> None:
    """One DM per subscriber when their event moves (time or place) or is cancelled."""
    if row.target_kind != "dm" or row.user_id is None:
        return
    if row.state not in ("pending", "sending", "sent"):
        return
    kind = change_kind(row.start_json, row.place, event)
    if kind is None:
        return
    key = notice_key(row.user_id, event.announcement_id, kind, event.start_json, event.place)
    if key in noticed:
        return
    noticed.add(key)
    plan.notices.append(
        change_notice(
            key,
            row.user_id,
            kind,
            (row.start_json, row.place),
            event,
            feed_zone,
            subscription_id=row.subscription_id,
        )
    )


def change_kind(start_json: str, place: str, event: PlanEvent) -> str | None:
    """What someone who knew the talk at ``start_json`` in ``place`` is told of ``event``:
    "cancelled", "moved" (time or place; a place read differently from the same text is not
    a move) or nothing."""
    if event.cancelled:
        return "cancelled"
    if start_json != event.start_json or place not in (
        event.place,
        event.occurrence.place_as_first_read,
    ):
        return "moved"
    return None


def change_notice(
    key: str,
    user_id: int,
    kind: str,
    known: tuple[str, str],
    event: PlanEvent,
    feed_zone: str,
    *,
    subscription_id: int | None = None,
) -> Notice:
    """The DM telling ``user_id`` that the talk they knew at ``known`` (start, place) moved
    or was cancelled."""
    occ = event.occurrence
    return Notice(
        idem_key=key,
        user_id=user_id,
        announcement_id=event.announcement_id,
        event_key=occ.key.to_string(),
        kind=kind,
        anchor=anchor_of(occ, feed_zone),
        payload={
            "title": occ.title,
            "old_start": known[0],
            "new_start": event.start_json,
            "old_place": known[1],
            "new_place": event.place,
        },
        subscription_id=subscription_id,
    )
