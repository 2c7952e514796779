"""Turn a successful parse plus the stored state into Discord actions and the next state.

Pure: no I/O, time comes in as ``now``. The rules (docs/reliability.md, rules 2 and 11): absence
is not deletion, deletions need confirmation, a mass drop is a feed fault, and The Events
Calendar changes an event's UID when it is rescheduled (its URL stays, so the move is paired).
"""

from __future__ import annotations

import bisect
import enum
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.core.fingerprint import fingerprint, same_source, time_moved, visible_changes
from bot.core.models import (
    Action,
    ActionKind,
    FieldChange,
    Occurrence,
    OccurrenceKey,
    ParsedFeed,
    sort_key,
)

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

    @property
    def actions(self) -> tuple[Action, ...]:
        """Oldest start first."""
        return tuple(p.action for p in self.planned)


# --- helpers ------------------------------------------------------------------------------


def announcement_id_for(feed: str, key: OccurrenceKey, first_seen: datetime) -> str:
    """Deterministic for one diff (a re-run after a crash queues the same outbox keys), but
    salted with the moment the event was first seen: a key that comes back after its old
    announcement was handed to another key (UID-changing reschedules) or forgotten must not
    reuse an id whose outbox rows already exist, or its announcement would be dropped."""
    seed = f"{feed}\n{key.to_string()}\n{first_seen.isoformat()}"
    return "a" + hashlib.sha256(seed.encode()).hexdigest()[:23]


def _start(occ: Occurrence) -> datetime:
    return sort_key(occ.start)


def _end(occ: Occurrence) -> datetime:
    if occ.end is not None:
        return sort_key(occ.end)
    if occ.all_day:
        return sort_key(occ.start) + timedelta(days=1)
    return sort_key(occ.start)


def in_announce_window(occ: Occurrence, now: datetime, policy: DiffPolicy) -> bool:
    return _start(occ) <= now + policy.announce_window and _end(occ) > now


def has_ended(occ: Occurrence, now: datetime) -> bool:
    return _end(occ) <= now


_TEC_UID = re.compile(r"^(\d+)-\d{6,12}-\d{6,12}@(.+)$")
_LIVEWHALE_UID = re.compile(r"^(?:\d{8}T\d{4,6}Z?|\d{9,12})-(\d+)@(.+)$")


def stable_stem(key: OccurrenceKey) -> str:
    """The part of a UID that survives a reschedule (post id + host), or "" when unknown."""
    if key.recurrence_id:
        return ""
    for kind, pattern in (("tec", _TEC_UID), ("lw", _LIVEWHALE_UID)):
        match = pattern.match(key.uid)
        if match:
            return f"{kind}:{match.group(1)}@{match.group(2).lower()}"
    return ""


def _url_identity(occ: Occurrence) -> str:
    return occ.url.strip() if not occ.key.recurrence_id else ""


def _stem_identity(occ: Occurrence) -> str:
    return stable_stem(occ.key)


def _unique_index(items: Iterable[tuple[str, OccurrenceKey]]) -> dict[str, OccurrenceKey]:
    """Map a secondary key to the one occurrence holding it; ambiguous keys are dropped."""
    pairs = [(k, v) for k, v in items if k]
    counts = Counter(k for k, _ in pairs)
    return {k: v for k, v in pairs if counts[k] == 1}


def _pair_reschedules(
    stored_live: Sequence[StoredEvent],
    parsed: Sequence[Occurrence],
    vanished: set[OccurrenceKey],
    new: set[OccurrenceKey],
) -> dict[OccurrenceKey, OccurrenceKey]:
    """new key → vanished key, only where URL or UID stem identifies one event on both sides."""
    pairs: dict[OccurrenceKey, OccurrenceKey] = {}
    taken: set[OccurrenceKey] = set()
    for secondary in (_url_identity, _stem_identity):
        old_index = _unique_index((secondary(e.occurrence), e.key) for e in stored_live)
        new_index = _unique_index((secondary(o), o.key) for o in parsed)
        for value, new_key in new_index.items():
            old_key = old_index.get(value)
            if (
                old_key is not None
                and new_key in new
                and old_key in vanished
                and new_key not in pairs
                and old_key not in taken
            ):
                pairs[new_key] = old_key
                taken.add(old_key)
    return pairs


