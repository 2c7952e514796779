"""Two (or more) shard processes of the real bot against one fake Discord, in-process.

Each process is the production bot (``ShardedSeminarBot``, or ``SeminarBot`` for an unsharded
one) with its own database and the shared injected clock; four servers, two on each of two
shards, follow the same calendar.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import discord
import pytest

from bench.feedgen import Talk
from bot.clock import FixedClock
from bot.config import Config, parse_config
from bot.core.shards import shard_of
from bot.discord_ui.client import SeminarBot
from bot.discord_ui.sharded import ShardedSeminarBot
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
    bots: dict[int, SeminarBot] = field(default_factory=dict)
    tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    #: Guild ids of the interactions each process received, by shard id.
    seen: dict[int, list[int | None]] = field(default_factory=dict)

    def config(self, shard_ids: list[int], database: str) -> Config:
        return parse_config(
            self.config_text(shard_ids, database), source=self.tmp_path / "config.toml"
        )

    def config_text(self, shard_ids: list[int] | None, database: str) -> str:
        """Every server's feed; the process takes those of its shards (None = unsharded)."""
        # Distinct names: the same calendar under the same name, first seen at the same
        # instant, would give two servers' events one announcement id.
        feeds = "".join(
            f"""
[[feeds]]
name = "seminar-{i}"
url = "{self.feeds.url}"
channel_id = {w.seminars.id}
guild_id = {w.guild.id}
baseline = "announce"
"""
            for i, w in enumerate(self.worlds)
        )
        shards = "" if shard_ids is None else f"shard_count = 2\nshard_ids = {shard_ids}"
        return f"""
[storage]
path = "{self.tmp_path / database}"
[discord]
api_base_url = "{self.fake.api_base_url}"
gateway_url = "{self.fake.gateway_url}"
{shards}
[defaults]
reminder_offsets = ["15m"]
{feeds}
"""

    async def start(self, shard_id: int, **options: Any) -> SeminarBot:
        config = self.config([shard_id], f"seminar-bot-shard{shard_id}.sqlite")
        bot = ShardBot(
            config, clock=self.clock, schedule_polls=False, guild_ready_timeout=0.05, **options
        )
        return await self.run(shard_id, bot)

    async def run(self, shard_id: int, bot: SeminarBot) -> SeminarBot:
        """Start a built bot under ``shard_id`` (its slot here) and wait until it is ready."""
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
