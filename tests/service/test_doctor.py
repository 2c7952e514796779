"""`check-config --online`: an operator learns every setup mistake before `run` is started.

The real command runs against the fake Discord's REST API and real feed servers on 127.0.0.1;
each mistake an operator can make in their first hour must show up in the one list it prints.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest

from bench.feedgen import Talk, render_feed
from bot.cli import main
from bot.core.permissions import (
    ADMINISTRATOR,
    EMBED_LINKS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Overwrite,
    base_permissions,
    channel_permissions,
    needed_permissions,
)
from bot.service.doctor import application_id_from_token
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import (
    CREATE_EVENTS,
    MANAGE_EVENTS,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
)
from tests.feedserver import FeedServer


def realistic_token(application_id: int) -> str:
    """Shaped like Discord's: the bot's id in base64, a timestamp part and an HMAC part."""
    head = base64.urlsafe_b64encode(str(application_id).encode()).decode().rstrip("=")
    return f"{head}.GsEcRt.{'k' * 38}"


@pytest.fixture
def token(fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> str:
    fake_discord.token = realistic_token(fake_discord.application_id)
    monkeypatch.setenv("DISCORD_TOKEN", fake_discord.token)
    monkeypatch.delenv("DISCORD_TOKEN_FILE", raising=False)
    monkeypatch.delenv("SEMINAR_BOT_DB", raising=False)
    return fake_discord.token


def talks_from_now(*days: int) -> bytes:
    # The command reads the system clock, so the talks are placed relative to the real now.
    now = datetime.now(UTC).replace(microsecond=0)
    return render_feed(
        [
            Talk(post_id=5100 + i, start=now + timedelta(days=d), title=f"Talk {i}")
            for i, d in enumerate(days)
        ]
    )


def write_config(tmp_path: Path, fake: FakeDiscord, feeds: str, *, discord_extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
path = "bot.db"
[discord]
api_base_url = "{fake.api_base_url}"
gateway_url = "{fake.gateway_url}"
{discord_extra}
{feeds}
""",
        encoding="utf-8",
    )
    return path


def feed(name: str, url: str, channel: int | None, guild: int | None, extra: str = "") -> str:
    lines = ["[[feeds]]", f'name = "{name}"', f'url = "{url}"']
    if channel is not None:
        lines.append(f"channel_id = {channel}")
    if guild is not None:
        lines.append(f"guild_id = {guild}")
    return "\n".join([*lines, extra, ""])


def one_good_feed(tmp_path: Path, fake: FakeDiscord, feed_server: FeedServer) -> Path:
    """A config whose one feed is reachable, routed to the default channel and has a talk."""
    d = fake.defaults
    assert d is not None
    feed_server.body = talks_from_now(1)
    return write_config(
        tmp_path, fake, feed("cs-seminar", feed_server.url, d.seminars.id, d.guild.id)
    )


