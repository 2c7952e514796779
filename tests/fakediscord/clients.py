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


class FastShardedClient(discord.AutoShardedClient):
    """An AutoShardedClient for the given shards, with the same fast start as FastClient."""

    def __init__(self, shard_count: int, shard_ids: list[int]) -> None:
        super().__init__(
            intents=fast_intents(),
            guild_ready_timeout=0.05,
            shard_count=shard_count,
            shard_ids=shard_ids,
        )
        self.tree = discord.app_commands.CommandTree(self)
        #: (shard id, guild id) of every interaction this client received.
        self.interactions_seen: list[tuple[int | None, int | None]] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        self.interactions_seen.append((guild.shard_id if guild else None, interaction.guild_id))
        await interaction.response.send_message("ok", ephemeral=True)
