"""`seminar-bot run` as an operator starts it: config file, token from the environment, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.feedgen import Talk, render_feed
from bot.app import serve
from bot.cli import main
from bot.config import load_config
from bot.errors import ExitCode, StartupFailure
from tests.discord_ui.harness import NOW, Harness
from tests.fakediscord import FakeDiscord
from tests.feedserver import FeedServer

TALKS = [
    Talk(
        post_id=4100 + i,
        start=NOW + timedelta(days=1 + i),
        title=f"Talk {i}",
        speaker=f"Speaker {i}",
    )
    for i in range(3)
]


def write_config(tmp_path: Path, fake: FakeDiscord, feeds: FeedServer) -> Path:
    d = fake.defaults
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "bot.db"
[discord]
api_base_url = "{fake.api_base_url}"
gateway_url = "{fake.gateway_url}"
[[feeds]]
name = "cs-seminar"
url = "{feeds.url}"
channel_id = {d.seminars.id}
guild_id = {d.guild.id}
baseline = "announce"
""",
        encoding="utf-8",
    )
    return path


async def test_run_announces_and_stops_cleanly_on_sigterm(
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `run` uses the system clock, so these talks are relative to the real now.
    soon = datetime.now(UTC).replace(microsecond=0)
    feed_server.body = render_feed([replace(t, start=soon + (t.start - NOW)) for t in TALKS])
    config = load_config(write_config(tmp_path, fake_discord, feed_server))
    monkeypatch.setenv("SEMINAR_BOT_HEALTH_FILE", str(tmp_path / "health.json"))
    task = asyncio.create_task(serve(config, fake_discord.token))
    channel = fake_discord.defaults.seminars

    def announcements() -> list[str]:
        # Announcement cards carry the series and feed in their footer (reminders do not).
        return [
            e["title"]
            for m in fake_discord.messages(channel)
            for e in m.message.get("embeds", [])
            if "cs-seminar" in e.get("footer", {}).get("text", "")
        ]

    await fake_discord.wait_for(lambda: len(announcements()) >= 3, timeout=20)
    assert announcements() == ["Talk 0", "Talk 1", "Talk 2"]
    await fake_discord.wait_for(lambda: (tmp_path / "health.json").exists(), timeout=10)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 20) == 0
    health = json.loads((tmp_path / "health.json").read_text())
    assert health["feeds"][0]["name"] == "cs-seminar"
    assert health["gateway_connected"] is True
    assert (tmp_path / "bot.db").exists()


async def test_bad_token_exits_with_a_clear_error(
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    tmp_path: Path,
) -> None:
    config = load_config(write_config(tmp_path, fake_discord, feed_server))
    with pytest.raises(StartupFailure) as failure:
        await serve(config, "not-the-right-token-at-all-xyz")
    assert failure.value.exit_code == ExitCode.DISCORD_REFUSED == 3
    assert "refused the token" in str(failure.value)
    assert "not-the-right-token-at-all-xyz" not in str(failure.value)


def test_run_without_token_explains_what_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("DISCORD_TOKEN_FILE", raising=False)
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    assert main(["run", "--config", str(config)]) == 2
    assert "DISCORD_TOKEN" in capsys.readouterr().err


async def test_bot_does_what_the_dry_run_predicts(
    bot_harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same feed versions through `preview --db` and through the bot give the same actions."""
    h = bot_harness
    versions = [
        render_feed(TALKS),
        render_feed(
            [
                replace(TALKS[0], room="Malone 228"),
                TALKS[1].moved(TALKS[1].start + timedelta(hours=1)),
                replace(TALKS[2], status="CANCELLED"),
            ]
        ),
    ]
    db = str(tmp_path / "preview.db")
    predicted = []
    await h.start()
    observed = []
    for version in versions:
        h.feeds.body = version
        code = await asyncio.to_thread(
            main, ["preview", h.feeds.url, "--db", db, "--now", NOW.isoformat(), "--json"]
        )
        assert code == 0
        predicted.append(
            sorted(
                (a["action"], a["uid"])
                for a in map(json.loads, capsys.readouterr().out.splitlines())
            )
        )
        outcome = await h.poll()
        observed.append(sorted((a.kind.value, a.occurrence.key.uid) for a in outcome.actions))
        await h.deliver()
    assert predicted == observed
    assert [kind for kind, _ in observed[1]] == ["cancel", "reschedule", "update"]
    embeds = [
        e for m in h.fake.messages(h.fake.defaults.seminars) for e in m.message.get("embeds", [])
    ]
    titles = {e["title"] for e in embeds}
    assert {"Rescheduled: Talk 1", "Talk 0"} <= titles
    assert any(t.endswith("Cancelled: Talk 2") for t in titles)
