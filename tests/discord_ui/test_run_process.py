"""The real ``seminar-bot run`` process: one clear line per failure, the token never shown,
a truthful health file and a prompt stop, whatever state Discord is in."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bench.feedgen import Talk, render_feed
from bot.cli import main
from tests.discord_ui.botprocess import (
    BotProcess,
    blackhole,
    bot_process,
    closed_port,
    write_config,
)
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer

#: Token-shaped (the log filter's pattern would catch it) and not (only the exact value can).
SHAPED_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GAbCdE.abcdefghijklmnopqrstuvwxyz0123456789AB"
PLAIN_TOKEN = "operator-secret-0123456789-abcdef"
#: discord.py's reconnect line, as the bot words it and as discord.py itself does.
RECONNECT_WAIT = re.compile(r"reconnect(?:ing)? in ([0-9.]+)s")


def assert_clean(proc: BotProcess) -> None:
    """Every byte the process printed is free of the token and of raw tracebacks."""
    everything = bytes(proc.stdout + proc.stderr)
    assert proc.token.encode() not in everything, proc.text
    assert b"Traceback" not in everything, proc.text


def assert_json_lines(proc: BotProcess) -> list[dict[str, str]]:
    """With ``format = "json"`` every line the process printed is one JSON record."""
    records = [json.loads(line) for line in proc.text.splitlines() if line.strip()]
    assert all({"time", "level", "message"} <= set(r) for r in records)
    return records


@asynccontextmanager
async def echoing_api(status: int, *, as_json: bool) -> AsyncIterator[str]:
    """A broken proxy in front of Discord: any request gets ``status`` and its own headers."""

    async def echo(request: web.Request) -> web.Response:
        headers = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
        if as_json:
            return web.json_response(
                {"message": f"bad request, got {headers}", "code": 0}, status=status
            )
        return web.Response(status=status, text=f"<h1>{status}</h1><pre>{headers}</pre>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/api/v10"
    finally:
        await runner.cleanup()


async def run_to_exit(
    tmp_path: Path, token: str, *, api: str, gateway: str, log_format: str
) -> BotProcess:
    config = write_config(tmp_path, api_base_url=api, gateway_url=gateway, log_format=log_format)
    async with bot_process(config, token) as proc:
        await proc.wait(timeout=60)
    return proc


async def run_against_echoing_apis(
    tmp_path: Path, cases: list[tuple[int, bool, str, str]]
) -> list[BotProcess]:
    """Each case (status, JSON body?, log format, token) as its own process, all at once."""
    gateway = f"ws://127.0.0.1:{closed_port()}/gateway"
    async with AsyncExitStack() as stack:
        apis = [await stack.enter_async_context(echoing_api(s, as_json=j)) for s, j, _, _ in cases]
        procs = await asyncio.gather(
            *(
                run_to_exit(tmp_path / str(i), token, api=api, gateway=gateway, log_format=fmt)
                for i, ((_, _, fmt, token), api) in enumerate(zip(cases, apis, strict=True))
            )
        )
    for (status, _, fmt, _), proc in zip(cases, procs, strict=True):
        assert proc.returncode == 4, proc.text
        assert_clean(proc)
        failures = [line for line in proc.lines if f"answered {status}" in line]
        assert len(failures) == 1, proc.text
        assert "[token]" in failures[0]  # the echoed header, redacted
        if fmt == "json":
            assert assert_json_lines(proc)[-1]["level"] == "ERROR"
    return procs


async def test_a_400_that_echoes_the_token_is_one_clean_line(tmp_path: Path) -> None:
    await run_against_echoing_apis(
        tmp_path,
        [
            (400, False, "json", PLAIN_TOKEN),
            (400, True, "text", SHAPED_TOKEN),
            (503, False, "text", PLAIN_TOKEN),  # a 5xx discord.py does not retry
        ],
    )


async def test_a_502_that_echoes_the_token_is_one_clean_line(tmp_path: Path) -> None:
    """discord.py retries a 502 five times (1+3+5+7+9 s) before it gives up: one slow test."""
    await run_against_echoing_apis(
        tmp_path, [(502, False, "text", PLAIN_TOKEN), (502, True, "json", SHAPED_TOKEN)]
    )


async def test_a_later_start_up_error_echoing_the_token_is_one_clean_line(
    tmp_path: Path,
) -> None:
    """Log-in works, then the command sync is refused with the token in Discord's message."""
    async with FakeDiscord(token=PLAIN_TOKEN) as fake:
        fake.inject_fault(
            "PUT", "/applications/*/commands", 400, code=50035,
            message=f"Invalid Form Body (Authorization: Bot {PLAIN_TOKEN})", times=5,
        )  # fmt: skip
        for fmt in ("text", "json"):
            proc = await run_to_exit(
                tmp_path / fmt, fake.token,
                api=fake.api_base_url, gateway=fake.gateway_url, log_format=fmt,
            )  # fmt: skip
            assert proc.returncode == 4, proc.text
            assert_clean(proc)
            assert proc.count("answered 400") == 1, proc.text


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_unreachable_gateway_is_one_line_per_attempt_and_stop_is_prompt(
    tmp_path: Path, log_format: str
) -> None:
    async with FakeDiscord(token=SHAPED_TOKEN) as fake:
        gateway = f"ws://127.0.0.1:{closed_port()}/gateway"
        config = write_config(
            tmp_path, api_base_url=fake.api_base_url, gateway_url=gateway, log_format=log_format
        )
        async with bot_process(config, fake.token) as proc:
            await proc.wait_for_line("Discord gateway unreachable", count=2)
            assert await proc.terminate(timeout=5) == 0
    assert_clean(proc)
    if log_format == "json":
        assert_json_lines(proc)
    attempts = [line for line in proc.lines if "gateway unreachable" in line]
    assert all("Cannot connect to host 127.0.0.1" in line for line in attempts)


