"""Planning the Discord scheduled-event mirror of one feed: pure, so every rule is testable.

The planner compares what the feed wants (upcoming talks in the announce window) with what
the guild has (every scheduled event, read back from Discord) and what the store remembers,
and returns the few requests that bring them in line. Discord's own list is the truth for
"does it exist": an event found by its description marker is adopted, never created twice.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.core.models import Occurrence
from bot.core.render import speaker_line, truncate, zone_of

#: Discord's cap on SCHEDULED + ACTIVE events per guild.
MAX_ACTIVE_EVENTS = 100
NAME_LIMIT = 100
DESCRIPTION_LIMIT = 1000
LOCATION_LIMIT = 100
#: Never create or move an event closer to "now" than this (Discord refuses past starts).
START_MARGIN = timedelta(minutes=2)
DEFAULT_LENGTH = timedelta(hours=1)
NO_PLACE = "See the seminar announcement"

Escape = Callable[[str], str]


def _same(text: str) -> str:
    return text


class RemoteStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELED = "canceled"


class RecordStatus(enum.StrEnum):
    #: We created (or adopted) it and it should follow the feed.
    ACTIVE = "active"
    #: We cancelled it because the feed cancelled the talk.
    CANCELLED = "cancelled"
    #: Someone deleted or cancelled it by hand: leave it alone, never re-create it.
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class EventPayload:
    """The fields of an EXTERNAL scheduled event, already within Discord's limits."""

    name: str
    description: str
    start: datetime
    end: datetime
    location: str


@dataclass(frozen=True, slots=True)
class Wanted:
    """A talk that should be in the Events tab, in start order."""

    announcement_id: str
    payload: EventPayload


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    """A guild scheduled event as Discord reports it."""

    event_id: int
    name: str
    description: str
    start: datetime
    end: datetime | None
    location: str
    status: RemoteStatus

    @property
    def open(self) -> bool:
        """Counts against the 100-event cap."""
        return self.status in (RemoteStatus.SCHEDULED, RemoteStatus.ACTIVE)


@dataclass(frozen=True, slots=True)
class MirrorRecord:
    announcement_id: str
    event_id: int
    status: RecordStatus


class OpKind(enum.StrEnum):
    CREATE = "create"
    EDIT = "edit"
    CANCEL = "cancel"
    DELETE = "delete"
    #: No request: only the store learns an id (adopted after a crash) or a status.
    RECORD = "record"


@dataclass(frozen=True, slots=True)
class MirrorOp:
    kind: OpKind
    announcement_id: str
    event_id: int | None = None
    payload: EventPayload | None = None
    #: For RECORD: what the store should now say.
    status: RecordStatus = RecordStatus.ACTIVE


# --- markers ------------------------------------------------------------------------------


def feed_tag(feed_id: int) -> str:
    return "sbm-" + hashlib.sha256(f"mirror-feed:{feed_id}".encode()).hexdigest()[:6]


def marker_for(feed_id: int, announcement_id: str) -> str:
    """A tag in the event description that identifies the feed's talk after a crash."""
    digest = hashlib.sha256(f"mirror:{feed_id}:{announcement_id}".encode()).hexdigest()[:10]
    return f"{feed_tag(feed_id)}-{digest}"


def marker_line(marker: str) -> str:
    return f"ref {marker}"


# --- payloads -----------------------------------------------------------------------------


def _local_midnight(day: date, zone_name: str, occ: Occurrence) -> datetime:
    zone = zone_of(occ, zone_name)
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)


def event_times(occ: Occurrence, fallback_zone: str) -> tuple[datetime, datetime]:
    """UTC start and end; all-day talks span their local days, a missing end means one hour."""
    start, end = occ.start, occ.end
    if isinstance(start, datetime):
        start_utc = start.astimezone(UTC)
        end_utc = end.astimezone(UTC) if isinstance(end, datetime) else start_utc
        if end_utc <= start_utc:
            end_utc = start_utc + DEFAULT_LENGTH
        return start_utc, end_utc
    last = end if isinstance(end, date) and not isinstance(end, datetime) else None
    if last is None or last <= start:
        last = start + timedelta(days=1)
    return _local_midnight(start, fallback_zone, occ), _local_midnight(last, fallback_zone, occ)


