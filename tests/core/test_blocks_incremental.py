"""Splitting a body against an earlier split gives exactly the split made from scratch."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.feedgen import render_feed, seminar_series
from bot.core.incremental.blocks import (
    Group,
    SplitFeed,
    _digest_stamps,
    _group_digest,
    content_digest,
    draft_digest,
    settle_digest,
    stamp_pieces,
)
from bot.core.incremental.changed import parse_changed
from bot.core.incremental.split import SplitMemo, _runs, split_feed
from bot.errors import FeedError

FIRST = datetime(2026, 3, 2, 15, tzinfo=UTC)
TALKS = seminar_series(12, first=FIRST, recurring_share=0.25)
#: One block per UID line: the split keeps digests by position, not groups by UID line.
PLAIN = seminar_series(12, first=FIRST)
STAMP = datetime(2026, 1, 1, 9, tzinfo=UTC)

#: Byte edits that stress the splitter's doubts: stray or folded markers, stamps, UIDs, CRs.
SNIPPETS = (
    b"\r\nBEGIN:VEVENT",
    b"\r\nEND:VEVENT",
    b"\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT",
    b"\r\nBEGIN:VALARM\r\nEND:VALARM",
    b"\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nEND:VTIMEZONE",
    b"\r\n ",
    b"\r\n\t",
    b"\r\nDTSTAMP:20260101T090000",
    b"\r\nDTSTAMP:20260101T091500",
    b"\r\nDTSTAMP:20260101T090000\r\n ",
    b"\r\nDTSTAMP:20270205T090000Z",
    b"\r\nUID:shared",
    b"\r\nuid;x=1:odd",
    b"\r\nEND:VCALENDAR\r\n",
    b"\r\nBEGIN:VCALENDAR",
    b"\r",
    b"\n",
    b"x",
)


def runs(old: bytes, new: bytes) -> list[tuple[int, int, int]]:
    """The stretches of ``new`` equal to ``old`` with its stamps swapped for the new ones,
    checked here to be exactly that."""
    old_line, old_pieces = stamp_pieces(old)
    new_line, new_pieces = stamp_pieces(new)
    if not old_line or not new_line or len(old_line) != len(new_line):
        return []
    restamped = new_line.join(old_pieces)
    found = _runs(old_pieces, new_pieces, len(new_line), len(old))
    for o_start, n_start, length in found:
        assert restamped[o_start : o_start + length] == new[n_start : n_start + length]
        assert len(new[n_start : n_start + length]) == length
        assert (o_start == n_start == 0) or (old[o_start - 1] == new[n_start - 1] == 10)
        o_end, n_end = o_start + length, n_start + length
        assert (o_end == len(old) and n_end == len(new)) or old[o_end - 1] == new[n_end - 1] == 10
    return found


def split(body: bytes, previous: SplitFeed | None = None) -> SplitFeed | None:
    return split_feed(body, max_vevents=1000, max_nesting=8, previous=previous)


def byte_edits(draw: st.DrawFn, body: bytes) -> bytes:
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(body)))
        if draw(st.booleans()):
            body = body[:at] + draw(st.sampled_from(SNIPPETS)) + body[at:]
        else:
            body = body[:at] + body[at + draw(st.integers(1, 40)) :]
    return body


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A feed after random talk edits, a new stamp, and a few raw byte edits."""
    talks = list(draw(st.sampled_from([TALKS, PLAIN])))
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.integers(0, len(talks) - 1))
        action = draw(st.sampled_from(["title", "move", "drop", "copy"]))
        if action == "title":
            talks[index] = replace(talks[index], title=draw(st.text("ab ", max_size=30)))
        elif action == "move":
            talks[index] = talks[index].moved(talks[index].start + timedelta(hours=1))
        elif action == "drop" and len(talks) > 1:
            talks.pop(index)
        else:
            talks.insert(draw(st.integers(0, len(talks))), talks[index])
    stamp = draw(
        st.sampled_from([STAMP, STAMP + timedelta(minutes=15), STAMP + timedelta(days=400)])
    )
    body = byte_edits(draw, render_feed(talks, stamp=stamp))
    if draw(st.booleans()):
        body = body.replace(b"\r\n", b"\n")
    return body


