"""The remembered groups of one feed between polls, and how a poll's outcome updates them."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress, count
from operator import ne

from bot.core.incremental.assemble import assemble, in_window
from bot.core.incremental.flat import Flat, flatten
from bot.core.incremental.results import CacheView, GroupResult, Meta, Outcome
from bot.core.models import ParsedFeed
from bot.core.parse import ParseLimits

#: Versions of feed states (see :attr:`FeedState.version`).
_VERSIONS = itertools.count()


@dataclass(slots=True)
class FeedState:
    """The remembered groups of one feed (mutable; owned by one thread at a time)."""

    context: bytes
    horizon_start: datetime
    horizon_end: datetime
    meta: Meta
    order: tuple[bytes, ...] = ()
    event_count: int = 0
    groups: dict[bytes, GroupResult] = field(default_factory=dict)
    #: ``"c:"`` + :func:`~bot.core.incremental.blocks.content_digest` hex of the last body
    #: absorbed, for the unchanged-but-for-stamps short cut.
    body_hash: str = ""
    settings: bytes = b""
    #: Not persisted; rebuilt whenever ``order`` is replaced.
    flat: Flat | None = field(default=None, compare=False, repr=False)
    #: Names the digests of ``groups`` for the parser child that predicted them (see
    #: :mod:`~bot.core.incremental.views`); b"" when none does. Only :func:`absorb` changes
    #: ``groups`` after loading, and it sets or clears this; anything else that changes them
    #: must clear it. Not persisted.
    view_token: bytes = field(default=b"", compare=False, repr=False)
    #: Unique among every state of this process and renewed by each :func:`absorb`: an
    #: outcome made from a view of another version was made against other groups.
    version: int = field(default_factory=lambda: next(_VERSIONS), compare=False, repr=False)

    def view(self) -> CacheView:
        return CacheView(
            self.context,
            self.horizon_start,
            self.horizon_end,
            frozenset(self.groups),
            self.view_token,
            self.version,
        )

    def covers(self, window_start: datetime, window_end: datetime) -> bool:
        return self.horizon_start <= window_start and window_end <= self.horizon_end

    def assemble(
        self,
        window_start: datetime,
        window_end: datetime,
        limits: ParseLimits,
        exact: Mapping[bytes, GroupResult] | None = None,
    ) -> ParsedFeed | None:
        if not exact:
            return _assemble_flat(self, window_start, window_end, limits)
        groups: Mapping[bytes, GroupResult] = {**self.groups, **exact}
        return assemble(
            self.order,
            groups,
            window_start=window_start,
            window_end=window_end,
            meta=self.meta,
            event_count=self.event_count,
            limits=limits,
        )


def _assemble_flat(
    state: FeedState, window_start: datetime, window_end: datetime, limits: ParseLimits
) -> ParsedFeed | None:
    """:func:`assemble` over the remembered groups, at the cost of the window test alone."""
    flat = state.flat
    if flat is None or flat.stale or flat.order is not state.order:
        flat = state.flat = flatten(state.order, state.groups, flat)
    if flat.entries is None:
        return assemble(
            state.order,
            state.groups,
            window_start=window_start,
            window_end=window_end,
            meta=state.meta,
            event_count=state.event_count,
            limits=limits,
        )
    occurrences = [
        entry[2]
        for entry in flat.entries
        if (
            (entry[3] < window_end and window_start < entry[4])
            if entry[5]
            else in_window((entry[3], entry[4]), window_start, window_end)
        )
    ]
    if len(occurrences) > limits.max_occurrences:
        return None  # the full parse reports the cap
    return ParsedFeed(
        occurrences=tuple(occurrences),
        window_start=window_start,
        window_end=window_end,
        calendar_name=state.meta[0],
        calendar_timezone=state.meta[1],
        producer=state.meta[2],
        skipped=flat.skipped,
        event_count=state.event_count,
    )


def absorb(
    state: FeedState | None,
    outcome: Outcome,
    *,
    body_hash: str,
    settings: bytes,
) -> tuple[FeedState | None, set[bytes], set[bytes]]:
    """The next state after ``outcome``, plus the digests added and dropped (for persistence).

    A full parse leaves no state: the next poll starts over. Set algebra on the dict's keys
    (in C) rather than a loop over every remembered group: a poll of a large feed changes few.
    """
    if outcome.full is not None or outcome.horizon is None:
        dropped = set(state.groups) if state else set()
        return None, set(), dropped
    # After a reset the state holds exactly the outcome's groups; otherwise they were added
    # to the groups of the view the child saw only if no other outcome came in between.
    predicted = outcome.reset or (state is not None and outcome.base_version == state.version)
    if outcome.reset or state is None:
        if outcome.meta is None:  # pragma: no cover - a reset always parses the header
            return None, set(), set(state.groups) if state else set()
        old = set(state.groups) if state else set()
        state = FeedState(
            context=outcome.context,
            horizon_start=outcome.horizon[0],
            horizon_end=outcome.horizon[1],
            meta=outcome.meta,
        )
    else:
        old = None
    groups = state.groups
    moved = _moved(state, outcome.order) if old is None else None
    if moved is None:
        wanted = set(outcome.order)
        dropped = groups.keys() - wanted
        named: set[bytes] | tuple[bytes, ...] = wanted
    else:
        dropped, arrived = moved
        named = outcome.order  # only asked about new groups the position test did not see
    # Remembered groups the order no longer names go, and new ones it does not name stay out.
    for digest in dropped:
        del groups[digest]
    groups.update(outcome.new)
    for digest in outcome.new:
        if (moved is None or digest not in arrived) and digest not in named:
            del groups[digest]
    state.order = outcome.order
    if state.flat is not None:
        state.flat.stale = True  # keep its per-group memo for the rebuild
    state.event_count = outcome.event_count
    state.body_hash = body_hash
    state.settings = settings
    state.version = next(_VERSIONS)
    state.view_token = outcome.token if predicted else b""
    if old is not None:  # a reset: all remembered before is gone, but for groups parsed anew
        dropped = old - groups.keys()
    return state, set(outcome.new), dropped


def _moved(state: FeedState, order: tuple[bytes, ...]) -> tuple[set[bytes], set[bytes]] | None:
    """(groups the new ``order`` drops, digests it brings) found from the positions where it
    differs from the remembered order, compared in C; ``None`` when that cannot tell.

    Exact when every position holds a remembered group, each once: the remembered groups are
    always those the remembered order names, so equal counts mean no repeats and none
    volatile. A group is then dropped only if it sat where the order changed and does not
    reappear there (anywhere else it would still sit where it was).
    """
    previous = state.order
    if not len(state.groups) == len(previous) == len(order):
        return None
    changed = list(compress(count(), map(ne, previous, order)))
    arrived = {order[p] for p in changed}
    left = {previous[p] for p in changed}
    return {d for d in left if d in state.groups and d not in arrived}, arrived
