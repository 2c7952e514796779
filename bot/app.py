"""``seminar-bot run``: start the bot, wait out network outages, stop promptly on a signal.

Start-up failures are translated here into one-line ``StartupFailure``s with an exit code
(see ``bot.errors.ExitCode``); the CLI's boundary prints them once. When Discord cannot be
reached at all (no network, DNS down, proxy offline) the bot does not exit: it says what it
could not reach and retries with a capped exponential backoff, because a container restart
would only do the same thing with less information. Once connected, discord.py itself
reconnects the gateway.

A stop (SIGTERM/SIGINT) ends the run in every state within a few seconds: log-in, gateway
connect and reconnect waits are cancelled, the delivery in flight may finish, and a delivery
that cannot finish in time is left claimed in the outbox, where the next start recovers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import discord

from bot.boundary import storage_failure
from bot.config import Config, apply_environment, read_token
from bot.discord_ui.client import SeminarBot, point_discord_at
from bot.discord_ui.sharded import build_bot
from bot.errors import ExitCode, SeminarBotError, StartupFailure
from bot.logsetup import describe_error, redact, setup_logging
from bot.service.process import tune_process
from bot.store.db import open_database
from bot.waiting import wait_for_event

log = logging.getLogger(__name__)

#: First and longest wait between attempts to reach an unreachable Discord API.
RETRY_FIRST_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
#: A safety net: how long closing may take in all (the delivery in flight gets less).
STOP_BUDGET_SECONDS = 4.0
#: Gateway close codes that mean the token or intents were refused (not worth retrying).
_REFUSED_CLOSE_CODES = {4004: "the token", 4013: "the intents", 4014: "the intents"}
#: How much of an error body the one-line message quotes (after redaction).
_BODY_QUOTE_CHARS = 200

#: Errors that mean "could not talk to Discord at all", as opposed to "Discord said no".
UNREACHABLE: tuple[type[BaseException], ...] = (aiohttp.ClientConnectionError, TimeoutError)


async def serve(
    config: Config,
    token: str,
    *,
    stop: asyncio.Event | None = None,
    health_file: Path | None = None,
) -> int:
    """Run until ``stop`` is set (SIGTERM/SIGINT set it); 0 on a clean stop.

    The health file defaults to ``SEMINAR_BOT_HEALTH_FILE``.
    """
    point_discord_at(config.discord.api_base_url, config.discord.gateway_url)
    health = health_file or os.environ.get("SEMINAR_BOT_HEALTH_FILE")
    stop = stop or asyncio.Event()
    delay = RETRY_FIRST_SECONDS
    with _stop_on_signals(stop):
        while not stop.is_set():
            bot = build_bot(config, health_file=Path(health) if health else None)
            try:
                await _run_until_stopped(bot, token, stop)
                return int(ExitCode.OK)
            except UNREACHABLE as exc:
                log.warning(
                    "cannot reach the Discord API at %s (%s); retrying in %.0f s",
                    config.discord.api_base_url,
                    describe_error(exc),
                    delay,
                )
            except Exception as exc:
                raise _explain(exc, config) from None
            await wait_for_event(stop, delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
    return int(ExitCode.OK)


async def _run_until_stopped(bot: SeminarBot, token: str, stop: asyncio.Event) -> None:
    """Log in and serve until ``stop``; raises whatever ended the client otherwise."""
    client = asyncio.create_task(_login_and_connect(bot, token), name="discord-client")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait({client, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not client.done():
            # Log-in, connect and reconnect waits are not worth finishing: cancel them so the
            # stop does not wait for discord.py's backoff (which can be minutes).
            log.info("stopping")
            client.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await client
        await _close_within_budget(bot)
    failure = None if client.cancelled() else client.exception()
    if failure is not None and not stop.is_set():
        raise failure


async def _login_and_connect(bot: SeminarBot, token: str) -> None:
    """``bot.start`` that keeps trying when the gateway cannot be reached at all.

    Once a websocket existed, discord.py reconnects by itself. Before that, its reconnect path
    fails on the missing websocket, so the first connection is retried here, with a backoff.
    """
    await bot.login(token)
    log.info("logged in; connecting to the gateway at %s", bot.config.discord.gateway_url)
    delay = RETRY_FIRST_SECONDS
    while True:
        try:
            await bot.connect(reconnect=True)
            return
        except Exception:
            if bot.ws is not None or bot.is_closed():
                raise
        log.debug("the gateway was not reached; next attempt in %.0f s", delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_SECONDS)


async def _close_within_budget(bot: SeminarBot) -> None:
    try:
        await asyncio.wait_for(bot.close(), STOP_BUDGET_SECONDS)
    except TimeoutError:
        log.warning(
            "stop: closing took over %.0f s; exiting anyway (unfinished work resumes at start)",
            STOP_BUDGET_SECONDS,
        )


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _explain(exc: Exception, config: Config) -> Exception:
    """A one-line StartupFailure for every failure an operator can act on; else ``exc``."""
    api = config.discord.api_base_url
    if isinstance(exc, SeminarBotError):
        return exc
    if isinstance(exc, discord.LoginFailure):
        return StartupFailure(
            f"Discord ({api}) refused the token (401 Unauthorized); set DISCORD_TOKEN to the "
            "bot token from the Developer Portal (Bot, Reset Token)",
            exit_code=ExitCode.DISCORD_REFUSED,
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return StartupFailure(
            "Discord refused the requested gateway intents; turn the privileged intents off "
            "in the Developer Portal or update seminar-bot",
            exit_code=ExitCode.DISCORD_REFUSED,
        )
    if isinstance(exc, discord.ConnectionClosed) and exc.code in _REFUSED_CLOSE_CODES:
        return StartupFailure(
            f"the Discord gateway ({config.discord.gateway_url}) refused "
            f"{_REFUSED_CLOSE_CODES[exc.code]} (close code {exc.code}); check DISCORD_TOKEN",
            exit_code=ExitCode.DISCORD_REFUSED,
        )
    if isinstance(exc, discord.HTTPException):
        return StartupFailure(
            f"Discord API at {api} answered {exc.status} {_reason(exc)} while starting"
            f"{_quote(exc.text)}; check [discord] api_base_url and Discord's status page, "
            "then start again",
            exit_code=ExitCode.DISCORD_ERROR,
        )
    if isinstance(exc, (discord.GatewayNotFound, discord.ConnectionClosed)):
        return StartupFailure(
            f"the Discord gateway ({config.discord.gateway_url}) failed: "
            f"{_quote(describe_error(exc))}; check [discord] gateway_url, then start again",
            exit_code=ExitCode.DISCORD_ERROR,
        )
    failure = storage_failure(exc, config.storage_path, "the database")
    return failure if failure is not None else exc


def _reason(exc: discord.HTTPException) -> str:
    reason = getattr(exc.response, "reason", None)
    return str(reason) if reason else "error"


def _quote(text: str) -> str:
    """A redacted, single-line, bounded quote of an error body (redacted before cutting)."""
    flat = " ".join(redact(text or "").split())
    if not flat:
        return ""
    if len(flat) > _BODY_QUOTE_CHARS:
        flat = flat[:_BODY_QUOTE_CHARS] + "…"
    return f" ({flat})"


def check_storage(path: Path) -> None:
    """Open (and migrate) the database once before connecting: a bad path fails fast."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        open_database(path).close()
    except SeminarBotError:
        raise
    except Exception as exc:
        failure = storage_failure(exc, path, "the database")
        if failure is None:
            raise
        raise failure from None


def prepare_run(config: Config) -> tuple[Config, str]:
    """What ``run`` does before serving: the token read, the environment applied, logging
    set up (redacting the token), the storage checked and the process tuned."""
    token = read_token(config.discord)
    config = apply_environment(config)
    setup_logging(config.log_level, config.log_format, secrets=(token,))
    check_storage(config.storage_path)
    tune_process()
    return config, token


def run_bot(config: Config) -> int:
    config, token = prepare_run(config)
    log.info(
        "starting seminar-bot with %d configured feed(s), %s",
        len(config.feeds),
        config.discord.shards.describe(),
    )
    return asyncio.run(serve(config, token))
