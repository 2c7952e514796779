"""The window-independent half of assembling: every remembered occurrence of a feed,
sorted as the parser sorts, kept between polls and patched group by group, so a poll of a
large feed costs only the window test."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from bot.core.incremental.results import GroupResult
from bot.core.models import Instant, Occurrence, OccurrenceKey, SkippedEvent, sort_key

#: One remembered occurrence, ready for the window test: its sort key (start, key) in the
#: first two places, the occurrence, its span, and whether the span is a plain timed interval
#: (the fast test applies). Flat, not nested: the main process keeps one per event.
Entry = tuple[datetime, OccurrenceKey, Occurrence, Instant, Instant, bool]
#: Sorts entries as the parser sorts occurrences: by start, then key.
_SORT = itemgetter(0, 1)


@dataclass(slots=True)
class Flat:
    """The window-independent half of :func:`assemble` for one ``order``: every remembered
    occurrence sorted as the parser sorts, so a poll only filters by the window."""

    order: tuple[bytes, ...]
    #: None when the groups interact (a UID in several groups) or a group is missing.
    entries: list[Entry] | None
    #: digest -> (its GroupResult, its entries): reused while the group is unchanged.
    memo: dict[bytes, tuple[GroupResult, tuple[Entry, ...]]]
    skipped: tuple[SkippedEvent, ...] = ()
    stale: bool = False
    #: For usable entries: every UID and every key the groups hold (for small patches).
    uids: set[str] | None = None
    keys: set[OccurrenceKey] | None = None


#: Beyond this many new or dropped groups a poll rebuilds the flat list instead of patching.
_PATCH_LIMIT = 500
#: Up to this many entries in and out, each is moved by bisection in the sorted list; beyond,
#: the list is filtered and re-sorted once. A move costs a bisection and a shift of the list
#: (microseconds at 10,000 entries), a re-sort milliseconds: 100 edited events moved one by
#: one cost a third of re-sorting.
_BISECT_LIMIT = 512


def _entries(result: GroupResult) -> tuple[Entry, ...]:
    out: list[Entry] = []
    for occurrence, (begin, finish) in zip(result.occurrences, result.spans, strict=True):
        plain = isinstance(begin, datetime) and isinstance(finish, datetime) and begin < finish
        out.append((sort_key(occurrence.start), occurrence.key, occurrence, begin, finish, plain))
    return tuple(out)


def _patch(
    order: tuple[bytes, ...], groups: Mapping[bytes, GroupResult], previous: Flat
) -> Flat | None:
    """``previous`` with the few groups that came and went swapped in and out, or ``None``
    when only a rebuild can tell (a UID or key now shared, skipped events, many changes).

    Consumes ``previous`` (its memo, UIDs and keys are reused in place)."""
    memo, uids, keys = previous.memo, previous.uids, previous.keys
    if previous.entries is None or previous.skipped or uids is None or keys is None:
        return None
    changes = _group_changes(order, groups, memo)
    if changes is None:
        return None
    added, dropped = changes
    gone = _drop(dropped, memo, uids, keys)
    fresh = _add(added, groups, memo, uids, keys)
    if fresh is None:
        return None
    entries = previous.entries
    if len(gone) + len(fresh) <= _BISECT_LIMIT:
        for entry in gone:
            _remove_sorted(entries, entry)
        for entry in fresh:
            bisect.insort(entries, entry, key=_SORT)
    else:
        ids = {id(e) for e in gone}
        entries = [e for e in entries if id(e) not in ids] if ids else entries
        entries.extend(fresh)
        entries.sort(key=_SORT)
    return Flat(order, entries, memo, (), uids=uids, keys=keys)


def _remove_sorted(entries: list[Entry], entry: Entry) -> None:
    """Remove this very entry from the sorted list (sort keys are unique: keys are)."""
    index = bisect.bisect_left(entries, _SORT(entry), key=_SORT)
    while index < len(entries) and entries[index] is not entry:
        index += 1  # only reached if a key were ever repeated; keeps removal exact
    if index < len(entries):
        del entries[index]


def _group_changes(
    order: tuple[bytes, ...],
    groups: Mapping[bytes, GroupResult],
    memo: dict[bytes, tuple[GroupResult, tuple[Entry, ...]]],
) -> tuple[list[bytes], list[bytes]] | None:
    """The digests to add and to drop (a replaced group is both); ``None`` beyond the limit
    or when ``order`` names a group twice."""
    added: list[bytes] = []
    for digest in order:
        known = memo.get(digest)
        if known is None or groups.get(digest) is not known[0]:
            added.append(digest)
            if len(added) > _PATCH_LIMIT:
                return None
    wanted = set(order)
    if len(wanted) != len(order):
        return None
    dropped = [d for d in memo if d not in wanted]
    dropped.extend(d for d in added if d in memo)
    if len(dropped) > _PATCH_LIMIT:
        return None
    return added, dropped


def _drop(
    dropped: list[bytes],
    memo: dict[bytes, tuple[GroupResult, tuple[Entry, ...]]],
    uids: set[str],
    keys: set[OccurrenceKey],
) -> list[Entry]:
    """Forget the dropped groups; their entries, to take out of the list."""
    gone: list[Entry] = []
    for digest in dropped:
        result, group_entries = memo.pop(digest)
        uids.difference_update(result.uid_names())
        for entry in group_entries:
            keys.discard(entry[1])
        gone.extend(group_entries)
    return gone


def _add(
    added: list[bytes],
    groups: Mapping[bytes, GroupResult],
    memo: dict[bytes, tuple[GroupResult, tuple[Entry, ...]]],
    uids: set[str],
    keys: set[OccurrenceKey],
) -> list[Entry] | None:
    """The entries of the added groups; ``None`` when one has skipped events or shares a UID
    or a key with another group (then only a rebuild can tell)."""
    fresh: list[Entry] = []
    for digest in added:
        incoming = groups.get(digest)
        if incoming is None or incoming.skipped:
            return None
        for uid in incoming.uid_names():
            if uid in uids:
                return None
            uids.add(uid)
        group_entries = _entries(incoming)
        for entry in group_entries:
            if entry[1] in keys:
                return None
            keys.add(entry[1])
        memo[digest] = (incoming, group_entries)
        fresh.extend(group_entries)
    return fresh


def flatten(
    order: tuple[bytes, ...], groups: Mapping[bytes, GroupResult], previous: Flat | None
) -> Flat:
    if previous is not None:
        patched = _patch(order, groups, previous)
        if patched is not None:
            return patched
    memo: dict[bytes, tuple[GroupResult, tuple[Entry, ...]]] = {}
    entries: list[Entry] = []
    seen_uids: set[str] = set()
    skipped: list[SkippedEvent] = []
    old = previous.memo if previous is not None else {}
    usable = True
    for digest in order:
        result = groups.get(digest)
        if result is None or not seen_uids.isdisjoint(result.uid_names()):
            usable = False
            break
        seen_uids.update(result.uid_names())
        known = old.get(digest)
        group_entries = known[1] if known is not None and known[0] is result else _entries(result)
        memo[digest] = (result, group_entries)
        entries.extend(group_entries)
        skipped.extend(result.skipped)
    if not usable:
        return Flat(order, None, memo)
    keys = [entry[1] for entry in entries]
    key_set = set(keys)
    if len(key_set) != len(keys):
        return Flat(order, None, memo)  # duplicates: the parser's own dedupe decides
    entries.sort(key=_SORT)
    return Flat(order, entries, memo, tuple(skipped), uids=seen_uids, keys=key_set)
