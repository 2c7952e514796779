"""The per-poll announcement budget: one exploding feed cannot flood a channel."""

from __future__ import annotations

from dataclasses import replace

from bot.core.diff.model import EventState, PlannedAction
from bot.core.diff.rules import Builder
from bot.core.models import ActionKind, OccurrenceKey


def enforce_announcement_budget(
    b: Builder, planned: list[PlannedAction]
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
