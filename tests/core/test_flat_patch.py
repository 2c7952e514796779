"""Patching the window-independent flat list must give what rebuilding it gives, over any
sequence of group sets (shared UIDs and duplicate keys included)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.incremental import GroupResult
from bot.core.incremental.flat import Flat, flatten
from bot.core.models import OccurrenceKey, SkippedEvent
from tests.store.factories import T0, tec_occ


def group(n: int, uid_of: int, keys: int, skipped: bool) -> tuple[bytes, GroupResult]:
    occurrences = []
    for k in range(keys):
        occ = tec_occ(100 + uid_of, T0 + timedelta(days=(n * 7 + k) % 11, hours=k))
        # Groups n and n - 14 share a UID (and keys): such groups interact.
        occ = replace(occ, key=OccurrenceKey(f"uid-{uid_of}", f"2025{k:04d}" if k else ""))
        occurrences.append(occ)
    spans = tuple((o.start, o.start + timedelta(hours=1)) for o in occurrences)
    skips = (SkippedEvent(uid=f"s{n}", reason="bad"),) if skipped else ()
    uids = frozenset(o.key.uid for o in occurrences)
    return f"g{n}".encode(), GroupResult(tuple(occurrences), spans, skips, uids)


POOL = dict(
    group(n, uid_of=n if n < 14 else n - 14, keys=1 + n % 3, skipped=n == 17) for n in range(18)
)


def flat_view(flat: Flat) -> object:
    if flat.entries is None:
        return None
    return ([(e[0], e[1], e[2], e[3], e[4], e[5]) for e in flat.entries], flat.skipped)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(sorted(POOL)), unique=True, max_size=12), min_size=1, max_size=6
    )
)
def test_patched_flat_equals_rebuilt(orders: list[list[bytes]]) -> None:
    previous: Flat | None = None
    for digests in orders:
        order = tuple(digests)
        groups = {d: POOL[d] for d in order}
        rebuilt = flatten(order, groups, None)
        expected = flat_view(rebuilt)
        patched = flatten(order, groups, previous)
        assert flat_view(patched) == expected
        previous = patched


def fresh_copy(result: GroupResult) -> GroupResult:
    """An equal result that is another object (a group parsed again)."""
    return GroupResult(result.occurrences, result.spans, result.skipped, result.uids)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(sorted(POOL)), max_size=12),  # repeats allowed
            st.sets(st.sampled_from(sorted(POOL))),  # parsed again this poll
            st.sets(st.sampled_from(sorted(POOL))),  # named but missing from the groups
        ),
        min_size=1,
        max_size=6,
    )
)
def test_patching_with_groups_parsed_again_or_missing_equals_rebuilding(
    polls: list[tuple[list[bytes], set[bytes], set[bytes]]],
) -> None:
    previous: Flat | None = None
    groups: dict[bytes, GroupResult] = {}
    for digests, again, missing in polls:
        order = tuple(digests)
        groups = {
            d: fresh_copy(POOL[d]) if d in again else groups.get(d, POOL[d])
            for d in order
            if d not in missing
        }
        expected = flat_view(flatten(order, groups, None))
        patched = flatten(order, groups, previous)
        assert flat_view(patched) == expected
        previous = patched
