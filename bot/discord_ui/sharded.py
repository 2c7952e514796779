"""The bot on discord.py's own sharding engine, for a process that runs some of the shards.

``ShardedSeminarBot`` is the same bot as ``SeminarBot`` (every worker, cog and promise is
inherited) on ``AutoShardedBot``: one gateway session per configured shard, each reporting
its own connection state to the health file. Which servers the process serves follows from
the shards (``bot.core.shards``); the rest of the bot filters on that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from discord.ext import commands

from bot.config import Config
from bot.discord_ui.client import SeminarBot
from bot.service.health import ShardHealth


@dataclass
class _ShardState:
    connected: bool = False
    changed_at: datetime | None = None


class ShardedSeminarBot(SeminarBot, commands.AutoShardedBot):
    """``SeminarBot`` running the shards in ``[discord] shard_count`` / ``shard_ids``."""

    def __init__(self, config: Config, **options: Any) -> None:
        shards = config.discord.shards
        assert shards.count is not None, "ShardedSeminarBot needs [discord] shard_count"
        super().__init__(
            config, shard_count=shards.count, shard_ids=list(shards.owned_ids), **options
        )
        self._shard_states = {shard_id: _ShardState() for shard_id in shards.owned_ids}

    # discord.py reports each shard; the process is connected only when all of them are.

    async def on_shard_connect(self, shard_id: int) -> None:
        self._shard_changed(shard_id, True, "connected")

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._shard_changed(shard_id, True, "resumed")

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._shard_changed(shard_id, False, "disconnected; discord.py is reconnecting")

    async def on_ready(self) -> None:
        """Per-shard events decide the state (``ready`` only says every shard started once)."""

    async def on_resumed(self) -> None:
        """See ``on_shard_resumed``."""

    async def on_disconnect(self) -> None:
        """See ``on_shard_disconnect``."""

    def _shard_changed(self, shard_id: int, connected: bool, what: str) -> None:
        state = self._shard_states.setdefault(shard_id, _ShardState())
        if state.connected != connected or state.changed_at is None:
            state.connected = connected
            state.changed_at = self.clock.now()
        all_connected = all(s.connected for s in self._shard_states.values())
        self._gateway_state(all_connected, f"shard {shard_id} {what}")

    def shard_health(self) -> list[ShardHealth]:
        health = []
        for shard_id, state in sorted(self._shard_states.items()):
            info = self.get_shard(shard_id)
            latency = info.latency if info is not None else math.nan
            health.append(
                ShardHealth(
                    shard_id=shard_id,
                    connected=state.connected and info is not None and not info.is_closed(),
                    latency_ms=round(latency * 1000, 1) if math.isfinite(latency) else None,
                    changed_at=state.changed_at,
                )
            )
        return health


def build_bot(config: Config, **options: Any) -> SeminarBot:
    """The bot the config asks for: sharded when ``[discord] shard_count`` is set."""
    if config.discord.shards.sharded:
        return ShardedSeminarBot(config, **options)
    return SeminarBot(config, **options)