async def check_online(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["check-config", "--online", "--config", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_a_good_setup_passes_and_prints_the_invite_link(
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = fake_discord.defaults
    feed_server.body = talks_from_now(1, 2, 30)
    path = write_config(
        tmp_path, fake_discord, feed("cs-seminar", feed_server.url, d.seminars.id, d.guild.id)
    )
    code, out, err = await check_online(path, capsys)
    assert (code, err) == (0, "")
    assert "feed 'cs-seminar': posts to #seminars in 'Test University'" in out
    assert "2 event(s) in the next 7d" in out
    assert (
        "https://discord.com/oauth2/authorize?client_id="
        f"{fake_discord.application_id}&scope=bot+applications.commands&permissions=84992"
    ) in out
    assert "All checks passed" in out
    assert token not in out + err
    # Nothing was posted: the check only reads.
    assert fake_discord.sent == []
    assert {r.method for r in fake_discord.requests} == {"GET"}


async def test_every_mistake_is_reported_in_one_list(
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = fake_discord.defaults
    d.bot_role.permissions &= ~(MANAGE_EVENTS | CREATE_EVENTS)
    # A server the bot was never added to.
    stranger = guild_without_the_bot(fake_discord)
    second = second_server_with_the_bot(fake_discord)
    voice = FakeChannel(9_300_000_000_000_001, "lecture-hall", 2, d.guild.id)
    d.guild.channels.append(voice)
    feed_server.body = talks_from_now(1, 3)
    far_away = tmp_path / "far.ics"
    far_away.write_bytes(talks_from_now(40))
    not_calendar = tmp_path / "page.ics"
    not_calendar.write_text("<html><body>Events</body></html>", encoding="utf-8")
    good = feed_server.url
    feeds = "".join(
        [
            feed("no-channel", good, None, None),
            feed("no-guild", good, d.seminars.id, None),
            feed("not-member", good, stranger.channels[0].id, stranger.id),
            feed("no-such-server", good, d.seminars.id, 4242424242424242),
            feed("read-only", good, d.readonly.id, d.guild.id),
            feed("gone-channel", good, 5555555555555555, d.guild.id),
            feed("other-server", good, second.channels[0].id, d.guild.id),
            feed("hidden-channel", good, stranger.channels[0].id, d.guild.id),
            feed("voice", good, voice.id, d.guild.id),
            feed("no-role", good, d.seminars.id, d.guild.id, "mention_role_id = 77777777777"),
            feed("unreachable", "http://127.0.0.1:9/cal.ics", d.seminars.id, d.guild.id),
            feed("not-calendar", str(not_calendar), d.seminars.id, d.guild.id),
            feed("quiet", str(far_away), d.seminars.id, d.guild.id),
            feed("mirror", good, d.seminars.id, d.guild.id, "scheduled_events = true"),
        ]
    )
    path = write_config(tmp_path, fake_discord, feeds, discord_extra="scheduled_events = true")
    code, out, err = await check_online(path, capsys)
    assert code == 1
    assert token not in out + err
    problems = [line.removeprefix("  - ") for line in err.splitlines()[1:]]
    assert err.splitlines()[0] == f"{len(problems)} problem(s) to fix before `seminar-bot run`:"

    def about(name: str) -> list[str]:
        return [p for p in problems if p.startswith(f"feed {name!r}")]

    assert "channel_id is not set (0)" in about("no-channel")[0]
    assert "guild_id is not set (0)" in about("no-channel")[1]
    assert about("no-guild") == [
        f"feed 'no-guild': guild_id is not set (0); its channel is in server {d.guild.id}: "
        f"set guild_id = {d.guild.id}"
    ]
    assert "the bot is not a member of server 'Elsewhere'" in about("not-member")[0]
    assert "not a member of server 4242424242424242" in about("no-such-server")[0]
    assert "lacks Send Messages in #read-only in 'Test University'" in about("read-only")[0]
    assert "has no channel 5555555555555555" in about("gone-channel")[0]
    assert f"is in server {second.id}, not in 'Test University'" in about("other-server")[0]
    assert "the bot cannot see it" in about("hidden-channel")[0]
    assert "#lecture-hall in 'Test University' is not a text" in about("voice")[0]
    assert "mention_role_id 77777777777 is not a role of 'Test University'" in about("no-role")[0]
    assert "could not be read (connection" in about("unreachable")[0]
    assert "could not be read (not_a_calendar)" in about("not-calendar")[0]
    assert "no events in the announce window (the next 7d)" in about("quiet")[0]
    assert "the next one is on" in about("quiet")[0]
    assert "the Events mirror is on but the bot lacks Manage Events" in about("mirror")[0]
    # Only the problems above: the sound parts of each feed are not reported.
    assert len(problems) == 15
    # The invite asks for Manage Events because the mirror is on.
    assert "permissions=8590019584" in out


def guild_without_the_bot(fake: FakeDiscord) -> FakeGuild:
    """A server that exists but does not have the bot as a member."""
    owner = fake.defaults.owner
    guild_id = 9_100_000_000_000_000
    guild = FakeGuild(
        guild_id,
        "Elsewhere",
        owner.id,
        roles=[FakeRole(guild_id, "@everyone", VIEW_CHANNEL | SEND_MESSAGES)],
        channels=[FakeChannel(9_100_000_000_000_001, "talks", 0, guild_id)],
        members=[FakeMember(owner)],
    )
    fake.add_guild(guild)
    return guild


def second_server_with_the_bot(fake: FakeDiscord) -> FakeGuild:
    guild_id = 9_200_000_000_000_000
    guild = FakeGuild(
        guild_id,
        "Second Campus",
        fake.defaults.owner.id,
        roles=[FakeRole(guild_id, "@everyone", VIEW_CHANNEL | SEND_MESSAGES)],
        channels=[FakeChannel(9_200_000_000_000_001, "talks", 0, guild_id)],
        members=[FakeMember(fake.defaults.owner), FakeMember(fake.defaults.bot)],
    )
    fake.add_guild(guild)
    return guild


async def test_a_refused_token_is_reported_and_never_echoed(
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = one_good_feed(tmp_path, fake_discord, feed_server)
    wrong = token.rsplit(".", 1)[0] + "." + "q" * 38  # same bot id, wrong secret part
    monkeypatch.setenv("DISCORD_TOKEN", wrong)
    code, out, err = await check_online(path, capsys)
    assert code == 3
    assert "Discord refused the token (401 Unauthorized)" in err
    assert wrong not in out + err and token not in out + err
    # The application id is in the token, so the invite link is still printed.
    assert f"client_id={fake_discord.application_id}" in out


async def test_an_error_body_echoing_the_token_is_never_printed(
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = one_good_feed(tmp_path, fake_discord, feed_server)
    fake_discord.inject_fault(
        "GET", "/users/@me", 400, code=50035, message=f"bad request; Authorization: Bot {token}"
    )
    code, out, err = await check_online(path, capsys)
    assert code == 1
    assert "did not accept the login (HTTP 400, Discord code 50035)" in err
    assert token not in out + err


async def test_an_unreachable_discord_is_reported_and_the_feeds_still_checked(
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = fake_discord.defaults
    feed_server.body = talks_from_now(1)
    config = feed("cs-seminar", feed_server.url, d.seminars.id, d.guild.id)
    path = write_config(tmp_path, fake_discord, config)
    text = path.read_text().replace(fake_discord.api_base_url, "http://127.0.0.1:9/api/v10")
    path.write_text(text)
    code, out, err = await check_online(path, capsys)
    assert code == 1
    assert "could not reach Discord at http://127.0.0.1:9/" in err
    assert "the calendar reads; 1 event(s) in the next 7d." in out
    assert feed_server.hits == 1


def test_online_check_needs_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("DISCORD_TOKEN_FILE", raising=False)
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    assert main(["check-config", "--online", "--config", str(path)]) == 2
    assert "DISCORD_TOKEN" in capsys.readouterr().err


def test_the_application_id_is_read_from_the_token() -> None:
    assert application_id_from_token(realistic_token(1234567890123456789)) == 1234567890123456789
    assert application_id_from_token("not a token at all") is None
    assert application_id_from_token("") is None


@pytest.mark.parametrize(
    ("mirror", "threads", "readme_value"),
    [
        (False, False, 84992),
        (True, False, 8590019584),
        (False, True, 309237730304),
        (True, True, 317827664896),
    ],
)
def test_the_invite_asks_for_what_the_bot_checks(
    mirror: bool, threads: bool, readme_value: int
) -> None:
    expected = discord.Permissions(
        view_channel=True, send_messages=True, embed_links=True, read_message_history=True
    )
    expected.manage_events = mirror
    expected.create_public_threads = threads
    expected.send_messages_in_threads = threads
    assert (
        needed_permissions(scheduled_events=mirror, talk_threads=threads)
        == expected.value
        == readme_value
    )


async def test_threads_without_their_permissions_are_reported_and_the_invite_asks_for_them(
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    d = fake_discord.defaults
    feed_server.body = talks_from_now(1)
    path = write_config(
        tmp_path,
        fake_discord,
        feed("cs-seminar", feed_server.url, d.seminars.id, d.guild.id, "talk_threads = true"),
    )
    code, out, err = await check_online(path, capsys)
    assert code != 0
    assert (
        "feed 'cs-seminar': talk_threads is on but the bot lacks Create Public Threads, "
        "Send Messages in Threads in #seminars in 'Test University'"
    ) in out + err
    assert "permissions=309237730304" in out


def test_channel_overwrites_apply_in_discord_s_order() -> None:
    guild, bot, role = 1, 2, 3
    base = base_permissions(
        guild_id=guild,
        owner_id=99,
        member_id=bot,
        member_role_ids=[role],
        role_permissions={guild: VIEW_CHANNEL, role: SEND_MESSAGES | EMBED_LINKS},
    )
    assert base == VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS

    def inside(*overwrites: Overwrite) -> int:
        return channel_permissions(
            base, guild_id=guild, member_id=bot, member_role_ids=[role], overwrites=overwrites
        )

    everyone_denies = Overwrite(guild, False, allow=0, deny=VIEW_CHANNEL)
    role_allows = Overwrite(role, False, allow=VIEW_CHANNEL, deny=0)
    member_denies = Overwrite(bot, True, allow=0, deny=SEND_MESSAGES)
    assert inside(everyone_denies) == 0  # nothing at all without View Channel
    assert inside(everyone_denies, role_allows) == base
    assert inside(everyone_denies, role_allows, member_denies) == VIEW_CHANNEL | EMBED_LINKS
    admin = base_permissions(
        guild_id=guild,
        owner_id=99,
        member_id=bot,
        member_role_ids=[role],
        role_permissions={role: ADMINISTRATOR},
    )
    assert (
        channel_permissions(
            admin,
            guild_id=guild,
            member_id=bot,
            member_role_ids=[role],
            overwrites=[everyone_denies],
        )
        & VIEW_CHANNEL
    )


async def test_a_rate_limited_request_is_retried(
    fake_discord: FakeDiscord,
    feed_server: FeedServer,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = one_good_feed(tmp_path, fake_discord, feed_server)
    fake_discord.inject_fault("GET", "/guilds/*/channels", 429, retry_after=0.01)
    code, out, err = await check_online(path, capsys)
    assert "All checks passed" in out
    assert (code, err) == (0, "")
    assert fake_discord.rate_limited_count == 1