def build_payload(
    occ: Occurrence,
    *,
    marker: str,
    fallback_zone: str = "UTC",
    escape: Escape = _same,
    escape_plain: Escape = _same,
) -> EventPayload:
    """Name 1-100, description ≤1000 ending with the marker, location 1-100, an end time.

    ``escape`` neutralises feed text for the description (which Discord renders as markdown);
    ``escape_plain`` does the same for the name and place, shown as plain text.
    """
    name = truncate(escape_plain(occ.title), NAME_LIMIT) or "(untitled event)"
    parts: list[str] = []
    speaker = speaker_line(occ)
    if speaker:
        parts.append(f"Speaker: {escape(speaker)}")
    if occ.seminar.series:
        parts.append(f"Series: {escape(occ.seminar.series)}")
    body = occ.seminar.abstract or (occ.description if not occ.seminar.title else "")
    if body:
        parts.append(escape(body))
    if occ.url.startswith(("https://", "http://")):
        parts.append(occ.url)
    tail = marker_line(marker)
    room = DESCRIPTION_LIMIT - len(tail) - 2
    text = truncate("\n\n".join(parts), room)
    description = f"{text}\n\n{tail}" if text else tail
    location = truncate(escape_plain(occ.place), LOCATION_LIMIT) or NO_PLACE
    start, end = event_times(occ, fallback_zone)
    return EventPayload(name, description, start, end, location)


def wanted_events(
    candidates: Iterable[tuple[str, Occurrence]],
    *,
    feed_id: int,
    now: datetime,
    window: timedelta,
    fallback_zone: str = "UTC",
    escape: Escape = _same,
    escape_plain: Escape = _same,
) -> list[Wanted]:
    """Talks starting after now (plus a margin) and inside the window, soonest first.

    ``candidates`` are (announcement id, occurrence) of the feed's live, not cancelled events.
    """
    out: list[Wanted] = []
    seen: set[str] = set()
    for aid, occ in candidates:
        if occ.cancelled or aid in seen:
            continue
        payload = build_payload(
            occ,
            marker=marker_for(feed_id, aid),
            fallback_zone=fallback_zone,
            escape=escape,
            escape_plain=escape_plain,
        )
        if payload.start <= now + START_MARGIN or payload.start > now + window:
            continue
        seen.add(aid)
        out.append(Wanted(aid, payload))
    out.sort(key=lambda w: (w.payload.start, w.announcement_id))
    return out


def differs(payload: EventPayload, remote: RemoteEvent) -> bool:
    return (
        payload.name != remote.name
        or payload.description != remote.description
        or payload.start != remote.start
        or payload.end != remote.end
        or payload.location != remote.location
    )


# --- planning -----------------------------------------------------------------------------


def _find_ours(
    feed_id: int,
    aids: Iterable[str],
    records: Mapping[str, MirrorRecord],
    remote: Sequence[RemoteEvent],
) -> tuple[dict[str, RemoteEvent], list[RemoteEvent]]:
    """This feed's events by announcement id (stored id first, then marker); plus orphans."""
    by_id = {e.event_id: e for e in remote}
    by_marker: dict[str, RemoteEvent] = {}
    tag = feed_tag(feed_id)
    for event in remote:
        if tag in event.description:
            for word in event.description.split():
                if word.startswith(tag + "-"):
                    by_marker.setdefault(word, event)
    ours: dict[str, RemoteEvent] = {}
    for aid in aids:
        record = records.get(aid)
        found = by_id.get(record.event_id) if record is not None else None
        if found is None:
            found = by_marker.get(marker_for(feed_id, aid))
        if found is not None:
            ours[aid] = found
    claimed = {e.event_id for e in ours.values()}
    orphans = [e for e in by_marker.values() if e.event_id not in claimed]
    return ours, list({e.event_id: e for e in orphans}.values())


