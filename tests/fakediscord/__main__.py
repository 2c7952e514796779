"""Run the fake Discord as its own process, for a bot started outside pytest (the image test).

    FAKE_DISCORD_TOKEN=... python -m tests.fakediscord [--hold-ready]

It listens on a free port of 127.0.0.1. The first line on stdout is one JSON object:
``api_base_url``, ``gateway_url``, ``port``, ``application_id``, ``guild_id`` and
``channel_id`` (the default world's ``#seminars``), so a config file can point the real bot
here. Every later line is one JSON event, in order: ``identify_held``, ``ready``, ``message``
(channel_id, content, embed titles). The token comes from the environment so it never shows
in a process list and is never printed.

Signals: SIGUSR1 releases a held READY (``--hold-ready`` keeps a logged-in bot "not ready"),
SIGTERM/SIGINT stop the fake (exit 0): to the bot, Discord has gone away.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import Any

from .server import FakeDiscord

TOKEN_VARIABLE = "FAKE_DISCORD_TOKEN"
#: The watcher wakes on every change; this only bounds one wait, not the fake's lifetime.
WATCH_SLICE_SECONDS = 3600.0


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


async def _report(fake: FakeDiscord) -> None:
    """Print what a bot does to the fake, event-driven (wakes on the fake's change signal)."""

    def counts() -> tuple[int, int, int]:
        return len(fake.gateway.held_identifies), fake.identify_count, len(fake.sent)

    held, ready, sent = 0, 0, 0
    while True:
        seen = (held, ready, sent)
        with contextlib.suppress(TimeoutError):
            await fake.wait_for(lambda seen=seen: counts() != seen, timeout=WATCH_SLICE_SECONDS)
        now_held, now_ready, now_sent = counts()
        if now_held > held:
            _emit({"event": "identify_held"})
        if now_ready > ready:
            _emit({"event": "ready"})
        for message in fake.sent[sent:now_sent]:
            body = message.message
            _emit(
                {
                    "event": "message",
                    "channel_id": str(body.get("channel_id", "")),
                    "content": body.get("content", ""),
                    "titles": [e.get("title", "") for e in body.get("embeds", [])],
                }
            )
        held, ready, sent = now_held, now_ready, now_sent


async def serve(hold_ready: bool) -> int:
    fake = FakeDiscord(token=os.environ.get(TOKEN_VARIABLE) or "fake-bot-token")
    fake.gateway.hold_ready = hold_ready
    await fake.start()
    defaults = fake.defaults
    assert defaults is not None  # the default world is always built here
    _emit(
        {
            "api_base_url": fake.api_base_url,
            "gateway_url": fake.gateway_url,
            "port": fake.port,
            "application_id": str(fake.application_id),
            "guild_id": str(defaults.guild.id),
            "channel_id": str(defaults.seminars.id),
        }
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, fake.gateway.release_ready)
    reporter = asyncio.create_task(_report(fake))
    try:
        await stop.wait()
    finally:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        await fake.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakediscord",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--hold-ready",
        action="store_true",
        help="answer IDENTIFY only after SIGUSR1 (the bot stays not ready)",
    )
    args = parser.parse_args(argv)
    return asyncio.run(serve(args.hold_ready))


if __name__ == "__main__":
    sys.exit(main())
