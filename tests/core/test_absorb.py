"""absorb keeps exactly the groups the new order names and reports exactly the ones dropped,
however it finds them (by the positions that changed, or by set algebra): random sequences
of orders with edits, repeats, volatile groups, reorderings and resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.incremental import GroupResult, Outcome, absorb
from bot.core.incremental.state import FeedState

T = datetime(2026, 3, 2, tzinfo=UTC)
HORIZON = (T, T + timedelta(days=200))

edit = st.sampled_from(["same", "same", "same", "new", "repeat", "volatile", "swap", "drop"])


def _next_order(order: list[bytes], edits: list[str], n: int) -> list[bytes]:
    out = list(order)
    for position, how in enumerate(edits[: len(out)]):
        if how == "new":
            out[position] = f"g{n}-{position}".encode().ljust(16, b".")
        elif how == "repeat" and out:
            out[position] = out[0]
        elif how == "volatile":
            out[position] = f"v{n}-{position}".encode().ljust(16, b".")
        elif how == "swap" and position + 1 < len(out):
            out[position], out[position + 1] = out[position + 1], out[position]
    if "drop" in edits and out:
        out.pop()
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(edit, max_size=12), st.booleans()), min_size=1, max_size=8))
def test_absorb_keeps_what_the_order_names_and_reports_what_went(
    steps: list[tuple[list[str], bool]],
) -> None:
    order = [f"g-{i}".encode().ljust(16, b".") for i in range(10)]
    state: FeedState | None = None
    for n, (edits, reset) in enumerate(steps):
        order = _next_order(order, edits, n)
        before = dict(state.groups) if state is not None else {}
        known = set(before)
        fresh = {d: GroupResult() for d in order if d not in known and not d.startswith(b"v")}
        outcome = Outcome(
            context=b"ctx",
            horizon=HORIZON,
            reset=reset or state is None,
            order=tuple(order),
            new=fresh,
            meta=("", "", ""),
            event_count=len(order),
        )
        state, added, dropped = absorb(state, outcome, body_hash="h", settings=b"s")
        assert state is not None
        wanted = set(order)
        kept = {} if outcome.reset else before
        assert state.groups == {d: r for d, r in {**kept, **fresh}.items() if d in wanted}
        assert dropped == set(before) - set(state.groups)
        assert added == set(fresh)
        assert state.order == tuple(order)