async def test_run_without_network_says_what_it_cannot_reach_and_retries(
    tmp_path: Path,
) -> None:
    api = f"http://127.0.0.1:{closed_port()}/api/v10"
    config = write_config(tmp_path, api_base_url=api, gateway_url="ws://127.0.0.1:9/gateway")
    async with bot_process(config, PLAIN_TOKEN) as proc:
        await proc.wait_for_line("cannot reach the Discord API", count=2)
        assert await proc.terminate(timeout=5) == 0
    assert_clean(proc)
    first = next(line for line in proc.lines if "cannot reach" in line)
    assert api in first and "retrying in 2 s" in first
    assert proc.count("retrying in 4 s") == 1


async def test_sigterm_while_the_gateway_connect_hangs_exits_promptly(tmp_path: Path) -> None:
    """discord.py waits up to 60 s for a gateway that accepts and never answers."""
    async with FakeDiscord(token=SHAPED_TOKEN) as fake, blackhole() as hole:
        gateway = f"ws://127.0.0.1:{hole.port}/gateway"
        config = write_config(tmp_path, api_base_url=fake.api_base_url, gateway_url=gateway)
        async with bot_process(config, fake.token) as proc:
            await asyncio.wait_for(hole.accepted.wait(), 20)
            assert await proc.terminate(timeout=5) == 0
    assert_clean(proc)


async def health_now(monkeypatch: pytest.MonkeyPatch, path: Path) -> int:
    """``seminar-bot health`` as the Docker HEALTHCHECK runs it: no --file, only the env."""
    monkeypatch.setenv("SEMINAR_BOT_HEALTH_FILE", str(path))
    return await asyncio.to_thread(main, ["health"])


