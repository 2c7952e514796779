"""Reminders at Discord's real limit: one pacer for all REST traffic, batches centred on their
due time, and memberships checked ahead so the due-time DM is the only request."""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.feedgen import Talk, render_feed
from bot.discord_ui.pacer import Pacer
from bot.service.subscriptions import remember_dm_channel
from bot.store import reminders as reminder_store
from bot.store.db import write_transaction
from bot.store.reminders import ReminderRow
from tests.discord_ui.harness import NOW, Harness
from tests.discord_ui.reminder_helpers import announce, click_remind, reminders, tick_at
from tests.fakediscord.records import RequestRecord
from tests.fakediscord.state import FakeMember, FakeUser

TALK = Talk(post_id=7701, start=NOW + timedelta(days=2), title="A popular talk")
DUE = TALK.start.astimezone(UTC) - timedelta(minutes=15)


def add_members(h: Harness, count: int) -> list[FakeUser]:
    users = []
    for i in range(count):
        user = FakeUser(950_000_000_000 + i, f"listener{i}")
        h.fake.users[user.id] = user
        h.fake.defaults.guild.members.append(FakeMember(user))
        users.append(user)
    return users


async def subscribe(h: Harness, card: Any, users: list[FakeUser], *, seen: datetime) -> None:
    """What each member's "Remind me" click leaves behind (a DM 15 minutes before, the DM
    channel opened, membership seen at ``seen``), written in one go."""
    assert h.bot is not None and h.bot.reminders is not None
    aid = card.message["components"][0]["components"][0]["custom_id"].removeprefix("remind:")
    feed_id = await h.feed_id()
    guild_id = h.fake.defaults.guild.id

    def insert(db: Any) -> None:
        stamp = NOW.isoformat()
        with write_transaction(db):
            db.conn.executemany(
                "INSERT INTO subscriptions (guild_id, user_id, kind, feed_id, announcement_id,"
                " offset_s, via, created_at, updated_at)"
                " VALUES (?, ?, 'event', ?, ?, 900, 'dm', ?, ?)",
                [[guild_id, u.id, feed_id, aid, stamp, stamp] for u in users],
            )

    await h.bot.run_db(insert)
    for u in users:
        data = await h.bot.http.start_private_message(u.id)
        await h.bot.run_db(remember_dm_channel, u.id, int(data["id"]), now=seen)
    await h.bot.reminders.plan_feed(feed_id)


def most_in_one_second(records: list[RequestRecord]) -> int:
    times = sorted(r.at for r in records)
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def dm_posts(h: Harness, records: list[RequestRecord]) -> list[RequestRecord]:
    dm_channels = {f"/channels/{c.id}/messages" for c in h.fake.dm_channels.values()}
    return [r for r in records if r.method == "POST" and r.path in dm_channels]


async def test_one_pacer_holds_an_announcement_flood_and_a_dm_batch_to_the_budget(
    fake_discord: Any, feed_server: Any, tmp_path: Any
) -> None:
    h = Harness(fake_discord, feed_server, tmp_path, discord_config="requests_per_second = 20")
    users = add_members(h, 20)
    try:
        await h.start()
        (card,) = await announce(h, TALK)
        await subscribe(h, card, users, seen=DUE - timedelta(hours=1))
        talks = [TALK]
        for batch in range(5):  # three at a time: each is posted as its own card
            talks += [
                Talk(post_id=7710 + 3 * batch + i, start=TALK.start + timedelta(hours=1 + i))
                for i in range(3)
            ]
            await announce(h, *talks)
        assert h.bot is not None and h.bot.reminders is not None
        # At the due minute every talk moves room (16 edits and 16 notes to post) while 20
        # DMs are due: together 3.6 seconds' worth of budget.
        h.clock.set(DUE)
        h.feeds.body = render_feed([replace(t, room="Hall B") for t in talks])
        mark = len(h.fake.requests)
        await asyncio.wait_for(asyncio.gather(h.poll(), h.bot.reminders.run_due()), 30)
        await asyncio.wait_for(h.deliver(), 30)
        flood = h.fake.requests[mark:]
        # Each member gets the reminder and a note that the room changed.
        assert len(dm_posts(h, flood)) == 2 * 20
        assert len([r for r in flood if r.method == "PATCH"]) == 16
        assert len(flood) >= 2 * 20 + 2 * 16
        # 20 per second, with a burst of 5 (and one for requests arriving bunched).
        assert most_in_one_second(flood) <= 20 + 5 + 1
        assert h.fake.rate_limited_count == 0
    finally:
        await h.stop()


