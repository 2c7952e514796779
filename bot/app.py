"""``seminar-bot run``: start the bot, stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import replace
from pathlib import Path

import discord

from bot.config import Config, read_token
from bot.discord_ui.client import SeminarBot, point_discord_at
from bot.logsetup import setup_logging

log = logging.getLogger(__name__)


async def serve(config: Config, token: str) -> int:
    point_discord_at(config.discord.api_base_url, config.discord.gateway_url)
    health = os.environ.get("SEMINAR_BOT_HEALTH_FILE")
    bot = SeminarBot(config, health_file=Path(health) if health else None)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        log.error("Discord refused the token (401). Check DISCORD_TOKEN.")
        return 3
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the requested intents.")
        return 3
    return 0


def run_bot(config: Config) -> int:
    token = read_token(config.discord)
    database = os.environ.get("SEMINAR_BOT_DB")
    if database:  # the Docker image keeps the database on its /data volume
        config = replace(config, storage_path=Path(database))
    setup_logging(config.log_level, config.log_format, secrets=(token,))
    config.storage_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting seminar-bot with %d configured feed(s)", len(config.feeds))
    return asyncio.run(serve(config, token))
