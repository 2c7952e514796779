"""The bytes-level splitter finds the parser's blocks, or declines."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.feedgen import Talk, render_feed
from bot.core.incremental.split import split_feed

TALK = Talk(post_id=1, start=datetime(2026, 3, 2, 15, tzinfo=UTC))
OTHER = Talk(post_id=2, start=datetime(2026, 3, 3, 15, tzinfo=UTC))


def split(body: bytes):  # type: ignore[no-untyped-def]
    return split_feed(body, max_vevents=1000, max_nesting=8)


def test_groups_ignore_dtstamp_but_not_content() -> None:
    a = split(render_feed([TALK, OTHER], stamp=datetime(2026, 1, 1, tzinfo=UTC)))
    b = split(render_feed([TALK, OTHER], stamp=datetime(2026, 2, 1, tzinfo=UTC)))
    c = split(render_feed([TALK.moved(OTHER.start), OTHER]))
    assert a is not None and b is not None and c is not None
    assert [g.digest for g in a.groups] == [g.digest for g in b.groups]
    assert a.groups[0].digest != c.groups[0].digest and a.groups[1].digest == c.groups[1].digest
    assert a.vevent_count == 2


def test_line_endings_and_case_are_handled() -> None:
    body = render_feed([TALK, OTHER])
    for variant in (
        body.replace(b"\r\n", b"\n"),
        body.replace(b"\r\n", b"\r"),
        body.replace(b"BEGIN:VEVENT", b"begin:vevent").replace(b"END:VEVENT", b"End:VEvent"),
    ):
        result = split(variant)
        assert result is not None and len(result.groups) == 2


def test_overrides_share_a_group_with_their_master() -> None:
    from dataclasses import replace
    from datetime import timedelta

    series = replace(
        TALK,
        weekly_count=4,
        overrides=((TALK.start + timedelta(weeks=1), TALK.start + timedelta(weeks=1, hours=2)),),
    )
    result = split(render_feed([series, OTHER]))
    assert result is not None and result.vevent_count == 3 and len(result.groups) == 2
    assert len(result.groups[0].spans) == 2


def test_odd_bodies_are_left_to_the_full_parser() -> None:
    body = render_feed([TALK])
    assert split(body.replace(b"END:VEVENT", b"", 1)) is None  # unbalanced
    assert split(body[: len(body) // 2]) is None  # truncated
    assert split(body + b"\r\n" + body) is None  # two calendars
    assert (
        split(body.replace(b"BEGIN:VEVENT\r\n", b"BEGIN:VEVENT\r\n X\r\n")) is None
    )  # folded marker
    assert split(b"<html></html>") is None
