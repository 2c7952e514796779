"""The operator's config: every mistake names the key and the line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import load_config, parse_config, read_token
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_is_valid_and_documents_defaults() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.timezone == "UTC"
    assert config.storage_path == ROOT / "data" / "seminar-bot.db"
    (feed,) = config.feeds
    assert feed.name == "cs-seminar"
    assert feed.poll_interval == timedelta(minutes=15)
    assert feed.reminder_offsets == (timedelta(days=1), timedelta(minutes=15))
    assert feed.channel_id is None and feed.mention_role_id is None


def test_feed_overrides_defaults() -> None:
    config = parse_config(
        """
[defaults]
poll_interval = "30m"
[[feeds]]
name = "talks"
url = "webcal://example.org/cal.ics"
channel_id = "123456789012345678"
announce_window = "3d"
reminder_offsets = ["15m", "1h30m"]
include = ["Seminar"]
"""
    )
    (feed,) = config.feeds
    assert feed.poll_interval == timedelta(minutes=30)
    assert feed.announce_window == timedelta(days=3)
    assert feed.reminder_offsets == (timedelta(hours=1, minutes=30), timedelta(minutes=15))
    assert feed.channel_id == 123456789012345678
    assert feed.include == ("Seminar",)


def test_a_feed_can_carry_its_own_seminar_pattern() -> None:
    config = parse_config(
        "[[feeds]]\nname = \"a\"\nurl = \"u\"\n"
        "seminar_summary_pattern = '^(?P<title>.+?) \\| (?P<speaker>.+)$'\n"
    )
    (feed,) = config.feeds
    assert feed.seminar_summary_pattern == "^(?P<title>.+?) \\| (?P<speaker>.+)$"
    assert feed.seminar_description_pattern == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[defaults]\npoll_interval = \"15x\"\n", "line 2: defaults.poll_interval: '15x' is not a duration"),
        ("[defaults]\ntimezone = \"Mars/Base\"\n", "defaults.timezone: unknown time zone"),
        ("[storage]\npaht = \"x.db\"\n", "line 2: storage.paht: unknown setting"),
        ("[[feeds]]\nname = \"Bad Name\"\nurl = \"x\"\n", "line 2: feeds[0].name"),
        ("[[feeds]]\nname = \"ok\"\n", "feeds[0].url: required"),
        ("[[feeds]]\nname = \"ok\"\nurl = \"u\"\nchannel_id = \"abc\"\n", "line 4: feeds[0].channel_id"),
        ("[discord]\ntoken = \"abc\"\n", "never put the token in the config file"),
        ("[discord]\ngateway_url = \"http://x\"\n", "discord.gateway_url: expected a ws or wss URL"),
        ("[logging]\nlevel = \"LOUD\"\n", "logging.level"),
        ("[defaults\n", "not valid TOML"),
        (
            "[[feeds]]\nname = \"a\"\nurl = \"u\"\n[[feeds]]\nname = \"a\"\nurl = \"v\"\n",
            "two feeds are named 'a'",
        ),
        ("[[feeds]]\nname = \"a\"\nurl = \"u\"\npoll_interval = \"10s\"\n", "at least 1 minute"),
        (
            "[[feeds]]\nname = \"a\"\nurl = \"u\"\nseminar_summary_pattern = '(?P<speaker>'\n",
            "line 4: feeds[0].seminar_summary_pattern: seminar_summary_pattern is not a valid",
        ),
        (
            "[[feeds]]\nname = \"a\"\nurl = \"u\"\nseminar_description_pattern = '(?P<who>.+)'\n",
            "unknown group name(s) who",
        ),
    ],
)
def test_mistakes_are_reported_with_key_and_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert expected in str(info.value)


def test_token_comes_from_environment_or_file_and_is_never_echoed(tmp_path: Path) -> None:
    config = parse_config("")
    secret = "MTIzNDU2Nzg5MDEyMzQ1Njc4.secret.token-value"
    assert read_token(config.discord, {"DISCORD_TOKEN": secret}) == secret
    token_file = tmp_path / "token"
    token_file.write_text(secret + "\n")
    assert read_token(config.discord, {"DISCORD_TOKEN_FILE": str(token_file)}) == secret
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        read_token(config.discord, {})
    with pytest.raises(ConfigError) as info:
        read_token(config.discord, {"DISCORD_TOKEN": "short bad"})
    assert "short bad" not in str(info.value)
