"""Small real discord.py clients for the fake's self-tests (and handy for bot tests)."""

from __future__ import annotations

import discord
from discord.ext import commands


def fast_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.members = True
    return intents


class FastClient(discord.Client):
    """A client that skips discord.py's 5 s sleep before a non-initial IDENTIFY."""

    def __init__(self) -> None:
        super().__init__(intents=fast_intents(), guild_ready_timeout=0.05)
        self.tree = discord.app_commands.CommandTree(self)
        self.resumed = 0

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    async def on_resumed(self) -> None:
        self.resumed += 1


class FastBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(command_prefix="!", intents=fast_intents(), guild_ready_timeout=0.05)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None
