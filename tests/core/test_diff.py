"""Change detection over successive versions of a feed: what gets announced, edited or cancelled."""

from __future__ import annotations

from datetime import timedelta

from bot.core.diff import DiffPolicy, EventState, diff_feed
from bot.core.models import ActionKind, OccurrenceKey
from tests.store.factories import T0, FeedHistory, feed_of, kinds, occ, tec_occ, weekly

MIN = timedelta(minutes=1)
DAY = timedelta(days=1)


def test_new_event_inside_the_window_is_announced_once() -> None:
    h = FeedHistory()
    talk = occ("a", T0 + 2 * DAY)
    first = h.poll([talk], now=T0)
    assert kinds(first) == ["announce"]
    assert first.actions[0].occurrence == talk
    assert h.stored("a").state == EventState.ANNOUNCED
    for i in range(1, 4):
        assert h.poll([talk], now=T0 + i * 15 * MIN).actions == ()


def test_edited_description_without_last_modified_bump_is_an_update() -> None:
    h = FeedHistory()
    stamp = T0 - 3 * DAY
    talk = occ("a", T0 + 2 * DAY, description="Abstract: old", last_modified=stamp)
    h.poll([talk], now=T0)
    edited = talk.with_changes(description="Abstract: new")
    result = h.poll([edited], now=T0 + 15 * MIN)
    assert kinds(result) == ["update"]
    action = result.actions[0]
    assert action.previous == talk and action.occurrence == edited
    assert [(c.field, c.old, c.new) for c in action.changes] == [
        ("description", "Abstract: old", "Abstract: new")
    ]


def test_moved_time_with_the_same_uid_is_a_reschedule() -> None:
    h = FeedHistory()
    talk = occ("a", T0 + 2 * DAY)
    h.poll([talk], now=T0)
    moved = talk.with_changes(
        start=talk.start + timedelta(hours=2), end=talk.end + timedelta(hours=2)
    )
    result = h.poll([moved], now=T0 + 15 * MIN)
    assert kinds(result) == ["reschedule"]
    (change,) = result.actions[0].changes
    assert change.field == "time"
    assert change.old == "Wed 4 Mar 2026 07:00–08:00 (America/New_York)"
    assert change.new == "Wed 4 Mar 2026 09:00–10:00 (America/New_York)"


def test_tec_reschedule_that_changes_the_uid_is_one_reschedule_of_the_same_announcement() -> None:
    h = FeedHistory()
    other = tec_occ(200, T0 + 5 * DAY)
    talk = tec_occ(34174, T0 + 2 * DAY, summary="History of Philosophy")
    h.poll([talk, other], now=T0)
    original_id = h.stored(talk.key).announcement_id

    moved = tec_occ(34174, T0 + 3 * DAY, summary="History of Philosophy")
    assert moved.key != talk.key and moved.url == talk.url
    result = h.poll([moved, other], now=T0 + 15 * MIN)

    assert kinds(result) == ["reschedule"]
    action = result.actions[0]
    assert action.previous_key == talk.key
    assert action.occurrence == moved and action.previous == talk
    assert result.removed == (talk.key,)
    assert h.stored(moved.key).announcement_id == original_id
    assert h.stored(moved.key).state == EventState.ANNOUNCED
    assert talk.key not in {e.key for e in h.events}
    # The old key never comes back as "missing": later polls are quiet.
    for i in range(2, 6):
        assert h.poll([moved, other], now=T0 + i * 30 * MIN).actions == ()


def test_uid_change_pairs_by_post_id_when_the_url_changed_too() -> None:
    h = FeedHistory()
    talk = tec_occ(77, T0 + 2 * DAY, url="https://x.example/old-slug/")
    later = tec_occ(78, T0 + 6 * DAY)
    h.poll([talk, later], now=T0)
    moved = tec_occ(77, T0 + 4 * DAY, url="https://x.example/new-slug/")
    result = h.poll([moved, later], now=T0 + MIN)
    assert kinds(result) == ["reschedule"]
    assert result.actions[0].previous_key == talk.key
    assert [c.field for c in result.actions[0].changes] == ["time", "url"]