class PacedClock:
    """The test's clock moves only when the shared pacer waits: no real time passes."""

    def __init__(self, h: Harness) -> None:
        self._h = h

    def timer(self) -> float:
        return self._h.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        self._h.clock.advance(seconds=seconds)
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("members", "rate", "early"),
    [(100, 5.0, 10.0), (100, 1.0, 30.0)],  # 100 / (2 × 5) = 10 s; 100 / (2 × 1) = 50 → 30 s
)
async def test_a_large_batch_starts_early_so_its_spread_is_centred_on_the_due_time(
    bot_harness: Harness, members: int, rate: float, early: float
) -> None:
    h = bot_harness
    users = add_members(h, members)
    paced = PacedClock(h)
    await h.start(rest_pacer=Pacer(rate, burst=1, timer=paced.timer, sleep=paced.sleep))
    (card,) = await announce(h, TALK)
    await subscribe(h, card, users, seen=DUE - timedelta(hours=1))
    assert h.bot is not None and h.bot.reminders is not None
    sent: list[tuple[ReminderRow, float]] = []
    h.bot.reminders.on_sent = lambda row: sent.append(
        (row, (h.clock.now() - row.due_at).total_seconds())
    )

    await tick_at(h, DUE - timedelta(seconds=early + 1))
    assert not [row for row, _ in sent if row.target_kind == "dm"]
    await tick_at(h, DUE - timedelta(seconds=early))

    dms = [offset for row, offset in sent if row.target_kind == "dm"]
    assert len(dms) == members
    assert min(dms) >= -early >= -30.0
    if early < 30.0:
        assert abs(statistics.median(dms)) <= 1.0
        assert max(dms) <= early + 1.0
    # The channel's own 15-minute reminder is never early, and goes within a batch's second.
    (channel,) = [o for row, o in sent if row.target_kind == "channel" and row.due_at == DUE]
    assert 0.0 <= channel <= 2.0


async def dm_prepared(h: Harness) -> None:
    """Wait until the click's DM channel and membership are noted (it runs after the reply)."""
    assert h.bot is not None and h.bot.reminders is not None
    await asyncio.wait_for(h.bot.reminders.dm_prepared.wait(), timeout=5)


async def check_ahead(h: Harness) -> None:
    """An hour before the DM, the worker's next pass checks membership in the background."""
    assert h.bot is not None and h.bot.reminders is not None
    await tick_at(h, DUE - timedelta(minutes=50))
    h.bot.reminders.wake()
    await h.fake.wait_for(lambda: any("/members/" in r.path for r in h.fake.requests))
    await asyncio.wait_for(h.bot.reminders.check_memberships_ahead(), 5)  # the one in flight


async def test_a_member_who_subscribed_two_days_ahead_costs_one_request_at_the_due_time(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)
    await dm_prepared(h)
    await check_ahead(h)
    checks = [r for r in h.fake.requests if "/members/" in r.path]
    assert [(r.method, r.status) for r in checks] == [("GET", 200)]

    mark = len(h.fake.requests)
    await tick_at(h, DUE)
    seminars = f"/channels/{h.fake.defaults.seminars.id}/"
    at_due = [r for r in h.fake.requests[mark:] if seminars not in r.path]
    assert [(r.method, r.status) for r in at_due] == [("POST", 200)]
    assert len(h.fake.dms(alice)) == 1


