"""pytest fixture: a fresh FakeDiscord per test, with discord.py pointed at it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

import discord
import discord.gateway
import discord.http
import pytest
import yarl

from .server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)


def point_discord_at(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redirect discord.py's process-global REST base and gateway URL (undone by monkeypatch)."""
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base_url)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """A started fake with the default guild (see ``FakeDiscord.defaults``)."""
    fake = FakeDiscord()
    await fake.start()
    point_discord_at(fake, monkeypatch)
    try:
        yield fake
    finally:
        await fake.stop()


@asynccontextmanager
async def running_client(
    client: ClientT,
    token: str,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> AsyncIterator[ClientT]:
    """Start ``client`` against the fake, wait for on_ready (bounded), close it afterwards."""
    task = asyncio.create_task(client.start(token))
    waiter = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait(
            {task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()  # login/connect failed: raise it here
        if waiter not in done:
            raise TimeoutError(f"client not ready within {timeout} s")
        yield client
    finally:
        waiter.cancel()
        await client.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout)