def test_ambiguous_uid_changes_are_not_paired() -> None:
    # Two new events share the vanished one's URL: no guessing, the new ones are announced.
    h = FeedHistory()
    url = "https://x.example/series/"
    a = occ("a-1", T0 + 2 * DAY, url=url)
    anchor = occ("z", T0 + 9 * DAY)
    h.poll([a, anchor], now=T0)
    b1 = occ("b-1", T0 + 3 * DAY, url=url)
    b2 = occ("b-2", T0 + 4 * DAY, url=url)
    result = h.poll([b1, b2, anchor], now=T0 + MIN)
    assert kinds(result) == ["announce", "announce"]
    assert all(x.previous_key is None for x in result.actions)
    assert h.stored("a-1").missing_count == 1


def test_room_change_is_an_update_listing_the_place() -> None:
    h = FeedHistory()
    talk = occ("a", T0 + 2 * DAY, location="Hackerman B17")
    h.poll([talk], now=T0)
    result = h.poll([talk.with_changes(location="Malone 228")], now=T0 + MIN)
    assert kinds(result) == ["update"]
    assert [(c.field, c.old, c.new) for c in result.actions[0].changes] == [
        ("place", "Hackerman B17", "Malone 228")
    ]


def test_status_cancelled_cancels_exactly_once_over_repolls() -> None:
    h = FeedHistory()
    talk = occ("a", T0 + 2 * DAY, status="CONFIRMED")
    h.poll([talk], now=T0)
    cancelled = talk.with_changes(status="CANCELLED")
    all_kinds = []
    for i in range(1, 5):
        all_kinds += kinds(h.poll([cancelled], now=T0 + i * 20 * MIN))
    assert all_kinds == ["cancel"]
    assert h.stored("a").state == EventState.CANCELLED


def test_vanished_future_event_needs_two_polls_thirty_minutes_apart() -> None:
    talk, anchor = occ("a", T0 + 2 * DAY), occ("z", T0 + 5 * DAY)

    quick = FeedHistory()
    quick.poll([talk, anchor], now=T0)
    assert quick.poll([anchor], now=T0 + MIN).actions == ()
    assert quick.stored("a").missing_count == 1
    assert quick.poll([anchor], now=T0 + 11 * MIN).actions == ()  # 2 polls, 10 min apart
    assert quick.stored("a").missing_count == 2

    slow = FeedHistory()
    slow.poll([talk, anchor], now=T0)
    assert slow.poll([anchor], now=T0 + MIN).actions == ()
    result = slow.poll([anchor], now=T0 + 31 * MIN)
    assert kinds(result) == ["cancel"]
    assert result.actions[0].key == talk.key
    assert slow.stored("a").state == EventState.CANCELLED
    assert slow.poll([anchor], now=T0 + 90 * MIN).actions == ()


def test_reappearing_event_resets_its_counters_and_posts_nothing() -> None:
    h = FeedHistory()
    talk, anchor = occ("a", T0 + 2 * DAY), occ("z", T0 + 5 * DAY)
    h.poll([talk, anchor], now=T0)
    h.poll([anchor], now=T0 + MIN)
    assert h.poll([talk, anchor], now=T0 + 40 * MIN).actions == ()
    assert h.stored("a").missing_count == 0 and h.stored("a").missing_since is None
    # A fresh absence starts counting from scratch: one miss is not enough.
    assert h.poll([anchor], now=T0 + 80 * MIN).actions == ()


def test_vanished_past_event_expires_silently() -> None:
    h = FeedHistory()
    talk, anchor = occ("a", T0 + 2 * DAY), occ("z", T0 + 20 * DAY)
    h.poll([talk, anchor], now=T0)
    after = talk.end + MIN  # type: ignore[operator]
    for i in range(3):
        assert h.poll([anchor], now=after + i * 40 * MIN).actions == ()
    assert h.stored("a").state == EventState.EXPIRED


def test_expired_rows_are_removed_after_the_retention_period() -> None:
    h = FeedHistory()
    talk, anchor = occ("a", T0 + 2 * DAY), occ("z", T0 + 90 * DAY)
    h.poll([talk, anchor], now=T0)
    h.poll([anchor], now=T0 + 3 * DAY)
    result = h.poll([anchor], now=T0 + 40 * DAY)
    assert result.removed == (talk.key,)
    assert {e.key for e in h.events} == {anchor.key}