async def test_a_member_found_gone_an_hour_ahead_gets_no_dm_and_costs_nothing_at_the_due_time(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    await click_remind(h, card, alice)
    guild = h.fake.defaults.guild
    await dm_prepared(h)
    guild.members = [m for m in guild.members if m.user.id != alice.id]
    await check_ahead(h)
    assert h.bot is not None
    subs = await h.bot.run_db(reminder_store.list_subscriptions, alice.id, guild.id)
    assert {s.state for s in subs} == {"left"}

    mark = len(h.fake.requests)
    await tick_at(h, DUE)
    seminars = f"/channels/{h.fake.defaults.seminars.id}/"
    assert [r for r in h.fake.requests[mark:] if seminars not in r.path] == []
    assert h.fake.dms(alice) == []
    (dm,) = [r for r in await reminders(h) if r.target_kind == "dm"]
    assert (dm.state, dm.last_error) == ("cancelled", "left_guild")


async def test_due_reminders_do_not_wait_behind_a_backlog_of_edits(
    fake_discord: Any, feed_server: Any, tmp_path: Any
) -> None:
    h = Harness(fake_discord, feed_server, tmp_path, discord_config="requests_per_second = 10")
    users = add_members(h, 20)
    try:
        await h.start()
        (card,) = await announce(h, TALK)
        await subscribe(h, card, users, seen=DUE - timedelta(hours=1))
        others = []
        for batch in range(5):  # three at a time: each is posted as its own card
            others += [
                Talk(post_id=7730 + 3 * batch + i, start=TALK.start + timedelta(hours=1 + i))
                for i in range(3)
            ]
            await announce(h, TALK, *others)
        assert h.bot is not None and h.bot.reminders is not None
        # Fifteen cards to edit (a retitle: no notes, no DMs), 1.5 s of budget, already
        # going out when 20 reminders fall due.
        h.clock.set(DUE)
        h.feeds.body = render_feed([TALK, *(replace(t, title=t.title + "!") for t in others)])
        mark = len(h.fake.requests)
        await h.poll()
        await h.fake.wait_for(lambda: any(r.method == "PATCH" for r in h.fake.requests[mark:]))
        await asyncio.wait_for(h.bot.reminders.run_due(), 30)
        await asyncio.wait_for(h.deliver(), 30)
        seen = h.fake.requests[mark:]
        dms = [i for i, r in enumerate(seen) if r in dm_posts(h, seen)]
        edits = [i for i, r in enumerate(seen) if r.method == "PATCH"]
        assert (len(dms), len(edits)) == (20, 15)
        # Once the reminders queue, they go first: at most the edit already granted slips in.
        assert len([i for i in edits if dms[0] < i < dms[-1]]) <= 1
        assert edits[-1] > dms[-1]
    finally:
        await h.stop()


async def test_a_member_who_left_after_a_recent_click_is_caught_by_discords_refusal(
    bot_harness: Harness,
) -> None:
    h = bot_harness
    await h.start()
    (card,) = await announce(h, TALK)
    alice = h.fake.defaults.member
    h.clock.set(DUE - timedelta(hours=3))  # her click is recent enough to trust at the due time
    await click_remind(h, card, alice)
    await dm_prepared(h)
    guild = h.fake.defaults.guild
    guild.members = [m for m in guild.members if m.user.id != alice.id]

    mark = len(h.fake.requests)
    await tick_at(h, DUE)
    seminars = f"/channels/{h.fake.defaults.seminars.id}/"
    at_due = [r for r in h.fake.requests[mark:] if seminars not in r.path]
    # No server in common any more: Discord refuses the DM (50007) and her DMs stop.
    assert [(r.method, r.status) for r in at_due] == [("POST", 403)]
    assert h.fake.dms(alice) == []
    assert h.bot is not None
    subs = await h.bot.run_db(reminder_store.list_subscriptions, alice.id, guild.id)
    assert {s.state for s in subs} == {"dm_disabled"}