def _event_sort(event: StoredEvent) -> tuple[datetime, OccurrenceKey]:
    return (_start(event.occurrence), event.key)


# --- the diff -----------------------------------------------------------------------------


class _Builder:
    """Accumulates the outcome of one diff; keeps ``diff_feed`` readable."""

    def __init__(self, feed: str, now: datetime, policy: DiffPolicy) -> None:
        self.feed = feed
        self.now = now
        self.policy = policy
        self.events: dict[OccurrenceKey, StoredEvent] = {}
        self.removed: list[OccurrenceKey] = []
        self.planned: list[PlannedAction] = []
        self.counts: Counter[str] = Counter()
        self.taken_ids: set[str] = set()

    def fresh_announcement_id(self, key: OccurrenceKey) -> str:
        """A new event's id, never one a stored event still holds."""
        candidate = announcement_id_for(self.feed, key, self.now)
        suffix = 1
        while candidate in self.taken_ids:
            suffix += 1
            candidate = announcement_id_for(self.feed, key, self.now) + f"-{suffix}"
        self.taken_ids.add(candidate)
        return candidate

    def keep(self, event: StoredEvent) -> None:
        self.events[event.key] = event

    def emit(
        self,
        event: StoredEvent,
        kind: ActionKind,
        *,
        previous: Occurrence | None = None,
        changes: tuple[FieldChange, ...] = (),
        previous_key: OccurrenceKey | None = None,
        state: EventState = EventState.ANNOUNCED,
    ) -> StoredEvent:
        revision = event.revision + 1
        updated = replace(event, state=state, revision=revision)
        action = Action(
            kind=kind,
            feed=self.feed,
            occurrence=event.occurrence,
            previous=previous,
            changes=changes,
            previous_key=previous_key,
        )
        self.planned.append(
            PlannedAction(action, event.announcement_id, revision, event.fingerprint)
        )
        self.counts[
            {
                ActionKind.ANNOUNCE: "announced",
                ActionKind.UPDATE: "updated",
                ActionKind.RESCHEDULE: "rescheduled",
                ActionKind.CANCEL: "cancelled",
            }[kind]
        ] += 1
        self.keep(updated)
        return updated


def _seen(old: StoredEvent, occ: Occurrence, now: datetime) -> StoredEvent:
    """The stored event refreshed with the latest content; absence counters reset.

    An occurrence equal to the stored one returns the stored event itself: no fingerprint to
    recompute and nothing for the store to write (``last_seen`` moves only with a change), which
    is what keeps a poll of a large, mostly unchanged feed cheap.
    """
    if occ is old.occurrence or occ == old.occurrence:
        if old.missing_count == 0 and old.missing_since is None:
            if occ is old.occurrence:
                return old
            # Equal but a different object (after a restart, the store and the parse cache
            # load their own copies): adopt the parsed one, so the next poll can set this
            # event aside by identity. The value is unchanged; the store skips such rows.
            return replace(old, occurrence=occ)
        return replace(old, missing_count=0, missing_since=None, last_seen=now)
    return replace(
        old,
        occurrence=occ,
        fingerprint=fingerprint(occ),
        missing_count=0,
        missing_since=None,
        last_seen=now,
    )


#: Changes that attendees are told about in a follow-up line (or a DM); never for a re-reading.
_ATTENDEE_FIELDS = frozenset({"time", "place", "status"})


def _news(old: Occurrence, new: Occurrence) -> tuple[FieldChange, ...]:
    """The visible changes; when only our reading of the same text changed (a parser upgrade),
    the card may be edited quietly but nothing attendees act on (place, time) is announced."""
    changes = visible_changes(old, new)
    if changes and same_source(old, new):
        changes = tuple(c for c in changes if c.field not in _ATTENDEE_FIELDS)
    return changes


