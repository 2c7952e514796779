"""Discord-side faults for reminders: DMs closed (row 28), members who left, APScheduler
misfires (row 32) and a 1,000-subscriber burst paced without a 429 storm."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from bench.feedgen import Talk
from bot.discord_ui.reminder_worker import Pacer
from bot.store import reminders as reminder_store
from bot.store.db import write_transaction
from tests.discord_ui.harness import NOW, Harness
from tests.discord_ui.reminder_helpers import announce, click_remind, reminders, tick_at
from tests.fakediscord.state import FakeMember, FakeUser

TALK = Talk(post_id=7401, start=NOW + timedelta(days=2), title="Fault-tolerant talk")
LATER = Talk(post_id=7402, start=NOW + timedelta(days=3), title="The sequel")


def dm_posts(h: Harness) -> list[object]:
    return [
        r
        for r in h.fake.requests
        if r.method == "POST" and r.path.endswith("/messages") and r.status == 403
    ]


async def test_dm_closed_flags_the_subscription_once_and_hints_once(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    cards = await announce(h, TALK, LATER)
    alice = h.fake.defaults.member
    for card in cards:
        await click_remind(h, card, alice)
    h.fake.set_dms_open(alice, False)

    await tick_at(h, TALK.start - timedelta(minutes=15))
    await tick_at(h, LATER.start - timedelta(minutes=15))
    await tick_at(h, LATER.start - timedelta(minutes=14))
    # Row 28: one attempt, the flag set, no repeats (the second event's DM is not even tried).
    assert len(dm_posts(h)) == 1
    assert h.bot is not None
    subs = await h.bot.run_db(reminder_store.list_subscriptions, alice.id, h.fake.defaults.guild.id)
    assert {s.state for s in subs} == {"dm_disabled"}
    states = sorted(r.state for r in await reminders(h) if r.target_kind == "dm")
    assert states == ["cancelled", "failed"]

    # The next command shows the hint once, ephemerally; the one after does not.
    for expected in (1, 0):
        iid = h.fake.inject_command("subscriptions", {}, user=alice)
        await h.fake.wait_for_interaction_response(iid)
        if expected:
            await h.fake.wait_for(lambda iid=iid: bool(h.fake.interaction(iid).followup_ids))
        followups = [h.fake.message(m) for m in h.fake.interaction(iid).followup_ids]
        assert len(followups) == expected
        assert all(f.ephemeral and "DMs are closed" in f.message["content"] for f in followups)


async def test_member_who_left_gets_no_more_dms(bot_harness: Harness) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)
    guild = h.fake.defaults.guild
    guild.members = [m for m in guild.members if m.user.id != alice.id]
    # Two days after her last interaction the bot checks membership before DMing.
    await tick_at(h, TALK.start - timedelta(minutes=15))
    assert h.fake.dms(alice) == []
    member_checks = [r for r in h.fake.requests if "/members/" in r.path]
    assert [r.status for r in member_checks] == [404]
    assert h.bot is not None
    subs = await h.bot.run_db(reminder_store.list_subscriptions, alice.id, guild.id)
    assert {s.state for s in subs} == {"left"}


async def test_misfired_ticks_coalesce_and_every_due_row_is_sent_once(
    bot_harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = bot_harness
    await h.start()
    cards = await announce(h, TALK)
    alice = h.fake.defaults.member
    await click_remind(h, cards[0], alice)
    assert h.bot is not None
    worker = h.bot.reminders
    scheduler = worker._scheduler
    scheduler.reschedule_job("reminders:tick", trigger=IntervalTrigger(seconds=0.2))
    h.clock.set(TALK.start - timedelta(minutes=15))
    before = worker.ticks
    caplog.set_level(logging.WARNING, logger="apscheduler")
    # Row 32: the loop is blocked for a while (five tick periods and more); ticks pile up.
    time.sleep(1.5)  # noqa: ASYNC251 - the fault itself: a blocked event loop
    await h.fake.wait_for(lambda: len(h.fake.dms(alice)) == 1 and worker.ticks > before, timeout=5)
    await asyncio.wait_for(worker.run_due(), 5)
    assert len(h.fake.dms(alice)) == 1
    assert worker.ticks - before <= 3  # coalesced, not one per missed period
    assert not [r for r in caplog.records if "missed" in r.getMessage()]
    # The 1d channel reminder went out late (the clock jumped), the 15m one on time: once each.
    channel = [r for r in await reminders(h) if r.target_kind == "channel"]
    assert sorted((r.state, r.late) for r in channel) == [("sent", False), ("sent", True)]
    texts = [
        m for m in h.fake.messages(h.fake.defaults.seminars) if "Reminder" in m.message["content"]
    ]
    assert len(texts) == 2


async def test_a_thousand_subscribers_are_all_reminded_without_429s(bot_harness: Harness) -> None:
    h = bot_harness
    h.fake.enable_channel_rate_limit(limit=5, per=5.0)
    guild = h.fake.defaults.guild
    users = []
    for i in range(1000):
        user = FakeUser(900_000_000_000 + i, f"student{i}")
        h.fake.users[user.id] = user
        guild.members.append(FakeMember(user))
        users.append(user)
    await h.start()
    (card,) = await announce(h, TALK)
    aid = card.message["components"][0]["components"][0]["custom_id"].removeprefix("remind:")
    assert h.bot is not None
    feed_id = await h.feed_id()

    def subscribe_all(db: Any) -> None:
        # Set up in one transaction (1,000 clicks are not what this test is about).
        stamp = NOW.isoformat()
        with write_transaction(db):
            db.conn.executemany(
                "INSERT INTO subscriptions (guild_id, user_id, kind, feed_id, announcement_id,"
                " offset_s, via, created_at, updated_at) VALUES (?, ?, 'event', ?, ?, 900, 'dm', ?, ?)",
                [[guild.id, u.id, feed_id, aid, stamp, stamp] for u in users],
            )
            db.conn.executemany(
                "INSERT INTO reminder_users (user_id, member_seen_at) VALUES (?, ?)",
                [[u.id, stamp] for u in users],
            )

    await h.bot.run_db(subscribe_all)
    worker = h.bot.reminders
    await worker.plan_feed(feed_id)
    rate = 400.0
    worker.pacer = Pacer(rate)
    started = time.monotonic()
    # Everyone due in the same minute.
    await tick_at(h, TALK.start - timedelta(minutes=15))
    elapsed = time.monotonic() - started
    sent = [r for r in await reminders(h) if r.target_kind == "dm" and r.state == "sent"]
    assert len(sent) == 1000
    assert all(len(h.fake.dms(u)) == 1 for u in users[::97])
    assert h.fake.rate_limited_count == 0
    # Paced: 2 requests per first-time DM (open + send) at no more than `rate` per second.
    assert elapsed >= (2000 - 5) / rate * 0.95
