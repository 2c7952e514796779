"""Two shard processes against one fake Discord: every server served by exactly one of them.

Each process is the real bot on discord.py's AutoShardedBot with its own database, started
in-process (as the harness does) with an injected clock. Four servers, two on each shard,
follow the same calendar; each gets its announcements, command answers and channel
reminders once, from the process that owns its shard, also across a restart of one process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import discord
import pytest

from bench.feedgen import Talk, render_feed
from bot.clock import FixedClock
from bot.config import Config, parse_config
from bot.core.shards import shard_of
from bot.discord_ui.sharded import ShardedSeminarBot
from bot.errors import ExitCode
from bot.service.health import check_health
from bot.service.sharding import ShardLayoutMismatch
from bot.store import feeds as feed_store
from tests.discord_ui.harness import NOW, embeds_of
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import DefaultWorld
from tests.feedserver import FeedServer

TALKS = [
    Talk(post_id=9100 + i, start=NOW + timedelta(days=1 + i), title=f"Talk {i}") for i in range(2)
]
LATE_TALK = Talk(post_id=9200, start=NOW + timedelta(days=5), title="Late addition")


class ShardBot(ShardedSeminarBot):
    """The production sharded bot; only discord.py's 5 s pause before an IDENTIFY is skipped."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@dataclass
class Fleet:
    fake: FakeDiscord
    feeds: FeedServer
    tmp_path: Path
    worlds: list[DefaultWorld]
    clock: FixedClock = field(default_factory=lambda: FixedClock(NOW))
    bots: dict[int, ShardBot] = field(default_factory=dict)
    tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    #: Guild ids of the interactions each process received, by shard id.
    seen: dict[int, list[int | None]] = field(default_factory=dict)

    def config(self, shard_ids: list[int], database: str) -> Config:
        feeds = "".join(
            f"""
[[feeds]]
name = "seminar"
url = "{self.feeds.url}"
channel_id = {w.seminars.id}
guild_id = {w.guild.id}
baseline = "announce"
"""
            for w in self.worlds
        )
        text = f"""
[storage]
path = "{self.tmp_path / database}"
[discord]
api_base_url = "{self.fake.api_base_url}"
gateway_url = "{self.fake.gateway_url}"
shard_count = 2
shard_ids = {shard_ids}
[defaults]
reminder_offsets = ["15m"]
{feeds}
"""
        return parse_config(text, source=self.tmp_path / "config.toml")

    async def start(self, shard_id: int, **options: Any) -> ShardBot:
        config = self.config([shard_id], f"seminar-bot-shard{shard_id}.sqlite")
        bot = ShardBot(
            config, clock=self.clock, schedule_polls=False, guild_ready_timeout=0.05, **options
        )
        seen = self.seen.setdefault(shard_id, [])

        async def record(interaction: discord.Interaction) -> None:
            seen.append(interaction.guild_id)

        bot.add_listener(record, "on_interaction")
        task = asyncio.create_task(bot.start(self.fake.token))
        waiter = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({task, waiter}, timeout=10, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
        assert waiter in done, f"shard {shard_id} did not become ready"
        self.bots[shard_id], self.tasks[shard_id] = bot, task
        return bot

    async def stop(self, shard_id: int) -> None:
        bot, task = self.bots.pop(shard_id), self.tasks.pop(shard_id)
        await bot.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 10)

    async def poll_and_deliver(self, shard_id: int) -> None:
        """Every feed in the process's own database, polled as the scheduler would."""
        bot = self.bots[shard_id]
        for row in await bot.run_db(feed_store.list_feeds):
            await bot.poll_feed(row.id, force=True)
        assert bot.delivery is not None
        await asyncio.wait_for(bot.delivery.recovered.wait(), 10)
        await bot.delivery.drain()

    async def tick_reminders(self, shard_id: int) -> None:
        reminders = self.bots[shard_id].reminders
        assert reminders is not None
        await reminders.run_due()

    def titles(self, world: DefaultWorld) -> list[str]:
        """Announcement cards (reminders are posts with a "Reminder" line, not cards)."""
        posts = self.fake.messages(world.seminars)
        cards = [m for m in posts if "Reminder" not in str(m.message.get("content", ""))]
        return [str(e["title"]) for e in embeds_of(cards)]

    def reminder_posts(self, world: DefaultWorld) -> list[str]:
        return [
            str(m.message.get("content", ""))
            for m in self.fake.messages(world.seminars)
            if "Reminder" in str(m.message.get("content", ""))
        ]


@pytest.fixture
async def fleet(
    fake_discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path
) -> AsyncIterator[Fleet]:
    worlds = [fake_discord.add_world(f"University {i}", shard=(i % 2, 2)) for i in range(4)]
    fleet = Fleet(fake_discord, feed_server, tmp_path, worlds)
    try:
        yield fleet
    finally:
        for shard_id in list(fleet.bots):
            await fleet.stop(shard_id)


def on_shard(fleet: Fleet, shard_id: int) -> list[DefaultWorld]:
    return [w for w in fleet.worlds if shard_of(w.guild.id, 2) == shard_id]