def _apply_present(
    b: _Builder,
    old: StoredEvent,
    occ: Occurrence,
    *,
    previous_key: OccurrenceKey | None = None,
) -> None:
    """Decide for an event that is in the feed (or took over a vanished one's announcement)."""
    now, policy = b.now, b.policy
    event = _seen(old, occ, now)
    state = old.state
    if state == EventState.EXPIRED:
        # It came back (e.g. fell off the horizon and returned): resume where it was.
        state = EventState.ANNOUNCED if old.revision > 0 else EventState.PENDING
    if state == EventState.CANCELLED and not occ.cancelled:
        if old.revision > 0:  # reinstated after a posted cancellation
            b.emit(
                event,
                ActionKind.UPDATE,
                previous=old.occurrence,
                changes=visible_changes(old.occurrence, occ)
                or (FieldChange("status", "cancelled", "scheduled"),),
                previous_key=previous_key,
            )
            return
        state = EventState.PENDING
    if state != event.state:
        event = replace(event, state=state)

    if state == EventState.ANNOUNCED:
        if occ.cancelled:
            b.emit(
                event,
                ActionKind.CANCEL,
                previous=old.occurrence,
                changes=visible_changes(old.occurrence, occ),
                previous_key=previous_key,
                state=EventState.CANCELLED,
            )
        elif event.fingerprint != old.fingerprint and (
            changes := _news(old.occurrence, occ)
        ):
            kind = ActionKind.RESCHEDULE if time_moved(old.occurrence, occ) else ActionKind.UPDATE
            b.emit(event, kind, previous=old.occurrence, changes=changes, previous_key=previous_key)
        else:
            # Nothing a reader would notice; the announcement id carries over a UID change.
            b.keep(event)
    elif state == EventState.PENDING:
        if occ.cancelled:
            b.keep(replace(event, state=EventState.CANCELLED))
        elif in_announce_window(occ, now, policy):
            b.emit(event, ActionKind.ANNOUNCE)
        else:
            b.keep(event)
    elif state == EventState.SILENT:
        b.keep(replace(event, state=EventState.CANCELLED) if occ.cancelled else event)
    else:  # cancelled and still cancelled: remember the latest text, say nothing
        b.keep(event)


def _apply_new(b: _Builder, occ: Occurrence, baseline: Baseline | None) -> None:
    now, policy = b.now, b.policy
    event = StoredEvent(
        occurrence=occ,
        fingerprint=fingerprint(occ),
        state=EventState.PENDING,
        first_seen=now,
        last_seen=now,
        announcement_id=b.fresh_announcement_id(occ.key),
    )
    if occ.cancelled:
        b.keep(replace(event, state=EventState.CANCELLED))
    elif has_ended(occ, now):
        b.keep(replace(event, state=EventState.EXPIRED))
    elif not in_announce_window(occ, now, policy):
        b.counts["new_pending"] += 1
        b.keep(event)
    elif baseline == "silent":
        b.counts["silent"] += 1
        b.keep(replace(event, state=EventState.SILENT))
    else:
        b.emit(event, ActionKind.ANNOUNCE)


def _missing_candidates(
    absent: Iterable[StoredEvent], parsed: ParsedFeed, now: datetime
) -> list[StoredEvent]:
    """Vanished events whose absence is evidence: future, inside the window, before the horizon.

    The Events Calendar exports only the next ~30 events, so an event starting after the latest
    start still in the feed fell off the horizon; that says nothing about a cancellation.
    """
    upcoming = [e for e in absent if e.state in LIVE_STATES and now < _start(e.occurrence)]
    if not upcoming:
        return []  # the usual poll: no need to find the feed's horizon
    if not parsed.occurrences:
        horizon = parsed.window_end
    else:
        horizon = min(parsed.window_end, max(_start(o) for o in parsed.occurrences))
    return [
        e
        for e in upcoming
        if _start(e.occurrence) <= horizon and _start(e.occurrence) >= parsed.window_start
    ]