def plan_mirror(
    *,
    feed_id: int,
    wanted: Sequence[Wanted],
    cancelled: Iterable[str],
    records: Mapping[str, MirrorRecord],
    remote: Sequence[RemoteEvent],
    now: datetime,
    max_active: int = MAX_ACTIVE_EVENTS,
) -> list[MirrorOp]:
    """The requests that make the guild's events match ``wanted`` (soonest first, capped).

    - a wanted talk with an event is edited only when a field differs;
    - a wanted talk without one is created, unless someone removed ours by hand (GONE);
    - a talk the feed cancelled gets its event CANCELED; one that left the window, the feed,
      or the cap is deleted; events that already started are left alone.
    """
    cancelled_ids = set(cancelled)
    wanted_ids = [w.announcement_id for w in wanted]
    ours, orphans = _find_ours(feed_id, [*wanted_ids, *records, *cancelled_ids], records, remote)
    capacity = _capacity(wanted_ids, ours, orphans, remote, now, max_active)
    selected = list(wanted[:capacity])
    ops: list[MirrorOp] = []
    for item in selected:
        op = _op_for_wanted(item, records.get(item.announcement_id), ours.get(item.announcement_id))
        if op is not None:
            ops.append(op)
    selected_ids = {w.announcement_id for w in selected}
    ops.extend(_retirements(ours, orphans, selected_ids, cancelled_ids, now))
    return ops


def _capacity(
    wanted_ids: Sequence[str],
    ours: Mapping[str, RemoteEvent],
    orphans: Sequence[RemoteEvent],
    remote: Sequence[RemoteEvent],
    now: datetime,
    max_active: int,
) -> int:
    """How many wanted talks fit: the cap minus others' open events and ours that started."""
    our_ids = {e.event_id for e in ours.values()} | {e.event_id for e in orphans}
    foreign_open = sum(1 for e in remote if e.open and e.event_id not in our_ids)
    wanted_set = set(wanted_ids)
    started = [
        e
        for aid, e in ours.items()
        if e.open and aid not in wanted_set and e.start <= now + START_MARGIN
    ]
    return max(0, max_active - foreign_open - len(started))


def _op_for_wanted(
    item: Wanted, record: MirrorRecord | None, event: RemoteEvent | None
) -> MirrorOp | None:
    """What a selected talk needs: an edit, a record fix, a create, or nothing."""
    aid = item.announcement_id
    if event is not None and event.status is RemoteStatus.SCHEDULED:
        if differs(item.payload, event):
            return MirrorOp(OpKind.EDIT, aid, event.event_id, item.payload)
        if (
            record is None
            or record.event_id != event.event_id
            or (record.status is not RecordStatus.ACTIVE)
        ):
            return MirrorOp(OpKind.RECORD, aid, event.event_id)
        return None
    if event is not None and event.status is RemoteStatus.ACTIVE:
        return None  # started by hand: not ours to move any more
    if record is not None and record.status is RecordStatus.GONE:
        return None
    if record is not None and record.status is RecordStatus.ACTIVE:
        # Our event vanished or was cancelled by someone else: respect that.
        return MirrorOp(OpKind.RECORD, aid, record.event_id, status=RecordStatus.GONE)
    return MirrorOp(OpKind.CREATE, aid, None, item.payload)


def _retirements(
    ours: Mapping[str, RemoteEvent],
    orphans: Sequence[RemoteEvent],
    selected_ids: set[str],
    cancelled_ids: set[str],
    now: datetime,
) -> list[MirrorOp]:
    """Our events no longer selected, and orphans: cancelled or deleted unless started."""
    ops: list[MirrorOp] = []
    for aid, event in ours.items():
        if aid in selected_ids or not event.open:
            continue
        if event.status is RemoteStatus.ACTIVE or event.start <= now + START_MARGIN:
            continue
        if aid in cancelled_ids:
            ops.append(MirrorOp(OpKind.CANCEL, aid, event.event_id))
        else:
            ops.append(MirrorOp(OpKind.DELETE, aid, event.event_id))
    for event in orphans:
        if event.status is RemoteStatus.SCHEDULED and event.start > now + START_MARGIN:
            ops.append(MirrorOp(OpKind.DELETE, "", event.event_id))
    return ops
