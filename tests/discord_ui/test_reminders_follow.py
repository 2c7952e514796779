"""Reminders follow their event: a reschedule moves them and DMs once; a cancel stops them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bench.feedgen import Talk, render_feed
from tests.discord_ui.harness import NOW, Harness
from tests.discord_ui.reminder_helpers import (
    announce,
    click_remind,
    reminder_texts,
    reminders,
    tick_at,
)

TALK = Talk(post_id=7201, start=NOW + timedelta(days=2, hours=3), title="Moving target")


async def test_reschedule_moves_pending_reminders_and_dms_the_change_once(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)

    moved = TALK.moved(TALK.start + timedelta(hours=2))  # the UID changes (Events Calendar)
    h.feeds.body = render_feed([moved])
    assert [a.kind.value for a in (await h.poll()).actions] == ["reschedule"]
    await tick_at(h, NOW + timedelta(minutes=1))
    (notice,) = h.fake.dms(alice)
    assert "changed" in notice.message["content"]
    when = notice.message["embeds"][0]["fields"][0]
    assert when["name"] == "When"
    assert f"<t:{int(TALK.start.timestamp())}:F>" in when["value"]
    assert f"<t:{int(moved.start.timestamp())}:F>" in when["value"]

    # Polling the same feed again, or an edit that changes neither time nor place: no DM.
    h.feeds.body = render_feed([replace(moved, abstract="Rewritten abstract.")])
    await h.poll()
    await tick_at(h, NOW + timedelta(minutes=2))
    assert len(h.fake.dms(alice)) == 1

    dm_rows = [r for r in await reminders(h) if r.kind == "reminder" and r.target_kind == "dm"]
    assert [r.due_at for r in dm_rows] == [moved.start - timedelta(minutes=15)]
    await tick_at(h, TALK.start - timedelta(minutes=15))  # the old time: nothing
    assert len(h.fake.dms(alice)) == 1
    await tick_at(h, moved.start - timedelta(minutes=15))
    assert len(reminder_texts(h.fake.dms(alice))) == 1
    channel = reminder_texts(h.fake.messages(h.fake.defaults.seminars))
    assert len(channel) == 2  # 1d and 15m, both at the new time only


async def test_place_change_is_worth_one_dm(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)
    h.feeds.body = render_feed([replace(TALK, room="Malone Hall 228")])
    await h.poll()
    await tick_at(h, NOW + timedelta(minutes=1))
    (notice,) = h.fake.dms(alice)
    (where,) = notice.message["embeds"][0]["fields"]
    assert where["name"] == "Where" and "Malone Hall 228" in where["value"]


async def test_cancel_stops_reminders_and_tells_subscribers_once(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)
    h.feeds.body = render_feed([replace(TALK, status="CANCELLED")])
    assert [a.kind.value for a in (await h.poll()).actions] == ["cancel"]
    await h.poll()
    await tick_at(h, NOW + timedelta(minutes=1))
    (notice,) = h.fake.dms(alice)
    assert "cancelled" in notice.message["content"]
    for at in (TALK.start - timedelta(days=1), TALK.start - timedelta(minutes=15)):
        await tick_at(h, at)
    assert len(h.fake.dms(alice)) == 1
    assert reminder_texts(h.fake.messages(h.fake.defaults.seminars)) == []
    states = {r.state for r in await reminders(h) if r.kind == "reminder"}
    assert states == {"cancelled"}
