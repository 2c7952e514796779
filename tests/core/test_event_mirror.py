"""Planning the Events-tab mirror: limits, the cap, adoption after a crash, cancel vs delete."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.core.event_mirror import (
    DESCRIPTION_LIMIT,
    MirrorRecord,
    OpKind,
    RecordStatus,
    RemoteEvent,
    RemoteStatus,
    Wanted,
    build_payload,
    marker_for,
    plan_mirror,
    wanted_events,
)
from bot.core.models import Occurrence, OccurrenceKey, SeminarDetails

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def occ(uid: str, start: datetime | date, **kw: object) -> Occurrence:
    return Occurrence(key=OccurrenceKey(uid), start=start, **kw)  # type: ignore[arg-type]


def remote_of(
    w: Wanted, event_id: int, status: RemoteStatus = RemoteStatus.SCHEDULED
) -> RemoteEvent:
    p = w.payload
    return RemoteEvent(event_id, p.name, p.description, p.start, p.end, p.location, status)


def test_payload_fits_discord_limits_whatever_the_feed_says() -> None:
    long = occ(
        "a",
        NOW + timedelta(days=1),
        summary="x" * 500,
        location="y" * 500,
        seminar=SeminarDetails(title="T" * 300, abstract="z" * 5000, speaker="S" * 300),
    )
    p = build_payload(long, marker=marker_for(1, "a"))
    assert 1 <= len(p.name) <= 100 and 1 <= len(p.location) <= 100
    assert len(p.description) <= DESCRIPTION_LIMIT
    assert p.description.endswith(marker_for(1, "a"))
    assert p.end == p.start + timedelta(hours=1)  # no DTEND: one hour


@given(st.text(max_size=3000), st.text(max_size=300))
def test_payload_limits_hold_for_any_text(text: str, place: str) -> None:
    p = build_payload(
        occ("a", NOW + timedelta(days=1), summary=text, description=text, location=place),
        marker=marker_for(7, "aid"),
    )
    assert 1 <= len(p.name) <= 100 and 1 <= len(p.location) <= 100
    assert len(p.description) <= DESCRIPTION_LIMIT and marker_for(7, "aid") in p.description


def test_all_day_event_spans_its_local_day() -> None:
    o = occ("a", date(2026, 12, 3), timezone="America/New_York")
    p = build_payload(o, marker="m")
    assert p.start == datetime(2026, 12, 3, 5, 0, tzinfo=UTC)
    assert p.end == datetime(2026, 12, 4, 5, 0, tzinfo=UTC)


def test_only_future_talks_inside_the_window_soonest_first() -> None:
    cands = [
        ("late", occ("late", NOW + timedelta(days=3))),
        ("soon", occ("soon", NOW + timedelta(hours=2))),
        ("started", occ("started", NOW - timedelta(minutes=5))),
        ("far", occ("far", NOW + timedelta(days=8))),
        ("off", occ("off", NOW + timedelta(days=1), status="CANCELLED")),
    ]
    wanted = wanted_events(cands, feed_id=1, now=NOW, window=WEEK)
    assert [w.announcement_id for w in wanted] == ["soon", "late"]


def wanted_n(n: int) -> list[Wanted]:
    cands = [(f"a{i:03}", occ(f"a{i:03}", NOW + timedelta(hours=1 + i))) for i in range(n)]
    return wanted_events(cands, feed_id=1, now=NOW, window=timedelta(days=30))


def test_creates_the_soonest_within_the_cap_left_by_other_events() -> None:
    foreign = [
        RemoteEvent(900 + i, "x", "", NOW + timedelta(days=2), None, "y", RemoteStatus.SCHEDULED)
        for i in range(3)
    ]
    ops = plan_mirror(
        feed_id=1, wanted=wanted_n(110), cancelled=[], records={}, remote=foreign, now=NOW
    )
    assert [o.kind for o in ops] == [OpKind.CREATE] * 97
    assert [o.announcement_id for o in ops] == [f"a{i:03}" for i in range(97)]


def test_a_sooner_talk_displaces_the_latest_one_at_the_cap() -> None:
    wanted = wanted_n(3)
    remote = [remote_of(w, 10 + i) for i, w in enumerate(wanted[1:])]
    records = {
        w.announcement_id: MirrorRecord(w.announcement_id, 10 + i, RecordStatus.ACTIVE)
        for i, w in enumerate(wanted[1:])
    }
    ops = plan_mirror(
        feed_id=1,
        wanted=wanted,
        cancelled=[],
        records=records,
        remote=remote,
        now=NOW,
        max_active=2,
    )
    assert {(o.kind, o.announcement_id) for o in ops} == {
        (OpKind.CREATE, "a000"),
        (OpKind.DELETE, "a002"),
    }


def test_unchanged_events_need_no_request_and_changes_are_edits() -> None:
    (w,) = wanted_n(1)
    records = {"a000": MirrorRecord("a000", 5, RecordStatus.ACTIVE)}
    assert (
        plan_mirror(
            feed_id=1, wanted=[w], cancelled=[], records=records, remote=[remote_of(w, 5)], now=NOW
        )
        == []
    )
    stale = RemoteEvent(
        5, "old", w.payload.description, w.payload.start, w.payload.end, "z", RemoteStatus.SCHEDULED
    )
    (op,) = plan_mirror(
        feed_id=1, wanted=[w], cancelled=[], records=records, remote=[stale], now=NOW
    )
    assert op.kind is OpKind.EDIT and op.event_id == 5


def test_event_created_before_a_crash_is_adopted_by_its_marker() -> None:
    (w,) = wanted_n(1)
    (op,) = plan_mirror(
        feed_id=1, wanted=[w], cancelled=[], records={}, remote=[remote_of(w, 77)], now=NOW
    )
    assert (op.kind, op.event_id) == (OpKind.RECORD, 77)


def test_cancelled_talk_is_cancelled_and_vanished_one_deleted() -> None:
    a, b = wanted_n(2)
    records = {
        "a000": MirrorRecord("a000", 1, RecordStatus.ACTIVE),
        "a001": MirrorRecord("a001", 2, RecordStatus.ACTIVE),
    }
    remote = [remote_of(a, 1), remote_of(b, 2)]
    ops = plan_mirror(
        feed_id=1, wanted=[], cancelled=["a000"], records=records, remote=remote, now=NOW
    )
    assert {(o.kind, o.event_id) for o in ops} == {(OpKind.CANCEL, 1), (OpKind.DELETE, 2)}


def test_event_removed_by_hand_is_never_recreated() -> None:
    (w,) = wanted_n(1)
    records = {"a000": MirrorRecord("a000", 5, RecordStatus.ACTIVE)}
    (op,) = plan_mirror(feed_id=1, wanted=[w], cancelled=[], records=records, remote=[], now=NOW)
    assert (op.kind, op.status) == (OpKind.RECORD, RecordStatus.GONE)
    gone = {"a000": MirrorRecord("a000", 5, RecordStatus.GONE)}
    assert plan_mirror(feed_id=1, wanted=[w], cancelled=[], records=gone, remote=[], now=NOW) == []


def test_started_events_are_left_alone_and_keep_their_slot() -> None:
    (w,) = wanted_n(1)
    started = RemoteEvent(
        9,
        w.payload.name,
        w.payload.description,
        NOW - timedelta(minutes=10),
        None,
        "x",
        RemoteStatus.SCHEDULED,
    )
    records = {"a000": MirrorRecord("a000", 9, RecordStatus.ACTIVE)}
    later = wanted_n(3)[1:]
    ops = plan_mirror(
        feed_id=1,
        wanted=later,
        cancelled=[],
        records=records,
        remote=[started],
        now=NOW,
        max_active=2,
    )
    assert [o.kind for o in ops] == [OpKind.CREATE]  # one slot left, nothing deleted
