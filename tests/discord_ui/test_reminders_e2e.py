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


async def test_channel_reminders_at_feed_offsets_without_pings(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await announce(h, TALK)
    seminars = h.fake.defaults.seminars
    await tick_at(h, TALK.start - timedelta(days=1))
    await tick_at(h, TALK.start - timedelta(hours=3))
    await tick_at(h, TALK.start - timedelta(minutes=15))
    await tick_at(h, TALK.start - timedelta(minutes=14))
    texts = reminder_texts(h.fake.messages(seminars))
    assert len(texts) == 2, texts
    reminders_sent = [m for m in h.fake.messages(seminars) if "Reminder" in m.message["content"]]
    assert all(m.payload["allowed_mentions"]["parse"] == [] for m in reminders_sent)
    assert all(m.message["mention_roles"] == [] for m in reminders_sent)
    assert [r.offset for r in await reminders(h) if r.target_kind == "channel"] == [
        timedelta(days=1),
        timedelta(minutes=15),
    ]


async def test_channel_reminder_mentions_the_configured_role_only(
    fake_discord, feed_server, tmp_path
) -> None:
    from tests.discord_ui.harness import harness

    role = fake_discord.defaults.seminar_role
    extra = f'mention_role_id = {role.id}\nreminder_offsets = ["30m"]'
    async with harness(fake_discord, feed_server, tmp_path, extra_config=extra) as h:
        await h.start()
        await announce(h, TALK)
        await tick_at(h, TALK.start - timedelta(minutes=30))
        (reminder,) = [
            m
            for m in h.fake.messages(h.fake.defaults.seminars)
            if "Reminder" in m.message["content"]
        ]
        assert reminder.message["content"].startswith(f"<@&{role.id}>")
        allowed = reminder.payload["allowed_mentions"]
        assert allowed["parse"] == [] and [int(r) for r in allowed["roles"]] == [role.id]
        assert reminder.message["mention_roles"] == [str(role.id)]
        assert reminder.message["mention_everyone"] is False