def _mass_drop_reason(
    stored: Sequence[StoredEvent],
    parsed: ParsedFeed,
    candidates: Sequence[StoredEvent],
    now: datetime,
    policy: DiffPolicy,
) -> str:
    if len(candidates) < policy.mass_drop_min_count:
        return ""
    upcoming = [
        e
        for e in stored
        if e.state in LIVE_STATES and now < _start(e.occurrence) <= parsed.window_end
    ]
    if not upcoming:
        return ""
    if not parsed.occurrences:
        return f"the feed has no events where it had {len(upcoming)} upcoming"
    if len(candidates) > policy.mass_drop_fraction * len(upcoming):
        return f"{len(candidates)} of {len(upcoming)} upcoming events vanished at once"
    return ""


def diff_feed(
    feed: str,
    stored: Sequence[StoredEvent],
    parsed: ParsedFeed,
    *,
    now: datetime,
    policy: DiffPolicy = DiffPolicy(),
    baseline: Baseline | None = None,
    stored_sorted: bool = False,
) -> DiffResult:
    """Compare one successful parse with the stored state of ``feed``.

    ``baseline`` is given only on a feed's first successful poll: "silent" stores what is already
    inside the announce window without announcing it, "announce" announces it.
    ``stored_sorted`` promises ``stored`` is in :attr:`DiffResult.events` order (as
    ``load_events`` returns it), which spares re-sorting the events nothing happened to.
    """
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    untouched, rest_stored, rest_parsed = _set_aside_untouched(stored, parsed, now, policy)
    if not untouched:
        return _whole(feed, stored, parsed, now, policy, baseline)
    result = _diff(
        feed,
        stored,
        parsed,
        now=now,
        policy=policy,
        baseline=baseline,
        rest=(untouched, rest_stored, rest_parsed),
    )
    if result is None:  # something vanished while something appeared: pair on the whole feed
        return _whole(feed, stored, parsed, now, policy, baseline)
    return replace(result, events=_merge_untouched(untouched, result.events, stored_sorted))


def _whole(
    feed: str,
    stored: Sequence[StoredEvent],
    parsed: ParsedFeed,
    now: datetime,
    policy: DiffPolicy,
    baseline: Baseline | None,
) -> DiffResult:
    """The diff visiting every event: the reference the set-aside path must agree with."""
    result = _diff(feed, stored, parsed, now=now, policy=policy, baseline=baseline)
    assert result is not None  # only a diff with events set aside gives up
    return result


def _quiet(event: StoredEvent, now: datetime, horizon: datetime) -> bool:
    """True when the diff would hand ``event`` back as is, were its occurrence seen unchanged.

    Mirrors :func:`_apply_present` for an identical occurrence: no state change, no action,
    no absence counter to reset. ``horizon`` is ``now`` plus the announce window.
    """
    if event.missing_count or event.missing_since is not None:
        return False
    state = event.state
    occ = event.occurrence
    if state is EventState.ANNOUNCED or state is EventState.SILENT:
        return not occ.cancelled
    if state is EventState.CANCELLED:
        return occ.cancelled
    if state is EventState.PENDING and not occ.cancelled:
        start = occ.start
        if type(start) is datetime and start.tzinfo is UTC and start > horizon:
            return True  # the usual pending event: far beyond the announce window
        return _start(occ) > horizon or _end(occ) <= now  # not in the announce window
    return False


