from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.models import Occurrence, OccurrenceKey, SeminarDetails
from bot.core.reminders import (
    Decision,
    PlanEvent,
    PlanSubscription,
    StoredReminder,
    anchor_of,
    decide,
    due_for,
    matches,
    plan_feed,
)

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def occ(start, *, uid="u1", place="Room 1", speaker="Ada Lovelace", tz="America/New_York"):
    return Occurrence(
        key=OccurrenceKey(uid),
        start=start,
        timezone=tz,
        summary="Talk",
        location=place,
        seminar=SeminarDetails(speaker=speaker, series="CS Seminar", title="Engines"),
    )


def test_whole_days_keep_local_time_across_dst_and_the_rest_is_absolute() -> None:
    talk = occ(datetime(2026, 11, 1, 10, 0, tzinfo=NY))  # the Sunday clocks fall back at 2:00
    assert due_for(talk, timedelta(days=1)) == datetime(2026, 10, 31, 10, 0, tzinfo=NY)
    assert talk.start.astimezone(UTC) - due_for(talk, timedelta(days=1)) == timedelta(hours=25)
    assert due_for(talk, timedelta(minutes=15)) == talk.start - timedelta(minutes=15)
    assert due_for(talk, timedelta(days=1, hours=2)) == datetime(2026, 10, 31, 8, 0, tzinfo=NY)


def test_all_day_events_count_back_from_nine_local() -> None:
    day = occ(date(2026, 12, 4), tz="")
    assert anchor_of(day, "America/New_York") == datetime(2026, 12, 4, 9, 0, tzinfo=NY)
    assert anchor_of(day) == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert due_for(day, timedelta(days=1), "America/New_York") == datetime(
        2026, 12, 3, 9, 0, tzinfo=NY
    )


def test_late_policy() -> None:
    start = NOW + timedelta(minutes=20)
    due = NOW - timedelta(minutes=10)
    assert decide(NOW + timedelta(minutes=30), start, NOW) is Decision.NOT_DUE
    assert decide(NOW, start, NOW) is Decision.ON_TIME
    assert decide(due, start, NOW) is Decision.LATE  # row 31: due 10 min ago, event in 20
    assert decide(NOW - timedelta(hours=3), NOW - timedelta(hours=2), NOW) is Decision.MISSED
    assert decide(due, NOW - timedelta(minutes=5), NOW) is Decision.LATE  # within grace
    assert decide(due, NOW - timedelta(minutes=11), NOW) is Decision.MISSED


def test_matching_is_case_and_space_insensitive() -> None:
    talk = occ(NOW)
    assert matches("speaker", "  ada  LOVELACE", talk)
    assert matches("series", "cs seminar", talk)
    assert matches("keyword", "engines", talk)
    assert not matches("speaker", "Hopper", talk)
    assert matches("", "", talk)


def plan(events, subs, existing=(), now=NOW):
    return plan_feed(
        feed_id=1,
        channel_id=50,
        offsets=(timedelta(days=1), timedelta(minutes=15)),
        feed_zone="UTC",
        events=events,
        subscriptions=subs,
        existing=existing,
        now=now,
    )


def stored_from(p):
    return [
        StoredReminder(
            i,
            d.idem_key,
            d.announcement_id,
            "pending",
            d.start_json,
            d.place,
            d.due_at,
            d.target_kind,
            d.subscription_id,
            d.user_id,
        )
        for i, d in enumerate(p.inserts, 1)
    ]


def test_planning_is_idempotent_and_follows_a_reschedule() -> None:
    talk = occ(NOW + timedelta(days=3))
    subs = [PlanSubscription(7, 99, "filter", timedelta(hours=1), field="speaker", pattern="ada")]
    first = plan([PlanEvent("a1", talk)], subs)
    assert len(first.inserts) == 3 and not first.notices
    stored = stored_from(first)
    assert plan([PlanEvent("a1", talk)], subs, stored).changed == 0

    moved = occ(NOW + timedelta(days=4), uid="u2")
    second = plan([PlanEvent("a1", moved)], subs, stored)
    assert len(second.updates) == 3 and not second.inserts
    assert {u.desired.due_at for u in second.updates} >= {moved.start - timedelta(hours=1)}
    (notice,) = second.notices
    assert notice.kind == "moved" and notice.user_id == 99


def test_cancelled_event_cancels_pending_and_notices_once_per_user() -> None:
    talk = occ(NOW + timedelta(days=3))
    subs = [
        PlanSubscription(7, 99, "event", timedelta(hours=1), announcement_id="a1"),
        PlanSubscription(8, 99, "event", timedelta(hours=2), announcement_id="a1"),
    ]
    stored = stored_from(plan([PlanEvent("a1", talk)], subs))
    result = plan([PlanEvent("a1", talk, cancelled=True)], subs, stored)
    assert len(result.cancels) == 4
    assert [n.kind for n in result.notices] == ["cancelled"]


def test_new_event_inside_an_offset_is_recorded_too_late_not_sent() -> None:
    soon = occ(NOW + timedelta(hours=3))
    result = plan([PlanEvent("a1", soon)], [])
    assert [d.offset for d in result.too_late] == [timedelta(days=1)]
    assert [d.offset for d in result.inserts] == [timedelta(minutes=15)]


def test_started_events_are_left_to_the_worker() -> None:
    started = occ(NOW - timedelta(minutes=5))
    stored = [StoredReminder(1, "c:1:a1:900", "a1", "pending", "x", "", NOW, "channel")]
    assert plan([PlanEvent("a1", started)], [], stored).changed == 0
