"""Two shard processes against one fake Discord: every server served by exactly one of them.

Each process is the real bot on discord.py's AutoShardedBot with its own database, started
in-process (as the harness does) with an injected clock. Four servers, two on each shard,
follow the same calendar; each gets its announcements, command answers and channel
reminders once, from the process that owns its shard, also across a restart of one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.feedgen import render_feed
from bot.app import serve
from bot.errors import ExitCode
from bot.service.health import check_health
from bot.service.sharding import ShardLayoutMismatch
from bot.store import feeds as feed_store
from tests.discord_ui.harness import NOW
from tests.discord_ui.shard_fleet import (
    LATE_TALK,
    TALKS,
    Fleet,
    ShardBot,
    ask_upcoming,
    on_shard,
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

    # Shard 1 goes down: its servers' news and reminders wait for it; shard 0's are served.
    await fleet.stop(1)
    fleet.feeds.body = render_feed([*TALKS, LATE_TALK])
    await fleet.poll_and_deliver(0)
    fleet.clock.set(TALKS[1].start - timedelta(minutes=15))
    await fleet.tick_reminders(0)
    missed = await ask_upcoming(fleet, on_shard(fleet, 1)[0])
    for world in on_shard(fleet, 0):
        assert fleet.titles(world).count("Late addition") == 1
        assert len(fleet.reminder_posts(world)) == 2
    for world in on_shard(fleet, 1):
        assert "Late addition" not in fleet.titles(world)
        assert len(fleet.reminder_posts(world)) == 1
    # Discord gives an interaction to the shard of its server only: no one answers it.
    assert fake.interaction(missed).response is None, "shard 0 must not answer for shard 1"

    # Back up: delivered once, nothing old repeated, commands answered again.
    await fleet.start(1)
    await fleet.poll_and_deliver(1)
    await fleet.tick_reminders(1)
    for shard_id in (0, 1):  # another pass everywhere sends nothing more
        await fleet.poll_and_deliver(shard_id)
        await fleet.tick_reminders(shard_id)
    for world in fleet.worlds:
        assert Counter(fleet.titles(world)) == {"Talk 0": 1, "Talk 1": 1, "Late addition": 1}
        assert len(fleet.reminder_posts(world)) == 2, world.guild.name
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


async def test_run_two_shard_processes_as_an_operator_does(fleet: Fleet, tmp_path: Path) -> None:
    """``serve()`` (what ``seminar-bot run`` runs) with one shard each: real scheduler, clock."""
    fake = fleet.fake
    soon = datetime.now(UTC).replace(microsecond=0)
    fleet.feeds.body = render_feed([replace(t, start=soon + (t.start - NOW)) for t in TALKS])
    stops = {s: asyncio.Event() for s in (0, 1)}
    runs = {
        s: asyncio.create_task(
            serve(
                fleet.config([s], f"run-shard{s}.sqlite"),
                fake.token,
                stop=stops[s],
                health_file=tmp_path / f"health-shard{s}.json",
            )
        )
        for s in (0, 1)
    }
    try:
        await fake.wait_for(
            lambda: all(len(fleet.titles(w)) >= len(TALKS) for w in fleet.worlds), timeout=30
        )
        await fake.wait_for(
            lambda: all((tmp_path / f"health-shard{s}.json").exists() for s in (0, 1)), timeout=10
        )
    finally:
        for stop in stops.values():
            stop.set()
        codes = [await asyncio.wait_for(run, 20) for run in runs.values()]
    assert codes == [0, 0]
    for world in fleet.worlds:
        assert sorted(fleet.titles(world)) == ["Talk 0", "Talk 1"], world.guild.name
    assert fake.sync_count == 1
    for shard_id in (0, 1):
        health = json.loads((tmp_path / f"health-shard{shard_id}.json").read_text())
        assert [s["shard_id"] for s in health["shards"]] == [shard_id]
