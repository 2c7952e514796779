from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.attendance import (
    CARD_EDIT_INTERVAL,
    COALESCE,
    Attendee,
    ChannelPacer,
    follow_events,
    going_label,
    next_edit_at,
)
from bot.core.models import Occurrence, OccurrenceKey, instant_to_json
from bot.core.reminders import PlanEvent, notice_key

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
START = NOW + timedelta(days=2)


def event(start: datetime = START, *, place: str = "Room 1", cancelled: bool = False) -> PlanEvent:
    occ = Occurrence(key=OccurrenceKey("u1"), start=start, summary="Talk", location=place)
    return PlanEvent("a1", occ, cancelled=cancelled)


def attendee(user_id: int = 1, start: datetime = START, place: str = "Room 1") -> Attendee:
    return Attendee(user_id, "a1", instant_to_json(start) or "", place)


def test_the_label_carries_the_count_only_when_someone_is_going() -> None:
    assert going_label(0) == "I'm going"
    assert going_label(12) == "I'm going · 12"


def test_a_quiet_card_waits_a_moment_and_a_busy_one_an_interval() -> None:
    assert next_edit_at(NOW, None) == NOW + COALESCE
    edited = NOW - timedelta(seconds=1)
    assert next_edit_at(NOW, edited) == edited + CARD_EDIT_INTERVAL
    assert next_edit_at(NOW, NOW - timedelta(minutes=5)) == NOW + COALESCE


def test_ten_seconds_of_steady_clicks_cost_at_most_five_edits() -> None:
    """Replays the editor's rule: clicks every 0.1 s, an edit whenever one is allowed."""
    clicks = [NOW + timedelta(seconds=0.1 * i) for i in range(101)]
    edits: list[datetime] = []
    changed_at: datetime | None = None
    t = NOW
    while t <= NOW + timedelta(seconds=20):
        if any(t - timedelta(milliseconds=50) < c <= t for c in clicks) and changed_at is None:
            changed_at = t
        if changed_at is not None and next_edit_at(changed_at, edits[-1] if edits else None) <= t:
            edits.append(t)
            changed_at = None
        t += timedelta(milliseconds=50)
    assert 1 < len(edits) <= 5
    assert edits[-1] >= clicks[-1]  # the last edit comes after the last click: exact count


def test_the_channel_pacer_spreads_edits_over_its_window() -> None:
    pacer = ChannelPacer(limit=2, window=timedelta(seconds=5))
    assert pacer.free_at(7, NOW) == NOW
    pacer.spend(7, NOW)
    pacer.spend(7, NOW + timedelta(seconds=1))
    assert pacer.free_at(7, NOW + timedelta(seconds=2)) == NOW + timedelta(seconds=5)
    assert pacer.free_at(8, NOW + timedelta(seconds=2)) == NOW + timedelta(seconds=2)
    assert pacer.free_at(7, NOW + timedelta(seconds=5)) == NOW + timedelta(seconds=5)


def test_a_move_tells_each_attendee_once_and_not_again_if_a_reminder_already_did() -> None:
    later = START + timedelta(hours=2)
    people = [attendee(1), attendee(2)]
    told = frozenset({notice_key(2, "a1", "moved", instant_to_json(later) or "", "Room 1")})
    plan = follow_events(people, {"a1": event(later)}, feed_zone="UTC", now=NOW, already_told=told)
    assert [(n.user_id, n.kind) for n in plan.notices] == [(1, "moved")]
    assert plan.notices[0].payload["old_start"] == people[0].start_json
    assert [(p.user_id, start) for p, start, _ in plan.moved] == [
        (1, instant_to_json(later)),
        (2, instant_to_json(later)),
    ]
    assert plan.ended == []


def test_nothing_changed_means_nothing_to_say() -> None:
    plan = follow_events([attendee(1)], {"a1": event()}, feed_zone="UTC", now=NOW)
    assert plan.notices == [] and plan.moved == [] and plan.ended == []


def test_a_cancellation_tells_once_and_ends_attendance() -> None:
    plan = follow_events([attendee(1)], {"a1": event(cancelled=True)}, feed_zone="UTC", now=NOW)
    assert [(n.user_id, n.kind) for n in plan.notices] == [(1, "cancelled")]
    assert plan.notices[0].idem_key == notice_key(1, "a1", "cancelled", "", "")
    assert [p.user_id for p in plan.ended] == [1]


def test_talks_that_started_or_are_unknown_are_left_alone() -> None:
    started = event(NOW - timedelta(minutes=5), cancelled=True)
    assert follow_events([attendee(1)], {"a1": started}, feed_zone="UTC", now=NOW).ended == []
    assert follow_events([attendee(1)], {}, feed_zone="UTC", now=NOW).notices == []
