"""Restarts before, during and after a due time (fault matrix row 31): late vs missed, no doubles."""

from __future__ import annotations

from datetime import timedelta

from bench.feedgen import Talk
from bot.store import reminders as reminder_store
from tests.discord_ui.harness import NOW, Harness
from tests.discord_ui.reminder_helpers import announce, command, reminder_texts, reminders, tick_at

TALK = Talk(post_id=7301, start=NOW + timedelta(days=2), title="Restart-proof talk")


async def subscribe(h: Harness, before: str) -> None:
    (card,) = await announce(h, TALK)
    aid = card.message["components"][0]["components"][0]["custom_id"].removeprefix("remind:")
    reply = await command(h, "remind", {"event": aid, "before": before}, h.fake.defaults.member)
    assert "Done" in reply, reply


async def dm_rows(h: Harness) -> list[reminder_store.ReminderRow]:
    return [r for r in await reminders(h) if r.target_kind == "dm"]


async def test_restart_before_the_due_time_sends_on_time_once(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await subscribe(h, "30m")
    await h.stop()
    h.clock.set(TALK.start - timedelta(minutes=31))
    await h.start()
    await tick_at(h, TALK.start - timedelta(minutes=30))
    await tick_at(h, TALK.start - timedelta(minutes=29))
    (dm,) = h.fake.dms(h.fake.defaults.member)
    assert "(late)" not in dm.message["content"]


async def test_downtime_past_due_sends_one_labelled_late_reminder(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await subscribe(h, "30m")
    await h.stop()
    # Row 31: due 10 minutes ago, the event starts in 20 minutes → one late send.
    h.clock.set(TALK.start - timedelta(minutes=20))
    await h.start()
    await tick_at(h, h.clock.now())
    await h.restart()
    await tick_at(h, h.clock.now() + timedelta(minutes=1))
    (dm,) = h.fake.dms(h.fake.defaults.member)
    assert dm.message["content"].startswith("⏰ (late) Reminder")
    assert "late" in dm.message["embeds"][0]["footer"]["text"]
    (row,) = await dm_rows(h)
    assert row.state == "sent" and row.late


async def test_downtime_past_the_event_records_missed_and_sends_nothing(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    await subscribe(h, "1h")
    await h.stop()
    # Row 31: due 3 hours ago and the event is over → missed, 0 sends, the reason kept.
    h.clock.set(TALK.start + timedelta(hours=2))
    await h.start()
    await tick_at(h, h.clock.now())
    assert h.fake.dms(h.fake.defaults.member) == []
    assert reminder_texts(h.fake.messages(h.fake.defaults.seminars)) == []
    (row,) = await dm_rows(h)
    assert row.state == "missed" and row.last_error and "too late" in row.last_error
    channel_states = {r.state for r in await reminders(h) if r.target_kind == "channel"}
    assert channel_states == {"missed"}


async def test_crash_after_the_post_before_the_commit_does_not_double(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await subscribe(h, "30m")
    assert h.bot is not None
    worker = h.bot.reminders
    h.clock.set(TALK.start - timedelta(minutes=30))
    (row,) = await dm_rows(h)
    # The previous run claimed the row and its POST reached Discord, then the process died.
    claimed = await h.bot.run_db(reminder_store.claim, row.id, now=h.clock.now())
    channel = await worker._dm_channel(h.fake.defaults.member.id)
    await channel.send(content="⏰ Reminder: Restart-proof talk", nonce=claimed.nonce)
    await h.stop()
    await h.start()
    await tick_at(h, h.clock.now())
    assert len(h.fake.dms(h.fake.defaults.member)) == 1
    (row,) = await dm_rows(h)
    assert row.state == "sent"