@st.composite
def successions(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """An earlier body and a later one: unrelated, or the earlier one restamped and edited."""
    old = draw(bodies())
    if draw(st.booleans()):
        return old, draw(bodies())
    new = old.replace(b"DTSTAMP:20260101T090000", b"DTSTAMP:20260101T091500")
    return old, byte_edits(draw, new)


@settings(max_examples=400, deadline=None)
@given(successions())
def test_split_against_an_earlier_split_equals_the_full_split(pair: tuple[bytes, bytes]) -> None:
    old, new = pair
    runs(old, new)
    previous = split(old)
    full = split(new)
    if previous is not None:
        assert split(new, previous) == full
    memo = SplitMemo()
    memo.split(old, max_vevents=1000, max_nesting=8)
    assert memo.split(new, max_vevents=1000, max_nesting=8) == full


def test_an_edit_reuses_the_untouched_groups() -> None:
    old = split(render_feed(TALKS, stamp=STAMP))
    edited = [*TALKS[:5], replace(TALKS[5], title="Changed"), *TALKS[6:]]
    new = split(render_feed(edited, stamp=STAMP + timedelta(minutes=15)), old)
    assert old is not None and new is not None
    assert new == split(render_feed(edited, stamp=STAMP + timedelta(minutes=15)))
    before = {g.digest for g in old.groups}
    assert sum(g.digest not in before for g in new.groups) == 1
    # Groups before the edit are the very objects of the earlier split.
    assert new.groups[0] is old.groups[0]


def test_a_block_already_holding_the_new_stamp_is_hashed_again() -> None:
    # The old body's first event also carries the *next* stamp line: after restamping it has
    # two, so a later restamp would change its digest. It must not pass for a clean block.
    old = render_feed(TALKS, stamp=STAMP).replace(
        b"DTSTAMP:20260101T090000\r\n",
        b"DTSTAMP:20260101T090000\r\nDTSTAMP:20260101T091500\r\n",
        1,
    )
    new = old.replace(b"DTSTAMP:20260101T090000", b"DTSTAMP:20260101T091500")
    previous = split(old)
    assert previous is not None
    assert split(new, previous) == split(new)
    later = new.replace(b"DTSTAMP:20260101T091500", b"DTSTAMP:20260101T093000")
    assert split(later, split(new, previous)) == split(later)


def test_runs_pair_only_equal_bytes() -> None:
    # The old body reappears whole later in the new one: its first piece (the header up to
    # the first stamp line) is equal to a later one but one starts the body, the other not.
    old = render_feed(TALKS[:3], stamp=STAMP)
    header = old[: old.index(b"\r\nBEGIN:VEVENT")]
    for new in (
        header.replace(b"Computer", b"Comp") + b"\r\nBEGIN:VEVENT" + old,
        old + b"\r\nBEGIN:VEVENT" + old,
        old[: len(header)] + old[len(header) :].replace(b"Speaker 1", b"Speaker one"),
        old[: old.index(b"DTSTAMP")] + old,
    ):
        for a, b in ((old, new), (new, old)):
            assert runs(a, b)


@settings(max_examples=300, deadline=None)
@given(bodies())
def test_the_one_pass_content_digest_hashes_what_the_stamp_by_stamp_walk_hashes(
    body: bytes,
) -> None:
    # The walk drops every well-formed, unfolded stamp line one by one: the reference.
    restamped = body.replace(b"DTSTAMP:20260101T090000", b"DTSTAMP:20260101T091500")
    mixed = body.replace(b"DTSTAMP:2026", b"DTSTAMP:2025", 1)  # one event stamped apart
    # Back-to-back copies of one stamp line share a newline: cutting in stretches must
    # still cut where the whole-body split does.
    twice = body.replace(b"DTSTAMP:20260101T090000\r\n", b"DTSTAMP:20260101T090000\r\n" * 2)
    for variant in (body, restamped, mixed, twice):
        expected = _digest_stamps(variant)
        for stretch in (1, 7, 100, 1 << 20):  # stretch boundaries anywhere, or none
            assert content_digest(variant, stretch=stretch) == expected
        # The digest last seen only lets a match skip a search: the answer is the same.
        for known in (_digest_stamps(body), expected, bytes(32)):
            assert content_digest(variant, known=known) == expected


def reference_split(found: SplitFeed) -> tuple[list[Group], bytes, frozenset[int]]:
    """The groups, header and unsafe blocks of ``found``'s blocks, made the plain way: one
    group per UID line in order of its first block, every digest computed afresh."""
    grouped: dict[bytes, list[tuple[int, int]]] = {}
    header = b""
    cursor = 0
    for s, e, key in found.blocks:
        header += found.data[cursor:s]
        cursor = e
        grouped.setdefault(key, []).append((s, e))
    header += found.data[cursor : found.calendar_end]
    groups: list[Group] = []
    unsafe: set[int] = set()
    for key, spans in grouped.items():
        digest, risky = _group_digest(found.data, key, spans, found.stamp_line)
        groups.append(Group(digest, key, tuple(spans)))
        unsafe.update(risky)
    return groups, header, frozenset(unsafe)


@settings(max_examples=300, deadline=None)
@given(successions())
def test_fresh_and_reused_splits_hold_the_groups_a_plain_grouping_makes(
    pair: tuple[bytes, bytes],
) -> None:
    old, new = pair
    previous = split(old)
    for found in (split(new), split(new, previous) if previous is not None else None):
        if found is None:
            continue
        groups, header, unsafe = reference_split(found)
        assert list(found.groups) == groups
        assert found.header == header
        assert found.unsafe == unsafe


def test_a_lone_cr_in_a_changed_event_settles_line_ends_as_a_fresh_split_does() -> None:
    old = render_feed(TALKS, stamp=STAMP)
    restamped = old.replace(b"DTSTAMP:20260101T090000", b"DTSTAMP:20260101T091500")
    at = restamped.index(b"\r\nSUMMARY:", len(restamped) // 2)
    new = restamped[:at] + b"\r" + restamped[at + 2 :]  # one line ended by a lone CR
    previous = split(old)
    fresh = split(new)
    assert previous is not None and fresh is not None
    assert b"\r" not in fresh.data  # every line end settled to LF
    assert split(new, previous) == fresh
    # And back: the settled body was remembered, the next CRLF body is split the same way.
    assert split(restamped, split(new, previous)) == split(restamped)


def test_an_edit_adding_the_next_stamp_line_is_not_taken_for_a_clean_body() -> None:
    # A clean body (every DTSTAMP line a copy of the shared stamp) proves a restamp safe
    # without searching it. An edited event that adds another stamp line makes the new body
    # unclean, even though its unchanged pieces were clean before: when the next poll brings
    # exactly that line as the shared stamp, the re-split must still equal the fresh split.
    old = render_feed(TALKS, stamp=STAMP)
    new = old.replace(b"DTSTAMP:20260101T090000", b"DTSTAMP:20260101T091500")
    at = new.index(b"\r\nSUMMARY:", len(new) // 2)
    new = new[:at] + b"\r\nDTSTAMP:20260101T093000" + new[at:]
    later = new.replace(b"DTSTAMP:20260101T091500", b"DTSTAMP:20260101T093000")
    previous = split(old)
    assert previous is not None and previous.clean
    middle = split(new, previous)
    assert middle is not None and middle == split(new)
    assert not middle.clean
    assert split(later, middle) == split(later)


def test_an_edit_keeps_a_clean_body_clean_and_the_restamp_exact() -> None:
    old = render_feed(TALKS, stamp=STAMP)
    edited = [*TALKS[:5], replace(TALKS[5], title="Changed"), *TALKS[6:]]
    new = render_feed(edited, stamp=STAMP + timedelta(minutes=15))
    later = render_feed(edited, stamp=STAMP + timedelta(minutes=30))
    previous = split(old)
    assert previous is not None
    middle = split(new, previous)
    assert middle is not None and middle.clean and middle == split(new)
    assert split(later, middle) == split(later)


def test_an_edit_starting_a_piece_with_a_stamp_makes_the_body_unclean() -> None:
    # Two stamp lines back to back: the second starts right after the first's newline, in
    # the piece after the cut, where no search inside a piece would see it.
    old = render_feed(TALKS, stamp=STAMP)
    line = b"DTSTAMP:20260101T091500\r\n"
    new = old.replace(b"DTSTAMP:20260101T090000", b"DTSTAMP:20260101T091500")
    at = new.index(line, len(new) // 2) + len(line)
    new = new[:at] + b"DTSTAMP:20260101T093000\r\n" + new[at:]
    previous = split(old)
    assert previous is not None
    middle = split(new, previous)
    assert middle is not None and middle == split(new) and not middle.clean
    later = new.replace(b"DTSTAMP:20260101T091500", b"DTSTAMP:20260101T093000")
    assert split(later, middle) == split(later)


@settings(max_examples=200, deadline=None)
@given(successions())
def test_the_child_vouches_for_a_single_stamp_only_when_the_count_agrees(
    pair: tuple[bytes, bytes],
) -> None:
    # What the parser child says of a body (split against the one before, as in a poll) lets
    # the main process skip its own count: it must never say so when the count disagrees.
    old, new = pair
    memo = SplitMemo()
    window = {"window_start": FIRST - timedelta(days=1), "window_end": FIRST + timedelta(days=90)}
    with contextlib.suppress(FeedError):  # not a calendar: nothing to split against
        parse_changed(old, **window, splits=memo)
    try:
        outcome = parse_changed(new, **window, splits=memo)
    except FeedError:
        return  # the poll fails: no key is kept
    draft = draft_digest(new)
    if outcome.single_stamp:
        assert draft.cuts is None or new.count(b"\nDTSTAMP") == draft.cuts
    assert settle_digest(new, draft, single_stamp=outcome.single_stamp) == _digest_stamps(new)


def test_a_plain_export_is_vouched_for_and_one_stamped_apart_is_not() -> None:
    body = render_feed(TALKS, stamp=STAMP)
    window = {"window_start": FIRST - timedelta(days=1), "window_end": FIRST + timedelta(days=90)}
    assert parse_changed(body, **window).single_stamp
    mixed = body.replace(b"DTSTAMP:2026", b"DTSTAMP:2025", 2)
    assert not parse_changed(mixed, **window).single_stamp
