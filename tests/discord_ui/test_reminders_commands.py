"""Slash-command subscriptions, and reminder instants across DST and for all-day events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.feedgen import Talk, render_feed
from tests.discord_ui.harness import NOW, Harness, harness
from tests.discord_ui.reminder_helpers import announce, command, reminder_texts, reminders, tick_at

NY = ZoneInfo("America/New_York")
TALK = Talk(
    post_id=7501, start=NOW + timedelta(days=2), title="Typed systems", speaker="Grace Hopper"
)


async def test_remind_command_with_personal_offset_and_clear_errors(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await announce(h, TALK)
    alice = h.fake.defaults.member
    iid = h.fake.inject_autocomplete("remind", {"event": "typed"}, focused="event", user=alice)
    record = await h.fake.wait_for_interaction_response(iid)
    (choice,) = record.response_data["choices"]
    assert "Typed systems" in choice["name"]

    assert "not a duration" in await command(
        h, "remind", {"event": choice["value"], "before": "soon"}, alice
    )
    assert "at most" in await command(
        h, "remind", {"event": choice["value"], "before": "30d"}, alice
    )
    assert "don't know" in await command(h, "remind", {"event": "nope", "before": "1h"}, alice)
    reply = await command(h, "remind", {"event": choice["value"], "before": "1h30m"}, alice)
    assert "1h30m before" in reply
    await tick_at(h, TALK.start - timedelta(hours=1, minutes=30))
    assert len(reminder_texts(h.fake.dms(alice))) == 1


async def test_subscribe_matches_events_that_appear_later_and_can_be_removed(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    await announce(h, TALK)
    alice = h.fake.defaults.member
    reply = await command(
        h, "subscribe", {"speaker": "hopper", "before": "2h", "via": "channel"}, alice
    )
    assert "Subscribed" in reply and "1 upcoming" in reply
    assert "Pick one" in await command(h, "subscribe", {"speaker": "x", "keyword": "y"}, alice)

    later = Talk(
        post_id=7502, start=NOW + timedelta(days=4), title="COBOL at 70", speaker="Grace Hopper"
    )
    other = Talk(post_id=7503, start=NOW + timedelta(days=4), title="Unrelated", speaker="Alan Kay")
    h.feeds.body = render_feed([TALK, later, other])
    await h.poll()
    mine = [r for r in await reminders(h) if r.target_kind == "mention"]
    assert sorted(r.due_at for r in mine) == [
        TALK.start - timedelta(hours=2),
        later.start - timedelta(hours=2),
    ]

    await tick_at(h, TALK.start - timedelta(hours=2))
    (ping,) = [
        m
        for m in h.fake.messages(h.fake.defaults.seminars)
        if f"<@{alice.id}>" in m.message["content"]
    ]
    assert [int(u) for u in ping.payload["allowed_mentions"]["users"]] == [alice.id]
    assert ping.payload["allowed_mentions"]["parse"] == []

    iid = h.fake.inject_command("subscriptions", {}, user=alice)
    listing = await h.fake.wait_for_interaction_response(iid)
    assert "speaker" in listing.response_data["content"]
    button = listing.response_data["components"][0]["components"][0]["custom_id"]
    click = h.fake.click_button(listing.original_message_id, button, user=alice)
    removed = await h.fake.wait_for_interaction_response(click)
    assert "Removed" in removed.response_data["content"]
    states = {
        r.state
        for r in await reminders(h)
        if r.target_kind == "mention" and r.due_at > h.clock.now()
    }
    assert states == {"cancelled"}


async def test_one_day_reminder_keeps_local_time_across_dst(
    fake_discord, feed_server, tmp_path
) -> None:
    # US DST starts Sun 14 Mar 2027: a Monday 10:00 talk's "1d" reminder is Sunday 10:00 EDT.
    start = datetime(2027, 3, 15, 10, 0, tzinfo=NY)
    talk = Talk(post_id=7504, start=start, title="Spring forward")
    async with harness(fake_discord, feed_server, tmp_path) as h:
        h.clock.set(datetime(2027, 3, 10, 12, 0, tzinfo=UTC))
        await h.start()
        await announce(h, talk)
        day_before = datetime(2027, 3, 14, 10, 0, tzinfo=NY)
        assert day_before.astimezone(UTC).hour == 14  # not 15: 23 real hours earlier
        await tick_at(h, day_before - timedelta(seconds=1))
        assert reminder_texts(h.fake.messages(h.fake.defaults.seminars)) == []
        await tick_at(h, day_before)
        assert len(reminder_texts(h.fake.messages(h.fake.defaults.seminars))) == 1
        await tick_at(h, start - timedelta(minutes=15))
        await tick_at(h, start)
        assert len(reminder_texts(h.fake.messages(h.fake.defaults.seminars))) == 2


ALL_DAY = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:open-day@example.edu\r\nDTSTAMP:20261201T000000Z\r\n"
    b"DTSTART;VALUE=DATE:20261204\r\nDTEND;VALUE=DATE:20261205\r\n"
    b"SUMMARY:Department open day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def test_all_day_event_is_reminded_relative_to_nine_local(
    fake_discord, feed_server, tmp_path
) -> None:
    async with harness(
        fake_discord, feed_server, tmp_path, extra_config='timezone = "America/New_York"'
    ) as h:
        await h.start()
        h.feeds.body = ALL_DAY
        await h.poll()
        await h.deliver()
        nine = datetime(2026, 12, 4, 9, 0, tzinfo=NY)
        rows = sorted(r.due_at for r in await reminders(h) if r.target_kind == "channel")
        assert rows == [nine - timedelta(days=1), nine - timedelta(minutes=15)]
        await tick_at(h, nine - timedelta(days=1))
        (text,) = reminder_texts(h.fake.messages(h.fake.defaults.seminars))
        assert "Department open day" in text and "all day" in text
