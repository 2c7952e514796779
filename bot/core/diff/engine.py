"""The top-level diff: match keys, pair reschedules, check the feed as a whole, apply the
per-event rules, assemble the result; with the set-aside fast path in front."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.core.diff.budget import enforce_announcement_budget
from bot.core.diff.evidence import mass_drop_reason, missing_candidates
from bot.core.diff.fast_path import (
    Aside,
    merge_untouched,
    set_aside_indexed,
    set_aside_untouched,
)
from bot.core.diff.identity import KeyMatch, match_keys, reschedule_pairs
from bot.core.diff.model import (
    COUNT_FIELDS,
    Baseline,
    DiffCounts,
    DiffPolicy,
    DiffResult,
    StoredEvent,
    event_sort,
    start_of,
)
from bot.core.diff.rules import Builder, apply_absent, apply_new, apply_present
from bot.core.diff.stored_index import StoredIndex
from bot.core.models import OccurrenceKey, ParsedFeed

#: Frozen, so one instance serves as every call's default.
_DEFAULT_POLICY = DiffPolicy()


def diff_feed(
    feed: str,
    stored: Sequence[StoredEvent],
    parsed: ParsedFeed,
    *,
    now: datetime,
    policy: DiffPolicy = _DEFAULT_POLICY,
    baseline: Baseline | None = None,
    stored_sorted: bool = False,
    index: StoredIndex | None = None,
) -> DiffResult:
    """Compare one successful parse with the stored state of ``feed``.

    ``baseline`` is given only on a feed's first successful poll: "silent" stores what is already
    inside the announce window without announcing it, "announce" announces it.
    ``stored_sorted`` promises ``stored`` is in :attr:`DiffResult.events` order (as
    ``load_events`` returns it), which spares re-sorting the events nothing happened to.
    ``index``: the store's index of ``stored`` (used only when ``stored`` is its very list),
    which finds the events to visit without walking them all; the answer is the same.
    """
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    indexed = index is not None and index.usable and index.events is stored
    if indexed:
        assert index is not None
        aside = set_aside_indexed(index, parsed, now, policy)
    else:
        aside = set_aside_untouched(stored, parsed, now, policy)
    if aside is None:
        return _whole(feed, stored, parsed, now, policy, baseline)
    result = _diff(feed, stored, parsed, now=now, policy=policy, baseline=baseline, rest=aside)
    if result is None:  # something vanished while something appeared: pair on the whole feed
        return _whole(feed, stored, parsed, now, policy, baseline)
    if indexed and aside.spans is not None:
        assert index is not None
        events = index.merge(aside.spans, result.events)
    else:
        events = merge_untouched(aside.untouched, result.events, stored_sorted)
    return replace(result, events=events, visited=result.events, basis=index if indexed else None)


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


def _diff(
    feed: str,
    stored: Sequence[StoredEvent],
    parsed: ParsedFeed,
    *,
    now: datetime,
    policy: DiffPolicy,
    baseline: Baseline | None,
    rest: Aside | None = None,
) -> DiffResult | None:
    """The diff proper. With ``rest``, only the events not set aside are visited (``None``
    when that cannot be decided without the whole feed); the feed-wide checks still see all."""
    if rest is None:
        match = match_keys(stored, parsed.occurrences, now)
    else:
        match = match_keys(rest.stored, rest.parsed, now)
        if _needs_whole_feed(match, rest):
            return None
    parsed_count = len(match.occurrences) + (len(rest.untouched) if rest else 0)
    pairs = reschedule_pairs(match, stored)
    replaced = set(pairs.values())
    candidates = [e for e in missing_candidates(match.absent, parsed, now) if e.key not in replaced]
    reason = mass_drop_reason(stored, parsed, candidates, now, policy)
    if reason:
        # Hold every change; with events set aside, the caller merges them back in.
        return DiffResult(
            planned=(),
            events=tuple(sorted(stored if rest is None else rest.stored, key=event_sort)),
            suspect=True,
            suspect_reason=reason,
            parsed_count=parsed_count,
            skipped_count=parsed.skipped_total,
        )
    b = Builder(feed, now, policy, stored)
    _visit_parsed(b, match, pairs, baseline)
    candidate_keys = {e.key for e in candidates}
    for event in match.absent:  # order is irrelevant: everything emitted is sorted below
        if event.key not in replaced:
            apply_absent(b, event, event.key in candidate_keys)
    return _result(b, parsed, parsed_count)


def _needs_whole_feed(match: KeyMatch, rest: Aside) -> bool:
    """Whether the events left to visit cannot be decided alone: reschedule pairing needs
    every stored and parsed event, and a key both set aside and seen again (duplicates)."""
    if not match.new_keys:
        return False
    if match.vanished_live:
        return True
    if rest.stored_keys is not None:  # keys are unique: set aside = stored but not visited
        stored_keys, visited = rest.stored_keys, match.by_key
        return any(k in stored_keys and k not in visited for k in match.new_keys)
    aside = {e.key for e in rest.untouched}
    return not aside.isdisjoint(match.new_keys) or not aside.isdisjoint(match.by_key)


def _visit_parsed(
    b: Builder,
    match: KeyMatch,
    pairs: dict[OccurrenceKey, OccurrenceKey],
    baseline: Baseline | None,
) -> None:
    """Apply the rules to every parsed occurrence: seen again, a reschedule, or new."""
    by_key = match.by_key
    for key, occ in match.occurrences.items():
        stored_event = by_key.get(key)
        if stored_event is not None:
            apply_present(b, stored_event, occ)
        elif key in pairs:
            old = by_key[pairs[key]]
            apply_present(b, old, occ, previous_key=old.key if old.revision > 0 else None)
            b.removed.append(old.key)
        else:
            apply_new(b, occ, baseline)


def _result(b: Builder, parsed: ParsedFeed, parsed_count: int) -> DiffResult:
    planned = sorted(b.planned, key=lambda p: (start_of(p.action.occurrence), p.action.key))
    planned, over_budget = enforce_announcement_budget(b, planned)
    b.counts["removed"] = len(b.removed)
    return DiffResult(
        planned=tuple(planned),
        events=tuple(sorted(b.events.values(), key=event_sort)),
        removed=tuple(sorted(b.removed)),
        counts=DiffCounts(**{k: v for k, v in b.counts.items() if k in COUNT_FIELDS}),
        over_cap=over_budget,
        parsed_count=parsed_count,
        skipped_count=parsed.skipped_total,
    )
