"""The per-event rules: what one stored event, one parsed occurrence, or a pair of them
becomes (next state and, perhaps, an action).

Absence is not deletion: a vanished event is counted until the absence is confirmed (two
successful polls, 30 minutes apart, by default), and only absences the feed can vouch for
(see :mod:`bot.core.diff.evidence`) count at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.core.diff.model import (
    LIVE_STATES,
    Baseline,
    DiffPolicy,
    EventState,
    PlannedAction,
    StoredEvent,
    announcement_id_for,
    end_of,
    has_ended,
    in_announce_window,
)
from bot.core.fingerprint import fingerprint, same_source, time_moved, visible_changes
from bot.core.models import Action, ActionKind, FieldChange, Occurrence, OccurrenceKey

#: The ``DiffCounts`` field each emitted action kind counts towards.
_COUNTED_AS = {
    ActionKind.ANNOUNCE: "announced",
    ActionKind.UPDATE: "updated",
    ActionKind.RESCHEDULE: "rescheduled",
    ActionKind.CANCEL: "cancelled",
}


class Builder:
    """Accumulates the outcome of one diff: the next events, removals, actions and counts."""

    def __init__(
        self,
        feed: str,
        now: datetime,
        policy: DiffPolicy,
        stored: Sequence[StoredEvent] = (),
    ) -> None:
        self.feed = feed
        self.now = now
        self.policy = policy
        self.events: dict[OccurrenceKey, StoredEvent] = {}
        self.removed: list[OccurrenceKey] = []
        self.planned: list[PlannedAction] = []
        self.counts: Counter[str] = Counter()
        self._stored = stored
        self._taken_ids: set[str] | None = None

    @property
    def taken_ids(self) -> set[str]:
        """Announcement ids in use: every stored event's, and those handed out since.
        Collected on first use: most polls of a large feed meet no new event."""
        if self._taken_ids is None:
            self._taken_ids = {e.announcement_id for e in self._stored}
        return self._taken_ids

    def fresh_announcement_id(self, key: OccurrenceKey) -> str:
        """A new event's id, never one a stored event still holds."""
        base = announcement_id_for(self.feed, key, self.now, self.policy.id_scope)
        taken = self.taken_ids
        candidate = base
        suffix = 1
        while candidate in taken:
            suffix += 1
            candidate = f"{base}-{suffix}"
        taken.add(candidate)
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
        self.counts[_COUNTED_AS[kind]] += 1
        self.keep(updated)
        return updated


# --- an event the feed shows ----------------------------------------------------------------


def seen(old: StoredEvent, occ: Occurrence, now: datetime) -> StoredEvent:
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


def apply_present(
    b: Builder,
    old: StoredEvent,
    occ: Occurrence,
    *,
    previous_key: OccurrenceKey | None = None,
) -> None:
    """Decide for an event that is in the feed (or took over a vanished one's announcement)."""
    event = seen(old, occ, b.now)
    state = _resumed_state(old, occ)
    if state is None:  # reinstated after a posted cancellation
        b.emit(
            event,
            ActionKind.UPDATE,
            previous=old.occurrence,
            changes=visible_changes(old.occurrence, occ)
            or (FieldChange("status", "cancelled", "scheduled"),),
            previous_key=previous_key,
        )
        return
    if state != event.state:
        event = replace(event, state=state)
    if state == EventState.ANNOUNCED:
        _announced_seen(b, old, event, occ, previous_key)
    elif state == EventState.PENDING:
        _pending_seen(b, event, occ)
    elif state == EventState.SILENT:
        b.keep(replace(event, state=EventState.CANCELLED) if occ.cancelled else event)
    else:  # cancelled and still cancelled: remember the latest text, say nothing
        b.keep(event)


def _resumed_state(old: StoredEvent, occ: Occurrence) -> EventState | None:
    """The state the rules start from for a present event; ``None`` for a reinstatement
    that must be posted (the cancellation had been announced)."""
    state = old.state
    if state == EventState.EXPIRED:
        # It came back (e.g. fell off the horizon and returned): resume where it was.
        state = EventState.ANNOUNCED if old.revision > 0 else EventState.PENDING
    if state == EventState.CANCELLED and not occ.cancelled:
        if old.revision > 0:
            return None
        state = EventState.PENDING
    return state


def _announced_seen(
    b: Builder,
    old: StoredEvent,
    event: StoredEvent,
    occ: Occurrence,
    previous_key: OccurrenceKey | None,
) -> None:
    if occ.cancelled:
        b.emit(
            event,
            ActionKind.CANCEL,
            previous=old.occurrence,
            changes=visible_changes(old.occurrence, occ),
            previous_key=previous_key,
            state=EventState.CANCELLED,
        )
    elif event.fingerprint != old.fingerprint and (changes := _news(old.occurrence, occ)):
        kind = ActionKind.RESCHEDULE if time_moved(old.occurrence, occ) else ActionKind.UPDATE
        b.emit(event, kind, previous=old.occurrence, changes=changes, previous_key=previous_key)
    else:
        # Nothing a reader would notice; the announcement id carries over a UID change.
        b.keep(event)


def _pending_seen(b: Builder, event: StoredEvent, occ: Occurrence) -> None:
    if occ.cancelled:
        b.keep(replace(event, state=EventState.CANCELLED))
    elif in_announce_window(occ, b.now, b.policy):
        b.emit(event, ActionKind.ANNOUNCE)
    else:
        b.keep(event)


# --- an event only the feed has ---------------------------------------------------------------


def apply_new(b: Builder, occ: Occurrence, baseline: Baseline | None) -> None:
    now = b.now
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
    elif not in_announce_window(occ, now, b.policy):
        b.counts["new_pending"] += 1
        b.keep(event)
    elif baseline == "silent":
        b.counts["silent"] += 1
        b.keep(replace(event, state=EventState.SILENT))
    else:
        b.emit(event, ActionKind.ANNOUNCE)


# --- an event only the store has --------------------------------------------------------------


def apply_absent(b: Builder, event: StoredEvent, is_candidate: bool) -> None:
    """Decide for a stored event the feed no longer shows (and no reschedule took over)."""
    now, policy = b.now, b.policy
    if event.state not in LIVE_STATES:
        if end_of(event.occurrence) + policy.expired_retention <= now:
            b.removed.append(event.key)
        else:
            b.keep(event)
    elif has_ended(event.occurrence, now):
        b.counts["expired"] += 1
        b.keep(replace(event, state=EventState.EXPIRED, missing_count=0, missing_since=None))
    elif not is_candidate:
        # Outside the parsed window, beyond the feed's horizon, or already under way: no evidence.
        if event.missing_count or event.missing_since is not None:
            event = replace(event, missing_count=0, missing_since=None)
        b.keep(event)
    else:
        _count_missing(b, event)


def _count_missing(b: Builder, event: StoredEvent) -> None:
    """One more poll without ``event``; cancel it once the absence is confirmed."""
    now, policy = b.now, b.policy
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