def test_event_beyond_the_feeds_new_horizon_is_not_cancelled() -> None:
    # The Events Calendar exports the next 30 events: the tail falls off when new ones come in.
    h = FeedHistory()
    events = weekly(5)
    h.poll(events, now=T0)
    for i in range(1, 6):
        assert h.poll(events[:3], now=T0 + i * 40 * MIN).actions == ()
    assert all(h.stored(e.key).missing_count == 0 for e in events)
    assert h.stored(events[4].key).state == EventState.ANNOUNCED


def test_dtstamp_last_modified_and_sequence_churn_is_not_a_change() -> None:
    h = FeedHistory()
    talk = occ("a", T0 + 2 * DAY)
    h.poll([talk], now=T0)
    for i in range(1, 6):
        churned = talk.with_changes(last_modified=T0 + i * MIN, sequence=i)
        assert h.poll([churned], now=T0 + i * MIN).actions == ()


def test_mass_disappearance_is_held_as_suspect_and_recovers_without_reposts() -> None:
    h = FeedHistory()
    ten = weekly(10)
    assert kinds(h.poll(ten, now=T0)) == ["announce"] * 7  # the rest is beyond 7 days
    before = list(h.events)
    four = [ten[0], ten[1], ten[8], ten[9]]

    first = h.poll(four, now=T0 + MIN)
    assert first.suspect and first.actions == ()
    assert "6 of 10" in first.suspect_reason
    assert [(e.key, e.state, e.missing_count) for e in h.events] == [
        (e.key, e.state, e.missing_count) for e in before
    ]

    second = h.poll(four, now=T0 + 32 * MIN)
    assert second.suspect and second.actions == ()

    back = h.poll(ten, now=T0 + 64 * MIN)
    assert not back.suspect and back.actions == ()


def test_feed_suddenly_empty_is_suspect() -> None:
    h = FeedHistory()
    h.poll(weekly(5), now=T0)
    result = h.poll([], now=T0 + MIN)
    assert result.suspect and result.actions == ()
    assert len(h.events) == 5


def test_a_single_event_vanishing_is_not_a_mass_drop() -> None:
    h = FeedHistory()
    talk = occ("a", T0 + 2 * DAY)
    h.poll([talk], now=T0)
    result = h.poll([], now=T0 + MIN)
    assert not result.suspect
    assert h.stored("a").missing_count == 1


def test_uid_churn_on_every_download_posts_nothing_new() -> None:
    h = FeedHistory()
    base = weekly(6)
    h.poll(base, now=T0)
    churned = [o.with_changes(key=OccurrenceKey(o.key.uid + "-x")) for o in base]
    result = h.poll(churned, now=T0 + MIN)
    assert result.suspect and result.actions == ()


def test_event_beyond_the_announce_window_waits_then_is_announced() -> None:
    h = FeedHistory()
    far = occ("far", T0 + 10 * DAY, description="v1")
    assert h.poll([far], now=T0).actions == ()
    assert h.stored("far").state == EventState.PENDING
    # Edits while pending are just remembered ...
    edited = far.with_changes(description="v2")
    assert h.poll([edited], now=T0 + DAY).actions == ()
    # ... and the announcement carries the latest content once the event is 7 days out.
    result = h.poll([edited], now=T0 + 3 * DAY)
    assert kinds(result) == ["announce"]
    assert result.actions[0].occurrence.description == "v2"
    assert h.poll([edited], now=T0 + 4 * DAY).actions == ()


def test_pending_event_that_gets_cancelled_is_never_announced() -> None:
    h = FeedHistory()
    far = occ("far", T0 + 10 * DAY)
    h.poll([far], now=T0)
    gone = far.with_changes(status="CANCELLED")
    assert h.poll([gone], now=T0 + DAY).actions == ()
    assert h.poll([gone], now=T0 + 5 * DAY).actions == ()
    assert h.stored("far").state == EventState.CANCELLED


