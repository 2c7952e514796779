"""A feed's next incremental parse goes back to the parser child that made its last one, so
the child knows its view and its last split; a child killed for overrunning takes no other
feed's parse with it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.feedgen import render_feed, seminar_series
from bot.core.incremental import FeedState, Outcome, absorb
from bot.core.parse import ParseLimits, parse_feed
from bot.feeds.isolate import ParserPool

START = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = {"window_start": START, "window_end": START + timedelta(days=120)}
LIMITS = ParseLimits()


def feed(first_post: int) -> bytes:
    talks = seminar_series(40, first=START, recurring_share=0.0)
    return render_feed(replace(talk, post_id=talk.post_id + first_post) for talk in talks)


class RecordingPool(ParserPool):
    """Records, for every hand-off to a child, the lane it ran in and what came back."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.handed: list[tuple[int, str]] = []
        #: The lane each body (small enough to go through the pipe) was parsed in.
        self.lane_of: dict[bytes, int] = {}

    async def _submit_to_lane(
        self,
        fn: Any,
        args: tuple[Any, ...],
        timeout: float,  # noqa: ASYNC109 - passed on to the pool as is
        prefer: int | None,
    ) -> tuple[Any, int]:
        result, lane = await super()._submit_to_lane(fn, args, timeout, prefer)
        self.handed.append((lane, type(result).__name__))
        self.lane_of[args[1]] = lane
        return result, lane


def state_after(previous: FeedState | None, outcome: Outcome) -> FeedState:
    state, _, _ = absorb(previous, outcome, body_hash="", settings=b"")
    assert state is not None
    return state


async def test_each_feed_is_parsed_again_by_the_child_that_knows_its_view() -> None:
    bodies = {"a": feed(0), "b": feed(1000)}
    async with RecordingPool() as pool:
        # Both feeds at once: one child each.
        first = await asyncio.gather(
            *(pool.parse_incremental(body, **WINDOW) for body in bodies.values())
        )
        states = {
            name: state_after(None, outcome) for name, outcome in zip(bodies, first, strict=True)
        }
        lanes = {name: pool.lane_of[body] for name, body in bodies.items()}
        assert sorted(lanes.values()) == [0, 1]
        pool.handed.clear()
        # Then one after the other, each body a little edited: each goes back to its child,
        # which answers from the view it remembers (nothing is sent twice).
        for name in ("b", "a", "b", "a"):
            edited = bodies[name].replace(b"Results on problem 3", b"Results on problem 3b")
            view = states[name].view()
            assert view.token  # the child that made the last outcome remembers this view
            outcome = await pool.parse_incremental(edited, **WINDOW, cache=view)
            assert pool.handed[-1] == (lanes[name], "Outcome")
            states[name] = state_after(states[name], outcome)
            assembled = states[name].assemble(WINDOW["window_start"], WINDOW["window_end"], LIMITS)
            assert assembled == parse_feed(edited, **WINDOW)
        assert len(pool.handed) == 4