async def ask_upcoming(fleet: Fleet, world: DefaultWorld) -> int:
    return fleet.fake.inject_command(
        "seminars upcoming", {}, user=world.member, channel=world.seminars, guild=world.guild
    )


async def test_two_shard_processes_serve_every_server_exactly_once(fleet: Fleet) -> None:
    fake = fleet.fake
    fleet.feeds.body = render_feed(TALKS)
    await fleet.start(0)
    await fleet.start(1)
    # Commands are synced once, globally, by the process that owns shard 0.
    assert fake.sync_count == 1 and fake.synced_commands() is not None
    for shard_id in (0, 1):
        rows = await fleet.bots[shard_id].run_db(feed_store.list_feeds)
        assert sorted(r.guild_id for r in rows) == sorted(
            w.guild.id for w in on_shard(fleet, shard_id)
        ), "each process stores only the servers of its shard"
        await fleet.poll_and_deliver(shard_id)
    for world in fleet.worlds:
        assert sorted(fleet.titles(world)) == ["Talk 0", "Talk 1"], world.guild.name

    # Commands reach only the owning process and are answered once.
    for world in fleet.worlds:
        record = await fake.wait_for_interaction_response(await ask_upcoming(fleet, world))
        assert not record.rejected
        assert "Talk 0" in str(record.response_data)
    for shard_id in (0, 1):
        assert sorted(fleet.seen[shard_id]) == sorted(w.guild.id for w in on_shard(fleet, shard_id))

    # Channel reminders: one per talk per server, sent by the owner only.
    fleet.clock.set(TALKS[0].start - timedelta(minutes=15))
    for shard_id in (0, 1):
        await fleet.tick_reminders(shard_id)
    for world in fleet.worlds:
        assert len(fleet.reminder_posts(world)) == 1, world.guild.name

    # Shard 1 goes down: its servers' news waits for it; shard 0's servers are served.
    await fleet.stop(1)
    fleet.feeds.body = render_feed([*TALKS, LATE_TALK])
    await fleet.poll_and_deliver(0)
    missed = await ask_upcoming(fleet, on_shard(fleet, 1)[0])
    for world in on_shard(fleet, 0):
        assert fleet.titles(world).count("Late addition") == 1
    for world in on_shard(fleet, 1):
        assert "Late addition" not in fleet.titles(world)
    assert fake.interaction(missed).response is None, "shard 0 must not answer for shard 1"

    # Back up: delivered once, nothing old repeated, commands answered again.
    await fleet.start(1)
    await fleet.poll_and_deliver(1)
    for world in fleet.worlds:
        assert Counter(fleet.titles(world)) == {"Talk 0": 1, "Talk 1": 1, "Late addition": 1}
        assert len(fleet.reminder_posts(world)) == 1
    record = await fake.wait_for_interaction_response(
        await ask_upcoming(fleet, on_shard(fleet, 1)[1])
    )
    assert "Late addition" in str(record.response_data)
    assert fake.sync_count == 1
    assert fake.interaction(missed).response is None


async def test_a_database_of_another_shard_layout_is_refused(fleet: Fleet) -> None:
    await fleet.start(0)
    await fleet.stop(0)
    config = fleet.config([1], "seminar-bot-shard0.sqlite")
    bot = ShardBot(config, clock=fleet.clock, schedule_polls=False)
    try:
        with pytest.raises(ShardLayoutMismatch) as refusal:
            await bot.login(fleet.fake.token)
    finally:
        await bot.close()
    message = str(refusal.value)
    assert refusal.value.exit_code == ExitCode.CONFIG
    assert "seminar-bot-shard0.sqlite holds the servers of shard(s) 0 of 2" in message
    assert "configure shard(s) 1 of 2" in message and "seminar-bot import" in message


async def test_health_reports_each_shard_and_fails_when_one_is_down(
    fleet: Fleet, tmp_path: Path
) -> None:
    fake = fleet.fake
    config = fleet.config([0, 1], "both.sqlite")
    health = tmp_path / "health.json"
    bot = ShardBot(
        config,
        clock=fleet.clock,
        schedule_polls=False,
        guild_ready_timeout=0.05,
        health_file=health,
    )
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        await fake.wait_for(lambda: fake.gateway.shard_ready(0) and fake.gateway.shard_ready(1))
        await bot.write_health()
        now = fleet.clock.now()
        assert check_health(health, now=now) == (True, "ok")
        fake.gateway.refuse_connections = True
        fake.drop_gateway(shard_id=1)
        # discord.py reports the disconnect before it tries (and fails) to reconnect.
        await fake.wait_for(lambda: fake.gateway.refused_count >= 1, timeout=10)
        assert not bot.gateway_connected
        await bot.write_health()
        ok, why = check_health(health, now=now)
        assert not ok and why.startswith("shard 1 is not connected to the Discord gateway")
        assert fake.gateway.shard_ready(0)
    finally:
        fake.gateway.refuse_connections = False
        await bot.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