def _set_aside_untouched(
    stored: Sequence[StoredEvent], parsed: ParsedFeed, now: datetime, policy: DiffPolicy
) -> tuple[list[StoredEvent], list[StoredEvent], list[Occurrence]]:
    """Stored events the feed shows as the very same occurrence object and that nothing
    happens to, in ``stored`` order; the rest of ``stored`` and of the parse go to the diff.

    Identity (not equality) is the test, so no key is hashed: the incremental parse hands back
    the objects the last poll stored. Two live objects share an ``id`` only if they are one.
    """
    present = {id(o) for o in parsed.occurrences}
    horizon = now + policy.announce_window
    untouched: list[StoredEvent] = []
    rest_stored: list[StoredEvent] = []
    pending = EventState.PENDING
    for event in stored:
        occ = event.occurrence
        occ_id = id(occ)
        if occ_id in present:
            start = occ.start
            # Inline for the usual pending event far beyond the announce window.
            if (
                event.state is pending
                and type(start) is datetime
                and start.tzinfo is UTC
                and start > horizon
                and not event.missing_count
                and event.missing_since is None
                and not occ.cancelled
            ) or _quiet(event, now, horizon):
                untouched.append(event)
                present.discard(occ_id)  # a second stored event with it is not untouched
                continue
        rest_stored.append(event)
    if not untouched:
        return [], [], []
    # ``present`` now holds the parsed objects no untouched event took.
    rest_parsed = [o for o in parsed.occurrences if id(o) in present]
    return untouched, rest_stored, rest_parsed


def _merge_untouched(
    untouched: list[StoredEvent], others: Sequence[StoredEvent], stored_sorted: bool
) -> tuple[StoredEvent, ...]:
    if not stored_sorted:
        return tuple(sorted([*untouched, *others], key=_event_sort))
    # ``untouched`` keeps the order of ``stored``; ``others`` is sorted: merge by bisection.
    out: list[StoredEvent] = []
    cursor = 0
    for event in others:
        position = bisect.bisect_left(untouched, _event_sort(event), lo=cursor, key=_event_sort)
        out.extend(untouched[cursor:position])
        out.append(event)
        cursor = position
    out.extend(untouched[cursor:])
    return tuple(out)


def _diff(
    feed: str,
    stored: Sequence[StoredEvent],
    parsed: ParsedFeed,
    *,
    now: datetime,
    policy: DiffPolicy,
    baseline: Baseline | None,
    rest: tuple[list[StoredEvent], list[StoredEvent], list[Occurrence]] | None = None,
) -> DiffResult | None:
    """The diff proper. With ``rest``, only the events not set aside are visited (``None``
    when that cannot be decided without the whole feed); the feed-wide checks still see all."""
    occurrences: dict[OccurrenceKey, Occurrence] = {}
    for occ in parsed.occurrences if rest is None else rest[2]:  # duplicates: the last one wins
        occurrences[occ.key] = occ
    by_key = {e.key: e for e in (stored if rest is None else rest[1])}
    # Set algebra on dict views reuses the stored hashes: no per-event key hashing.
    new_keys = occurrences.keys() - by_key.keys()
    absent_keys = by_key.keys() - occurrences.keys()
    absent = [by_key[k] for k in absent_keys]
    vanished_live = {
        e.key for e in absent if e.state in LIVE_STATES and not has_ended(e.occurrence, now)
    }
    if rest is not None and new_keys:
        aside = {e.key for e in rest[0]}
        if not aside.isdisjoint(new_keys) or not aside.isdisjoint(by_key):
            return None  # a key both set aside and seen again: duplicates decide
    if vanished_live and new_keys:
        if rest is not None:
            return None  # reschedule pairing needs every stored and parsed event
        live = [e for e in stored if e.state in LIVE_STATES]
        pairs = _pair_reschedules(live, list(occurrences.values()), vanished_live, new_keys)
    else:
        pairs = {}
    replaced = set(pairs.values())
    candidates = [e for e in _missing_candidates(absent, parsed, now) if e.key not in replaced]

    reason = _mass_drop_reason(stored, parsed, candidates, now, policy)
    if reason:
        # With events set aside, the caller merges them back in.
        held = tuple(sorted(stored if rest is None else rest[1], key=_event_sort))
        return DiffResult(
            planned=(),
            events=held,
            suspect=True,
            suspect_reason=reason,
            parsed_count=len(occurrences) + (len(rest[0]) if rest else 0),
            skipped_count=parsed.skipped_total,
        )

    b = _Builder(feed, now, policy)
    b.taken_ids = {e.announcement_id for e in stored}
    candidate_keys = {e.key for e in candidates}

    for key, occ in occurrences.items():
        stored_event = by_key.get(key)
        if stored_event is not None:
            _apply_present(b, stored_event, occ)
        elif key in pairs:
            old = by_key[pairs[key]]
            _apply_present(b, old, occ, previous_key=old.key if old.revision > 0 else None)
            b.removed.append(old.key)
        else:
            _apply_new(b, occ, baseline)

    for event in absent:  # order is irrelevant: everything emitted is sorted below
        if event.key in replaced:
            continue
        _apply_absent(b, event, event.key in candidate_keys)

    planned = sorted(b.planned, key=lambda p: (_start(p.action.occurrence), p.action.key))
    planned, over_budget = _enforce_announcement_budget(b, planned)
    b.counts["removed"] = len(b.removed)
    return DiffResult(
        planned=tuple(planned),
        events=tuple(sorted(b.events.values(), key=_event_sort)),
        removed=tuple(sorted(b.removed)),
        counts=DiffCounts(**{k: v for k, v in b.counts.items() if k in _COUNT_FIELDS}),
        over_cap=over_budget,
        parsed_count=len(occurrences) + (len(rest[0]) if rest else 0),
        skipped_count=parsed.skipped_total,
    )


