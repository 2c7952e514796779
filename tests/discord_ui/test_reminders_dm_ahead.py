"""DM channels opened while the member asks: the reminder at its due time is one request."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bench.feedgen import Talk
from tests.discord_ui.harness import NOW, Harness
from tests.discord_ui.reminder_helpers import announce, click_remind, command, tick_at
from tests.fakediscord.records import RequestRecord

SOON = Talk(post_id=7601, start=NOW + timedelta(hours=6), title="Caches, briefly")
LATER = Talk(post_id=7602, start=NOW + timedelta(days=2), title="Membership, eventually")
OPEN_DM = "/users/@me/channels"


async def dm_prepared(h: Harness) -> None:
    """Wait until the bot has opened and remembered the member's DM channel."""
    assert h.bot is not None and h.bot.reminders is not None
    await asyncio.wait_for(h.bot.reminders.dm_prepared.wait(), timeout=5)


def since(h: Harness, mark: int) -> list[RequestRecord]:
    """Requests after ``mark``, leaving out the feed's own channel reminders."""
    seminars = f"/channels/{h.fake.defaults.seminars.id}/"
    return [r for r in h.fake.requests[mark:] if seminars not in r.path]


async def test_remind_me_opens_the_dm_at_the_click_and_the_due_send_is_one_request(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, SOON)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)
    await dm_prepared(h)
    opened = [r for r in h.fake.requests if r.path.endswith(OPEN_DM)]
    assert len(opened) == 1

    mark = len(h.fake.requests)
    await tick_at(h, SOON.start - timedelta(minutes=15))
    (dm,) = h.fake.dms(alice)
    assert "Reminder" in dm.message["content"]
    requests = since(h, mark)
    assert [(r.method, r.status) for r in requests] == [("POST", 200)]
    assert requests[0].path.endswith(f"/channels/{h.fake.dm_channels[alice.id].id}/messages")


async def test_remind_command_opens_the_dm_once_for_all_of_a_members_reminders(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, SOON)
    alice = h.fake.defaults.member
    aid = card.message["components"][0]["components"][0]["custom_id"].removeprefix("remind:")
    reply = await command(h, "remind", {"event": aid, "before": "1h"}, alice)
    assert "1h before" in reply
    await dm_prepared(h)
    assert h.bot is not None and h.bot.reminders is not None
    h.bot.reminders.dm_prepared.clear()
    await click_remind(h, card, alice)  # a second reminder: the channel is already known
    await dm_prepared(h)
    assert len([r for r in h.fake.requests if r.path.endswith(OPEN_DM)]) == 1

    for before in (timedelta(hours=1), timedelta(minutes=15)):
        mark = len(h.fake.requests)
        await tick_at(h, SOON.start - before)
        assert [(r.method, r.status) for r in since(h, mark)] == [("POST", 200)]
    assert len(h.fake.dms(alice)) == 2


async def test_subscribe_opens_the_dm_channel_ahead(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await announce(h, SOON)
    alice = h.fake.defaults.member
    reply = await command(h, "subscribe", {"keyword": "caches"}, alice)
    assert "Subscribed" in reply
    await dm_prepared(h)

    mark = len(h.fake.requests)
    await tick_at(h, SOON.start - timedelta(minutes=15))
    assert [(r.method, r.status) for r in since(h, mark)] == [("POST", 200)]
    assert len(h.fake.dms(alice)) == 1


async def test_channel_subscription_opens_no_dm(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    await announce(h, SOON)
    alice = h.fake.defaults.member
    reply = await command(h, "subscribe", {"keyword": "caches", "via": "channel"}, alice)
    assert "Subscribed" in reply
    await tick_at(h, SOON.start - timedelta(minutes=15))
    assert not [r for r in h.fake.requests if r.path.endswith(OPEN_DM)]


async def test_a_member_who_left_after_clicking_gets_no_dm(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, LATER)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)
    await dm_prepared(h)
    guild = h.fake.defaults.guild
    guild.members = [m for m in guild.members if m.user.id != alice.id]

    # Two days later the membership seen at the click is stale: it is checked, and only that.
    mark = len(h.fake.requests)
    await tick_at(h, LATER.start - timedelta(minutes=15))
    assert h.fake.dms(alice) == []
    requests = since(h, mark)
    assert [(r.method, r.status) for r in requests] == [("GET", 404)]
    assert f"/members/{alice.id}" in requests[0].path


async def test_a_command_used_since_the_click_counts_as_a_fresh_membership_check(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, LATER)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)
    await dm_prepared(h)
    # The click is two days old at the due time, but an hour before it she used a command.
    h.clock.set(LATER.start - timedelta(hours=1))
    assert "15m before" in await command(h, "subscriptions", {}, alice)

    mark = len(h.fake.requests)
    await tick_at(h, LATER.start - timedelta(minutes=15))
    assert [(r.method, r.status) for r in since(h, mark)] == [("POST", 200)]
    assert len(h.fake.dms(alice)) == 1
