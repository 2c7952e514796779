"""What the diff reads and writes: the policy, the stored state of an event, the result.

Also the few time facts every part of the diff asks about an occurrence (its sort start, its
end, whether it is inside the announce window).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from bot.core.models import Action, Occurrence, OccurrenceKey, sort_key

if TYPE_CHECKING:
    from bot.core.diff.stored_index import StoredIndex

Baseline = Literal["announce", "silent"]


@dataclass(frozen=True, slots=True)
class DiffPolicy:
    """Knobs of the change policy; the defaults are docs/reliability.md's rule 2."""

    #: Announce an event once it starts within this horizon.
    announce_window: timedelta = timedelta(days=7)
    #: A vanished event is cancelled only after this many successful polls without it ...
    cancel_after_polls: int = 2
    #: ... spread over at least this long.
    cancel_after: timedelta = timedelta(minutes=30)
    #: More than this share of upcoming events vanishing at once is a feed fault, not news.
    mass_drop_fraction: float = 0.5
    #: Fewer vanished events than this are never a "mass" drop (a feed with 1 event may lose it).
    mass_drop_min_count: int = 3
    #: At most this many announcements per poll; the rest stay pending for later polls
    #: (listed in ``DiffResult.over_cap``), so one exploding event cannot flood a channel.
    max_announcements_per_poll: int = 10
    #: Rows of events that ended this long ago and left the feed are deleted.
    expired_retention: timedelta = timedelta(days=30)
    #: Mixed into new announcement ids (the poller gives the feed's id): feeds of different
    #: servers may share a name and a calendar and see a talk at the same instant, and their
    #: announcements must still be told apart wherever only the id is known (button presses).
    id_scope: str = ""


class EventState(enum.StrEnum):
    #: Stored, not announced yet (outside the announce window); announced when it enters.
    PENDING = "pending"
    ANNOUNCED = "announced"
    #: Already inside the window at a silent baseline: never announced.
    SILENT = "silent"
    CANCELLED = "cancelled"
    #: Ended and gone from the feed; kept for a while, then removed.
    EXPIRED = "expired"


#: States whose event may still need a decision when it vanishes or changes.
LIVE_STATES = frozenset({EventState.PENDING, EventState.ANNOUNCED, EventState.SILENT})


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One occurrence as the store remembers it between polls."""

    occurrence: Occurrence
    fingerprint: str
    state: EventState
    first_seen: datetime
    #: When the feed last showed this event with a change (an unchanged sighting leaves it, so
    #: an unchanged event costs the store no write; the feed's ``last_ok_at`` says the rest).
    last_seen: datetime
    missing_count: int = 0
    missing_since: datetime | None = None
    #: Stable id of the Discord announcement; survives reschedules that change the UID.
    announcement_id: str = ""
    #: How many actions were emitted for this announcement (0 = nothing posted yet). Versions
    #: the outbox idempotency key so a re-run of the same diff never queues twice.
    revision: int = 0

    @property
    def key(self) -> OccurrenceKey:
        return self.occurrence.key


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """An action plus what the outbox needs to make it idempotent."""

    action: Action
    announcement_id: str
    revision: int
    fingerprint: str

    @property
    def idem_suffix(self) -> str:
        return f"{self.announcement_id}:{self.action.kind.value}:{self.revision}"


@dataclass(frozen=True, slots=True)
class DiffCounts:
    announced: int = 0
    updated: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    new_pending: int = 0
    silent: int = 0
    #: Announcements due but held back by the per-poll budget (still pending).
    deferred: int = 0
    missing: int = 0
    expired: int = 0
    removed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


#: The names a ``DiffCounts`` accepts (the builder also counts things it does not report).
COUNT_FIELDS = frozenset(DiffCounts.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class DiffResult:
    planned: tuple[PlannedAction, ...]
    #: The complete next state of the feed (untouched events included), sorted by start.
    events: tuple[StoredEvent, ...]
    #: Keys whose rows must be deleted.
    removed: tuple[OccurrenceKey, ...] = ()
    suspect: bool = False
    suspect_reason: str = ""
    counts: DiffCounts = field(default_factory=DiffCounts)
    #: Announcements due but beyond ``max_announcements_per_poll`` (the latest-starting ones):
    #: not planned, their events stay pending, and a later poll announces them.
    over_cap: tuple[OccurrenceKey, ...] = ()
    parsed_count: int = 0
    skipped_count: int = 0
    #: With events set aside: the events the diff visited (sorted like ``events``). Every
    #: other event of ``events`` is the very object it was given, so the store need not
    #: look at them. Bookkeeping only: not part of the answer, not compared.
    visited: tuple[StoredEvent, ...] | None = field(default=None, compare=False, repr=False)
    #: The index ``stored`` came with when ``visited`` was found through it.
    basis: StoredIndex | None = field(default=None, compare=False, repr=False)

    @property
    def actions(self) -> tuple[Action, ...]:
        """Oldest start first."""
        return tuple(p.action for p in self.planned)


def announcement_id_for(
    feed: str, key: OccurrenceKey, first_seen: datetime, scope: str = ""
) -> str:
    """Deterministic for one diff (a re-run after a crash queues the same outbox keys), but
    salted with the moment the event was first seen: a key that comes back after its old
    announcement was handed to another key (UID-changing reschedules) or forgotten must not
    reuse an id whose outbox rows already exist, or its announcement would be dropped."""
    seed = f"{feed}\n{key.to_string()}\n{first_seen.isoformat()}"
    if scope:
        seed += f"\n{scope}"
    return "a" + hashlib.sha256(seed.encode()).hexdigest()[:23]


def start_of(occ: Occurrence) -> datetime:
    return sort_key(occ.start)


def end_of(occ: Occurrence) -> datetime:
    if occ.end is not None:
        return sort_key(occ.end)
    if occ.all_day:
        return sort_key(occ.start) + timedelta(days=1)
    return sort_key(occ.start)


def in_announce_window(occ: Occurrence, now: datetime, policy: DiffPolicy) -> bool:
    return start_of(occ) <= now + policy.announce_window and end_of(occ) > now


def has_ended(occ: Occurrence, now: datetime) -> bool:
    return end_of(occ) <= now


def event_sort(event: StoredEvent) -> tuple[datetime, OccurrenceKey]:
    """The order of :attr:`DiffResult.events`: by start, then key."""
    return (start_of(event.occurrence), event.key)