def test_silent_baseline_stores_the_window_and_announces_later_arrivals() -> None:
    h = FeedHistory()
    near, far = occ("near", T0 + DAY), occ("far", T0 + 12 * DAY)
    first = h.poll([near, far], now=T0, baseline="silent")
    assert first.actions == ()
    assert h.stored("near").state == EventState.SILENT
    assert h.stored("far").state == EventState.PENDING
    assert h.poll([near, far], now=T0 + DAY / 2).actions == ()
    result = h.poll([near, far], now=T0 + 6 * DAY)
    assert [(a.kind, a.key.uid) for a in result.actions] == [(ActionKind.ANNOUNCE, "far")]
    newcomer = occ("new", T0 + 7 * DAY)
    assert kinds(h.poll([far, newcomer], now=T0 + 6 * DAY + MIN)) == ["announce"]


def test_announce_baseline_announces_the_window_only() -> None:
    h = FeedHistory()
    result = h.poll([occ("near", T0 + DAY), occ("far", T0 + 12 * DAY)], now=T0, baseline="announce")
    assert [a.key.uid for a in result.actions] == ["near"]


def test_actions_come_oldest_first_and_the_budget_keeps_the_soonest() -> None:
    h = FeedHistory(policy=DiffPolicy(max_announcements_per_poll=3))
    events = [occ(f"e{i}", T0 + timedelta(hours=10 * (5 - i))) for i in range(5)]
    result = h.poll(events, now=T0)
    starts = [a.occurrence.start for a in result.actions]
    assert starts == sorted(starts) and len(starts) == 3
    assert starts == sorted(e.start for e in events)[:3]
    assert result.over_cap == (OccurrenceKey("e1"), OccurrenceKey("e0"))


def test_announcements_over_the_per_poll_budget_wait_for_later_polls() -> None:
    h = FeedHistory(policy=DiffPolicy(max_announcements_per_poll=10))
    events = [occ(f"r{i:02}", T0 + timedelta(hours=1 + i)) for i in range(25)]
    announced: list[str] = []
    for poll in range(4):
        result = h.poll(events, now=T0 + poll * MIN, baseline="announce" if poll == 0 else None)
        assert len(result.planned) <= 10
        assert result.counts.deferred == len(result.over_cap)
        announced += [p.action.key.uid for p in result.planned]
        for key in result.over_cap:
            assert h.stored(key).state is EventState.PENDING and h.stored(key).revision == 0
    assert announced == [f"r{i:02}" for i in range(25)]  # soonest first, each exactly once
    assert all(h.stored(f"r{i:02}").state is EventState.ANNOUNCED for i in range(25))


def test_the_budget_never_holds_back_changes_to_posted_announcements() -> None:
    h = FeedHistory(policy=DiffPolicy(max_announcements_per_poll=2))
    posted = [occ(f"p{i}", T0 + timedelta(hours=1 + i)) for i in range(2)]
    h.poll(posted, now=T0, baseline="announce")
    moved = [occ(f"p{i}", T0 + timedelta(hours=30 + i)) for i in range(2)]
    fresh = [occ(f"n{i}", T0 + timedelta(hours=5 + i)) for i in range(4)]
    result = h.poll([*moved, *fresh], now=T0 + MIN)
    assert sorted(kinds(result)) == ["announce", "announce", "reschedule", "reschedule"]
    assert len(result.over_cap) == 2


def test_a_rerun_of_the_same_diff_plans_the_same_outbox_keys() -> None:
    stored = FeedHistory()
    stored.poll([occ("a", T0 + DAY)], now=T0)
    parsed = feed_of([occ("a", T0 + DAY, location="Room 2"), occ("b", T0 + 2 * DAY)], now=T0)
    one = diff_feed("seminar", stored.events, parsed, now=T0 + MIN)
    two = diff_feed("seminar", stored.events, parsed, now=T0 + MIN)
    assert [p.idem_suffix for p in one.planned] == [p.idem_suffix for p in two.planned]
    assert len({p.idem_suffix for p in one.planned}) == 2


def test_reinstated_event_after_a_posted_cancellation_is_an_update() -> None:
    h = FeedHistory()
    talk = occ("a", T0 + 2 * DAY)
    h.poll([talk], now=T0)
    h.poll([talk.with_changes(status="CANCELLED")], now=T0 + MIN)
    result = h.poll([talk], now=T0 + 2 * MIN)
    assert kinds(result) == ["update"]
    assert ("status", "cancelled", "scheduled") in [
        (c.field, c.old, c.new) for c in result.actions[0].changes
    ]