_COUNT_FIELDS = frozenset(DiffCounts.__dataclass_fields__)


def _enforce_announcement_budget(
    b: _Builder, planned: list[PlannedAction]
) -> tuple[list[PlannedAction], tuple[OccurrenceKey, ...]]:
    """Keep the soonest ``max_announcements_per_poll`` announcements; hold back the rest.

    A held-back event goes back to exactly what it was before ``emit`` (pending, the revision
    not spent), so nothing is lost: it is still due on the next poll and announced then, soonest
    first. Updates and cancellations of posted announcements are never held back.
    """
    budget = max(b.policy.max_announcements_per_poll, 0)
    announces = [p for p in planned if p.action.kind == ActionKind.ANNOUNCE]
    if len(announces) <= budget:
        return planned, ()
    over = announces[budget:]
    for plan in over:
        key = plan.action.key
        b.events[key] = replace(b.events[key], state=EventState.PENDING, revision=plan.revision - 1)
    b.counts["announced"] -= len(over)
    b.counts["deferred"] += len(over)
    held = {id(p) for p in over}
    return [p for p in planned if id(p) not in held], tuple(p.action.key for p in over)


def _apply_absent(b: _Builder, event: StoredEvent, is_candidate: bool) -> None:
    now, policy = b.now, b.policy
    if event.state not in LIVE_STATES:
        if _end(event.occurrence) + policy.expired_retention <= now:
            b.removed.append(event.key)
        else:
            b.keep(event)
        return
    if has_ended(event.occurrence, now):
        b.counts["expired"] += 1
        b.keep(replace(event, state=EventState.EXPIRED, missing_count=0, missing_since=None))
        return
    if not is_candidate:
        # Outside the parsed window, beyond the feed's horizon, or already under way: no evidence.
        if event.missing_count or event.missing_since is not None:
            event = replace(event, missing_count=0, missing_since=None)
        b.keep(event)
        return
    missing = replace(
        event,
        missing_count=event.missing_count + 1,
        missing_since=event.missing_since or now,
    )
    confirmed = (
        missing.missing_count >= policy.cancel_after_polls
        and missing.missing_since is not None
        and now - missing.missing_since >= policy.cancel_after
    )
    if not confirmed:
        b.counts["missing"] += 1
        b.keep(missing)
    elif event.state == EventState.ANNOUNCED:
        b.emit(
            missing,
            ActionKind.CANCEL,
            previous=event.occurrence,
            changes=(FieldChange("status", _status_text(event.occurrence), "removed"),),
            state=EventState.CANCELLED,
        )
    else:
        b.keep(replace(missing, state=EventState.CANCELLED))


def _status_text(occ: Occurrence) -> str:
    return occ.status.strip().lower() or "scheduled"
