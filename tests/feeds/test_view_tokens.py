"""The cache view crosses to the parser child as a token when the child made it, and whole
when the child does not know the token: the answer is the same either way."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bench.feedgen import render_feed, seminar_series
from bot.core.incremental import FeedState, Outcome, absorb, parse_changed
from bot.core.parse import ParseLimits, parse_feed
from bot.feeds.isolate import ParserPool

FIRST = datetime(2026, 3, 2, 15, tzinfo=UTC)
TALKS = seminar_series(30, first=FIRST, recurring_share=0.2)
STAMP = datetime(2026, 3, 1, 9, tzinfo=UTC)
WINDOW = {"window_start": FIRST - timedelta(days=1), "window_end": FIRST + timedelta(days=60)}
SPAN = (WINDOW["window_start"], WINDOW["window_end"])


def edited(version: int) -> bytes:
    """The feed with one talk retitled and a new stamp, as a re-export would send it."""
    talks = [*TALKS[:7], replace(TALKS[7], title=f"Retitled {version}"), *TALKS[8:]]
    return render_feed(talks, stamp=STAMP + timedelta(minutes=15 * version))


def answer(state: FeedState | None, outcome: Outcome, body: bytes) -> object:
    """What a poll answers from ``outcome``, checked against the full parse of ``body``."""
    state, _, _ = absorb(state, outcome, body_hash="", settings=b"")
    assert state is not None
    parsed = state.assemble(*SPAN, ParseLimits(), outcome.exact)
    assert parsed == parse_feed(body, **WINDOW)
    return state


async def test_a_known_token_replaces_the_digests_and_an_unknown_one_gets_them_resent() -> None:
    async with ParserPool() as pool:
        body = edited(0)
        outcome = await pool.parse_incremental(body, **WINDOW)
        state = answer(None, outcome, body)
        assert isinstance(state, FeedState) and state.view_token == outcome.token != b""
        # The child knows the token: it parses only the retitled talk.
        body = edited(1)
        outcome = await pool.parse_incremental(body, **WINDOW, cache=state.view())
        assert len(outcome.new) == 1
        state = answer(state, outcome, body)
        # A token no child knows (a new worker, say): the whole view is sent after all,
        # and still only the one retitled talk is parsed.
        assert isinstance(state, FeedState)
        stranger = replace(state.view(), token=b"\x00" * 16)
        body = edited(2)
        outcome = await pool.parse_incremental(body, **WINDOW, cache=stranger)
        assert len(outcome.new) == 1
        answer(state, outcome, body)


def test_a_state_changed_since_the_view_does_not_take_the_token() -> None:
    # Two outcomes made from one view: the second was made against groups the state no longer
    # holds once the first was absorbed, so its token would name the wrong digests.
    first = parse_changed(edited(0), **WINDOW)
    state, _, _ = absorb(None, replace(first, token=b"t0"), body_hash="", settings=b"")
    assert state is not None and state.view_token == b"t0"  # a reset holds just the outcome
    view = state.view()
    one = parse_changed(edited(1), **WINDOW, cache=view)
    two = parse_changed(edited(2), **WINDOW, cache=view)
    absorb(state, replace(one, token=b"t1", base_version=view.version), body_hash="", settings=b"")
    assert state.view_token == b"t1"
    absorb(state, replace(two, token=b"t2", base_version=view.version), body_hash="", settings=b"")
    assert state.view_token == b""
    assert state.view().token == b""  # the next view carries every digest again


def test_a_lean_view_carries_no_digests() -> None:
    outcome = parse_changed(edited(0), **WINDOW)
    state, _, _ = absorb(None, replace(outcome, token=b"t"), body_hash="", settings=b"")
    assert state is not None
    view = state.view()
    assert view.known and view.lean().known is None and view.lean().token == b"t"
    untokened = replace(view, token=b"")
    assert untokened.lean() is untokened
