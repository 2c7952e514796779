"""Property tests: any sequence of feed versions keeps the diff's promises to members."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.models import ActionKind, Occurrence
from tests.store.factories import T0, FeedHistory, tec_occ

POOL = [tec_occ(100 + i, T0 + timedelta(days=1 + i, hours=i % 5)) for i in range(8)]

mutation = st.sampled_from(["same", "retitle", "move", "cancel", "room", "drop"])
version = st.lists(mutation, min_size=len(POOL), max_size=len(POOL))
step = st.tuples(version, st.integers(min_value=0, max_value=24 * 60))


def mutate(occ: Occurrence, how: str, n: int) -> Occurrence | None:
    if how == "drop":
        return None
    if how == "retitle":
        return replace(occ, summary=f"{occ.summary} v{n}")
    if how == "move":
        post = int(occ.key.uid.split("-")[0])
        return tec_occ(post, occ.start + timedelta(hours=1 + n % 3), summary=occ.summary)  # type: ignore[operator]
    if how == "cancel":
        return replace(occ, status="CANCELLED")
    if how == "room":
        return replace(occ, location=f"Room {n}")
    return occ


@settings(max_examples=80, deadline=None)
@given(st.lists(step, min_size=1, max_size=8))
def test_any_history_never_double_announces_or_double_cancels(
    steps: list[tuple[list[str], int]],
) -> None:
    history = FeedHistory()
    now = T0
    announced: Counter[str] = Counter()
    last_kind: dict[str, ActionKind] = {}
    first = True
    for n, (mutations, minutes) in enumerate(steps):
        now += timedelta(minutes=minutes)
        feed = [m for occ, how in zip(POOL, mutations, strict=True) if (m := mutate(occ, how, n))]
        result = history.poll(feed, now=now, baseline="announce" if first else None)
        first = False
        keys = [p.announcement_id for p in result.planned]
        assert len(keys) == len(set(keys)), "two actions for one announcement in one poll"
        for planned in result.planned:
            kind = planned.action.kind
            if kind is ActionKind.ANNOUNCE:
                announced[planned.announcement_id] += 1
            else:
                assert announced[planned.announcement_id] == 1, f"{kind} of an unannounced event"
            if kind is ActionKind.CANCEL:
                # A cancellation is told once; only a reinstatement in between allows another.
                assert last_kind.get(planned.announcement_id) is not ActionKind.CANCEL
            last_kind[planned.announcement_id] = kind
        if result.suspect:
            assert result.actions == ()
    assert all(count == 1 for count in announced.values()), announced
