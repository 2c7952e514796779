"""Run the real SeminarBot against the fake Discord and a loopback feed, with a fixed clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.config import Config, parse_config
from bot.discord_ui.client import EXTENSIONS, SeminarBot
from bot.service.poller import PollOutcome
from bot.store import feeds as feed_store
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer
from tests.store import inspect_store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class TestBot(SeminarBot):
    """The production bot; only discord.py's 5 s pause before a re-IDENTIFY is skipped."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@dataclass
class Harness:
    fake: FakeDiscord
    feeds: FeedServer
    tmp_path: Path
    clock: FixedClock = field(default_factory=lambda: FixedClock(NOW))
    extra_config: str = ""
    #: Extra lines for the ``[discord]`` table (e.g. ``requests_per_second = 20``).
    discord_config: str = ""
    channel_id: int | None = None
    extensions: tuple[str, ...] = EXTENSIONS
    bot: TestBot | None = None
    _task: asyncio.Task[None] | None = None

    def config(self) -> Config:
        d = self.fake.defaults
        channel = self.channel_id or d.seminars.id
        text = f"""
[storage]
path = "{self.tmp_path / "bot.db"}"
[discord]
api_base_url = "{self.fake.api_base_url}"
gateway_url = "{self.fake.gateway_url}"
{self.discord_config}
[[feeds]]
name = "cs-seminar"
url = "{self.feeds.url}"
channel_id = {channel}
guild_id = {d.guild.id}
baseline = "announce"
{self.extra_config}
"""
        return parse_config(text, source=self.tmp_path / "config.toml")

    async def start(self, **options: Any) -> TestBot:
        bot = TestBot(
            self.config(),
            clock=self.clock,
            schedule_polls=False,
            extensions=self.extensions,
            guild_ready_timeout=0.05,
            **options,
        )
        self.bot = bot
        self._task = asyncio.create_task(bot.start(self.fake.token))
        waiter = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {self._task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        if self._task in done:
            self._task.result()
        assert waiter in done, "bot did not become ready"
        return bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.close()
            if self._task is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(self._task, 10)
        self.bot, self._task = None, None

    async def restart(self) -> TestBot:
        await self.stop()
        return await self.start()

    async def feed_id(self) -> int:
        assert self.bot is not None
        row = await self.bot.run_db(
            feed_store.get_feed_by_name, "cs-seminar", self.fake.defaults.guild.id
        )
        assert row is not None
        return int(row.id)

    async def poll(self) -> PollOutcome:
        """A scheduled poll, as the scheduler would run it (which also wakes delivery)."""
        assert self.bot is not None
        outcome = await self.bot.poll_feed(await self.feed_id(), force=True)
        assert outcome is not None
        return outcome

    async def deliver(self) -> None:
        """Drain the outbox now (the background worker may be draining too; they serialise)."""
        assert self.bot is not None and self.bot.delivery is not None
        await asyncio.wait_for(self.bot.delivery.recovered.wait(), 10)
        await self.bot.delivery.drain()

    async def outbox_states(self) -> list[str]:
        assert self.bot is not None
        rows = await self.bot.run_db(inspect_store.list_outbox)
        return [r.state for r in rows]


@contextlib.asynccontextmanager
async def harness(
    fake: FakeDiscord, feeds: FeedServer, tmp_path: Path, **kwargs: Any
) -> AsyncIterator[Harness]:
    h = Harness(fake=fake, feeds=feeds, tmp_path=tmp_path, **kwargs)
    try:
        yield h
    finally:
        await h.stop()


@pytest.fixture
async def bot_harness(
    fake_discord: FakeDiscord, feed_server: FeedServer, tmp_path: Path
) -> AsyncIterator[Harness]:
    async with harness(fake_discord, feed_server, tmp_path) as h:
        yield h


def embeds_of(messages: Iterable[Any]) -> list[dict[str, Any]]:
    return [e for m in messages for e in m.message.get("embeds", [])]
