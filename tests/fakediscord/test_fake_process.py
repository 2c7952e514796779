"""The fake as its own process (``python -m tests.fakediscord``) and its held READY."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
import yarl

from tests.fakediscord import FakeDiscord
from tests.fakediscord.clients import FastClient

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "process-test-token.not-a-real-one"


async def test_held_ready_keeps_a_logged_in_client_not_ready_until_released(
    fake_discord: FakeDiscord,
) -> None:
    fake_discord.gateway.hold_ready = True
    client = FastClient()
    task = asyncio.create_task(client.start(fake_discord.token))
    try:
        await fake_discord.wait_for(lambda: bool(fake_discord.gateway.held_identifies), 5)
        assert not client.is_ready() and fake_discord.identify_count == 0
        fake_discord.gateway.release_ready()
        await asyncio.wait_for(client.wait_until_ready(), 5)
        assert fake_discord.identify_count == 1 and fake_discord.gateway.ready
    finally:
        await client.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


class _Process:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), 10)
        assert raw, "the fake process closed its output"
        record: dict[str, Any] = json.loads(raw)
        return record


@pytest.fixture
async def fake_process() -> AsyncIterator[_Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakediscord",
        "--hold-ready",
        cwd=REPO_ROOT,
        env={**os.environ, "FAKE_DISCORD_TOKEN": TOKEN},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield _Process(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_the_fake_runs_as_a_process_a_real_client_can_use(
    fake_process: _Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = await fake_process.line()
    assert info["api_base_url"].startswith("http://127.0.0.1:")
    assert info["gateway_url"].startswith("ws://127.0.0.1:")
    assert TOKEN not in json.dumps(info)
    monkeypatch.setattr(discord.http.Route, "BASE", info["api_base_url"])
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(info["gateway_url"])
    )
    client = FastClient()
    task = asyncio.create_task(client.start(TOKEN))
    try:
        assert await fake_process.line() == {"event": "identify_held"}
        assert not client.is_ready()
        fake_process.proc.send_signal(signal.SIGUSR1)
        assert await fake_process.line() == {"event": "ready"}
        await asyncio.wait_for(client.wait_until_ready(), 5)
        channel = client.get_channel(int(info["channel_id"]))
        assert isinstance(channel, discord.TextChannel)
        assert channel.guild.id == int(info["guild_id"])
        await channel.send(embed=discord.Embed(title="Hello"))
        message = await fake_process.line()
        assert message["event"] == "message" and message["titles"] == ["Hello"]
    finally:
        await client.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
    fake_process.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(fake_process.proc.wait(), 10) == 0
