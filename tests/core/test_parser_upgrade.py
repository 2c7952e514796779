"""A better reading of the same calendar text edits cards quietly and tells no one anything.

After an upgrade every cached parse is redone; events already announced then come back with a
speaker, a title or a cleaned room read from text that did not change. Attendees must not get a
"Room change" line in the channel or a "moved" DM for that.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.core.models import SeminarDetails
from bot.core.reminders import PlanEvent, PlanSubscription, StoredReminder, plan_feed
from bot.core.render import headline
from bot.core.seminar import extract_seminar
from tests.store.factories import T0, FeedHistory, occ

DAY = timedelta(days=1)
SUMMARY = "Ada Quill (Fernhill University)"
DESCRIPTION = (
    "Title: Counting points on curves\nby Ada Quill (Fernhill University) as part of Number "
    "Theory Web Seminar\n\nAbstract\nWe count points."
)
LOCATION = "Lecture held in MR 2."


def first_release_reading():
    """What the first release stored for this talk: no seminar fields, LOCATION as written."""
    return occ("rs-1", T0 + 2 * DAY, summary=SUMMARY, description=DESCRIPTION, location=LOCATION)


def upgraded(talk):
    return replace(talk, seminar=extract_seminar(talk.summary, talk.description, talk.location))


def test_the_new_reading_differs_in_speaker_title_and_room() -> None:
    new = upgraded(first_release_reading())
    assert new.seminar.speakers == ("Ada Quill",)
    assert new.title == "Counting points on curves"
    assert new.place == "MR 2"


def test_reread_event_is_at_most_a_quiet_card_edit() -> None:
    h = FeedHistory()
    old = first_release_reading()
    (announce,) = h.poll([old], now=T0).actions
    assert announce.kind.value == "announce"

    result = h.poll([upgraded(old)], now=T0 + timedelta(minutes=15))
    for action in result.actions:
        assert action.kind.value == "update"
        assert {c.field for c in action.changes}.isdisjoint({"place", "time", "status"})
        assert headline(action, lambda o: "when") == ""
    assert h.stored("rs-1").occurrence.seminar.speaker == "Ada Quill"


def test_a_real_room_change_after_the_upgrade_is_still_announced() -> None:
    h = FeedHistory()
    old = first_release_reading()
    h.poll([old], now=T0)
    h.poll([upgraded(old)], now=T0 + timedelta(minutes=15))
    moved = upgraded(replace(old, location="Lecture held in MR 3."))
    (action,) = h.poll([moved], now=T0 + timedelta(minutes=30)).actions
    assert [(c.field, c.old, c.new) for c in action.changes] == [("place", "MR 2", "MR 3")]
    assert (
        headline(action, lambda o: "when")
        == "Room change: Counting points on curves is now in MR 3"
    )


def _plan(event, stored):
    return plan_feed(
        feed_id=1, channel_id=None, offsets=(), feed_zone="UTC",
        events=[PlanEvent("a1", event)],
        subscriptions=[PlanSubscription(7, 99, "event", timedelta(hours=1), announcement_id="a1")],
        existing=stored, now=T0,
    )  # fmt: skip


def _row_for(event):
    (want,) = _plan(event, []).inserts
    return StoredReminder(1, want.idem_key, "a1", "pending", want.start_json, want.place,
                          want.due_at, want.target_kind, want.subscription_id, want.user_id)  # fmt: skip


def test_reread_room_sends_no_moved_dm_but_a_real_move_does() -> None:
    old = first_release_reading()
    row = _row_for(old)
    assert row.place == LOCATION and row.target_kind == "dm"

    quiet = _plan(upgraded(old), [row])
    assert not quiet.notices
    assert [u.desired.place for u in quiet.updates] == ["MR 2"]

    really_moved = _plan(upgraded(replace(old, location="Lecture held in MR 3.")), [row])
    assert [n.kind for n in really_moved.notices] == ["moved"]


def test_a_room_first_read_from_labels_is_not_a_move_either() -> None:
    old = occ("g-1", T0 + 2 * DAY, summary="Kolloquium",
              description="Referent: Karl Berg (TU Talheim)\nTitel: Gitter\nOrt: Raum 3.14")  # fmt: skip
    row = _row_for(old)
    assert row.place == ""
    new = upgraded(old)
    assert new.place == "Raum 3.14" and new.seminar == replace(new.seminar)
    assert not _plan(new, [row]).notices
    assert SeminarDetails.from_dict(new.seminar.to_dict()) == new.seminar