async def test_health_follows_the_gateway_and_stop_is_prompt_while_reconnecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = tmp_path / "health.json"
    async with FakeDiscord(token=SHAPED_TOKEN) as fake:
        config = write_config(
            tmp_path, api_base_url=fake.api_base_url, gateway_url=fake.gateway_url
        )
        env = {"SEMINAR_BOT_HEALTH_FILE": str(health)}
        async with bot_process(config, fake.token, env=env) as proc:
            said = proc.wait_for_line
            await said("health: the gateway is connected")
            assert await health_now(monkeypatch, health) == 0

            fake.gateway.refuse_connections = True  # an outage: the client cannot come back
            fake.drop_gateway()
            await said("health: the gateway is not connected")
            assert await health_now(monkeypatch, health) == 1
            assert json.loads(health.read_text())["gateway_connected"] is False

            fake.gateway.refuse_connections = False
            await said("health: the gateway is connected", count=2)
            assert await health_now(monkeypatch, health) == 0

            fake.gateway.refuse_connections = True
            fake.drop_gateway()
            await said("Discord gateway unreachable", count=2)  # in discord.py's backoff
            assert await proc.terminate(timeout=5) == 0
    assert_clean(proc)


async def test_an_unusable_database_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "bot.db").mkdir()  # the database path is a directory
    config = write_config(
        tmp_path, api_base_url="http://127.0.0.1:9/api/v10", gateway_url="ws://127.0.0.1:9/"
    )
    async with bot_process(config, PLAIN_TOKEN) as proc:
        assert await proc.wait(timeout=20) == 5
    assert_clean(proc)
    assert proc.count("cannot use the database") == 1, proc.text
    assert "cannot reach" not in proc.text  # it fails before trying Discord


async def test_sigterm_in_a_long_reconnect_wait_exits_promptly(tmp_path: Path) -> None:
    """discord.py's reconnect backoff grows to minutes; a stop must not wait for it to end."""
    async with FakeDiscord(token=SHAPED_TOKEN) as fake:
        config = write_config(
            tmp_path, api_base_url=fake.api_base_url, gateway_url=fake.gateway_url
        )
        async with bot_process(config, fake.token) as proc:
            await fake.wait_for(lambda: fake.gateway.ready, timeout=20)
            fake.gateway.refuse_connections = True
            fake.drop_gateway()

            def in_a_long_wait() -> bool:
                return any(
                    float(m.group(1)) >= 6
                    for line in proc.lines
                    if (m := RECONNECT_WAIT.search(line))
                )

            # The backoff is random: uniform up to 2, 4, 8, 16, ... s; bounded by six attempts.
            await proc.wait_for(
                lambda: (
                    in_a_long_wait() or len(list(filter(RECONNECT_WAIT.search, proc.lines))) >= 6
                ),
                timeout=90,
            )
            assert await proc.terminate(timeout=5) == 0
    assert_clean(proc)


async def test_sigterm_with_a_delivery_hung_in_discord_exits_and_loses_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A send Discord never answers is left claimed in the outbox; the next start finishes it
    without posting anything twice."""
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    talks = [
        Talk(post_id=7100 + i, start=soon + timedelta(days=i), title=f"Talk {i}") for i in range(2)
    ]
    feed_server.body = render_feed(talks)
    async with FakeDiscord(token=SHAPED_TOKEN) as fake:
        d = fake.defaults
        assert d is not None
        feeds = f"""
[[feeds]]
name = "cs-seminar"
url = "{feed_server.url}"
channel_id = {d.seminars.id}
guild_id = {d.guild.id}
baseline = "announce"
"""
        config = write_config(
            tmp_path, api_base_url=fake.api_base_url, gateway_url=fake.gateway_url, feeds=feeds
        )
        fake.stall("POST", "/channels/*/messages")
        async with bot_process(config, fake.token) as proc:
            await fake.wait_for(lambda: fake.stalled_count >= 1, timeout=30)
            assert await proc.terminate(timeout=5) == 0
        assert_clean(proc)

        fake.release_stalls()  # Discord answers again (the held send may now go through)
        async with bot_process(config, fake.token) as proc:
            await fake.wait_for(lambda: len(fake.messages(d.seminars)) >= 2, timeout=30)
            assert await proc.terminate(timeout=5) == 0
        assert_clean(proc)
        titles = [e["title"] for m in fake.messages(d.seminars) for e in m.message["embeds"]]
        assert sorted(titles) == ["Talk 0", "Talk 1"]
