"""Reminders end to end: feed → bot → fake Discord, time driven by the injected clock."""

from __future__ import annotations

from datetime import timedelta

from bench.feedgen import Talk
from tests.discord_ui.harness import NOW, Harness
from tests.discord_ui.reminder_helpers import (
    announce,
    click_remind,
    reminder_texts,
    reminders,
    tick_at,
)

TALK = Talk(
    post_id=7101,
    start=NOW + timedelta(days=2, hours=3),
    speaker="Grace Hopper",
    affiliation="Yale University",
    title="Compilers for everyone",
)


async def test_button_subscription_gets_one_dm_at_the_right_instant(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    reply = await click_remind(h, card, alice)
    assert "15m before" in reply and "Compilers for everyone" in reply

    due = TALK.start - timedelta(minutes=15)
    await tick_at(h, due - timedelta(seconds=1))
    assert reminder_texts(h.fake.dms(alice)) == []
    await tick_at(h, due)
    (dm,) = h.fake.dms(alice)
    assert "Reminder" in dm.message["content"] and "(late)" not in dm.message["content"]
    assert dm.payload["allowed_mentions"]["parse"] == []
    assert dm.payload["nonce"].startswith("rm")
    # Later passes and a second click do not double it.
    await tick_at(h, due + timedelta(minutes=1))
    assert len(h.fake.dms(alice)) == 1
    rows = [r for r in await reminders(h) if r.target_kind == "dm"]
    assert [r.state for r in rows] == ["sent"]
