"""Placeholder: the feeds commands are being built (see the open issues)."""

from __future__ import annotations

from discord.ext import commands


async def setup(bot: commands.Bot) -> None:
    return None
