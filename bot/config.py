"""The operator's TOML configuration, validated once at start-up into frozen dataclasses.

Every mistake is reported with the key and, where it can be found, the file line, so an
operator never has to guess which of thirty settings is wrong. Secrets never live here: the
token comes from ``DISCORD_TOKEN`` or a file (Docker secrets).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.durations import parse_duration
from bot.core.seminar.feed_pattern import FeedPatternError, compile_pattern
from bot.core.weekly_digest import parse_spec
from bot.errors import ConfigError

DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
_FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class FeedSettings:
    """One feed routed to one channel. Also the shape of feeds added from Discord."""

    name: str
    url: str
    channel_id: int | None = None
    guild_id: int = 0
    poll_interval: timedelta = timedelta(minutes=15)
    announce_window: timedelta = timedelta(days=7)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    mention_role_id: int | None = None
    reminder_offsets: tuple[timedelta, ...] = (timedelta(days=1), timedelta(minutes=15))
    timezone: str = ""
    baseline: str = "silent"
    paused: bool = False
    #: Mirror upcoming talks into the server's Events tab (needs ``[discord] scheduled_events``).
    scheduled_events: bool = False
    #: Weekly digest time in the feed's zone, e.g. "mon 09:00"; "" = no digest.
    digest: str = ""
    #: Regular expressions with named groups (speaker, affiliation, title, series) for a house
    #: style the built-in seminar rules miss; "" = built-in rules only.
    seminar_summary_pattern: str = ""
    seminar_description_pattern: str = ""


@dataclass(frozen=True)
class DiscordSettings:
    api_base_url: str = DEFAULT_API_BASE_URL
    gateway_url: str = DEFAULT_GATEWAY_URL
    token_file: str = ""
    admin_role_id: int | None = None
    admin_channel_id: int | None = None
    command_guild_ids: tuple[int, ...] = ()
    scheduled_events: bool = False


@dataclass(frozen=True)
class Config:
    storage_path: Path = Path("data/seminar-bot.db")
    timezone: str = "UTC"
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    feeds: tuple[FeedSettings, ...] = ()
    log_level: str = "INFO"
    log_format: str = "text"
    source: Path | None = None


class _Reader:
    """Walks one TOML table, remembering the dotted path so errors can name the key."""

    def __init__(self, data: Mapping[str, Any], path: str, lines: list[str], source: str) -> None:
        self.data = data
        self.path = path
        self.lines = lines
        self.source = source
        self.used: set[str] = set()

    def error(self, key: str, message: str) -> ConfigError:
        dotted = f"{self.path}.{key}" if self.path else key
        line = _find_line(self.lines, key)
        where = f"{self.source}, line {line}" if line else self.source
        return ConfigError(f"{where}: {dotted}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, bool) and kind is int:
            raise self.error(key, "expected a whole number, got true/false")
        if not isinstance(value, kind):
            expected = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.error(key, f"expected {expected}, got {type(value).__name__} {value!r}")
        return value

    def duration(self, key: str, default: timedelta) -> timedelta:
        raw = self.get(key, str, None)
        if raw is None:
            return default
        try:
            return parse_duration(raw)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def snowflake(self, key: str) -> int | None:
        raw = self.get(key, (int, str), None)
        if raw is None or raw in (0, ""):
            return None
        try:
            value = int(raw)
        except ValueError:
            raise self.error(key, f"{raw!r} is not a Discord id (a long number)") from None
        if not 0 < value < 2**64:
            raise self.error(key, f"{raw!r} is not a Discord id")
        return value

    def timezone(self, key: str, default: str) -> str:
        raw = self.get(key, str, default)
        if raw:
            try:
                ZoneInfo(raw)
            except (ZoneInfoNotFoundError, ValueError):
                raise self.error(
                    key, f"unknown time zone {raw!r}; use an IANA name like America/New_York"
                ) from None
        return str(raw)

    def string_list(self, key: str) -> tuple[str, ...]:
        raw = self.get(key, list, [])
        if not all(isinstance(item, str) and item.strip() for item in raw):
            raise self.error(key, "expected a list of non-empty strings")
        return tuple(item.strip() for item in raw)

    def check_unknown(self) -> None:
        for key in self.data:
            if key not in self.used:
                raise self.error(
                    key, "unknown setting (check the spelling against config.example.toml)"
                )


def _find_line(lines: list[str], key: str) -> int | None:
    pattern = re.compile(rf"^\s*(?:\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(?:=|\]|\.)")
    for number, line in enumerate(lines, start=1):
        if pattern.match(line):
            return number
    return None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a config file; raise ConfigError naming the bad key."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: the config file is not UTF-8 text") from None
    return parse_config(text, source=source)


def parse_config(text: str, *, source: Path | None = None) -> Config:
    name = str(source) if source else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    lines = text.splitlines()
    top = _Reader(data, "", lines, name)
    base_dir = source.parent if source else Path.cwd()

    storage = _Reader(top.get("storage", dict, {}), "storage", lines, name)
    storage_path = Path(storage.get("path", str, "data/seminar-bot.db"))
    if not storage_path.is_absolute():
        storage_path = base_dir / storage_path
    storage.check_unknown()

    defaults = _Reader(top.get("defaults", dict, {}), "defaults", lines, name)
    timezone = defaults.timezone("timezone", "UTC") or "UTC"
    default_feed = FeedSettings(
        name="-",
        url="-",
        poll_interval=defaults.duration("poll_interval", timedelta(minutes=15)),
        announce_window=defaults.duration("announce_window", timedelta(days=7)),
        reminder_offsets=_offsets(defaults, FeedSettings.reminder_offsets),
        baseline=_baseline(defaults, "silent"),
    )
    defaults.check_unknown()

    discord_reader = _Reader(top.get("discord", dict, {}), "discord", lines, name)
    discord = DiscordSettings(
        api_base_url=_url(discord_reader, "api_base_url", DEFAULT_API_BASE_URL, ("http", "https")),
        gateway_url=_url(discord_reader, "gateway_url", DEFAULT_GATEWAY_URL, ("ws", "wss")),
        token_file=discord_reader.get("token_file", str, ""),
        admin_role_id=discord_reader.snowflake("admin_role_id"),
        admin_channel_id=discord_reader.snowflake("admin_channel_id"),
        command_guild_ids=_snowflakes(discord_reader, "command_guild_ids"),
        scheduled_events=discord_reader.get("scheduled_events", bool, False),
    )
    if "token" in discord_reader.data:
        raise discord_reader.error(
            "token", "never put the token in the config file; set DISCORD_TOKEN or token_file"
        )
    discord_reader.check_unknown()

    logging_reader = _Reader(top.get("logging", dict, {}), "logging", lines, name)
    log_level = logging_reader.get("level", str, "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise logging_reader.error("level", f"use one of {', '.join(_LOG_LEVELS)}")
    log_format = logging_reader.get("format", str, "text")
    if log_format not in ("text", "json"):
        raise logging_reader.error("format", "use 'text' or 'json'")
    logging_reader.check_unknown()

    feeds: list[FeedSettings] = []
    seen: set[tuple[int, str]] = set()
    for index, raw in enumerate(top.get("feeds", list, [])):
        if not isinstance(raw, dict):
            raise top.error("feeds", "each [[feeds]] entry must be a table")
        feed = _feed(_Reader(raw, f"feeds[{index}]", lines, name), default_feed)
        if (feed.guild_id, feed.name) in seen:
            raise top.error("feeds", f"two feeds are named {feed.name!r}")
        seen.add((feed.guild_id, feed.name))
        feeds.append(feed)
    top.check_unknown()
    return Config(
        storage_path=storage_path,
        timezone=timezone,
        discord=discord,
        feeds=tuple(feeds),
        log_level=log_level,
        log_format=log_format,
        source=source,
    )


def _feed(reader: _Reader, defaults: FeedSettings) -> FeedSettings:
    name = reader.get("name", str, "")
    if not _FEED_NAME.match(name):
        raise reader.error(
            "name", "required: 1-32 lower-case letters, digits, '-' or '_' (e.g. cs-seminar)"
        )
    url = reader.get("url", str, "")
    if not url.strip():
        raise reader.error(
            "url", "required: the calendar's address (https://…/?ical=1) or a file path"
        )
    return FeedSettings(
        name=name,
        url=url.strip(),
        channel_id=reader.snowflake("channel_id"),
        guild_id=reader.snowflake("guild_id") or 0,
        poll_interval=_at_least(
            reader, "poll_interval", defaults.poll_interval, timedelta(minutes=1)
        ),
        announce_window=reader.duration("announce_window", defaults.announce_window),
        include=reader.string_list("include"),
        exclude=reader.string_list("exclude"),
        mention_role_id=reader.snowflake("mention_role_id"),
        reminder_offsets=_offsets(reader, defaults.reminder_offsets),
        timezone=reader.timezone("timezone", ""),
        baseline=_baseline(reader, defaults.baseline),
        paused=reader.get("paused", bool, False),
        scheduled_events=reader.get("scheduled_events", bool, False),
        digest=_digest(reader),
        seminar_summary_pattern=_seminar_pattern(reader, "seminar_summary_pattern"),
        seminar_description_pattern=_seminar_pattern(reader, "seminar_description_pattern"),
    )


def _seminar_pattern(reader: _Reader, key: str) -> str:
    raw = str(reader.get(key, str, ""))
    if raw:
        try:
            compile_pattern(raw, key)
        except FeedPatternError as exc:
            raise reader.error(key, str(exc)) from None
    return raw


def _digest(reader: _Reader) -> str:
    raw = reader.get("digest", str, "")
    if not raw.strip():
        return ""
    try:
        return str(parse_spec(raw))
    except ValueError as exc:
        raise reader.error("digest", str(exc)) from None


def _at_least(reader: _Reader, key: str, default: timedelta, minimum: timedelta) -> timedelta:
    value = reader.duration(key, default)
    if value < minimum:
        raise reader.error(key, f"must be at least {int(minimum.total_seconds() // 60)} minute(s)")
    return value


def _offsets(reader: _Reader, default: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
    raw = reader.get("reminder_offsets", list, None)
    if raw is None:
        return default
    offsets = []
    for item in raw:
        if not isinstance(item, str):
            raise reader.error("reminder_offsets", 'expected a list like ["1d", "15m"]')
        try:
            offsets.append(parse_duration(item))
        except ValueError as exc:
            raise reader.error("reminder_offsets", str(exc)) from None
    return tuple(sorted(set(offsets), reverse=True))


def _baseline(reader: _Reader, default: str) -> str:
    value = reader.get("baseline", str, default)
    if value not in ("silent", "announce"):
        raise reader.error("baseline", "use 'silent' (post nothing at first) or 'announce'")
    return str(value)


def _url(reader: _Reader, key: str, default: str, schemes: tuple[str, ...]) -> str:
    value = reader.get(key, str, default) or default
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in schemes:
        raise reader.error(key, f"expected a {' or '.join(schemes)} URL, got {value!r}")
    return str(value)


def _snowflakes(reader: _Reader, key: str) -> tuple[int, ...]:
    raw = reader.get(key, list, [])
    values = []
    for item in raw:
        try:
            values.append(int(item))
        except (TypeError, ValueError):
            raise reader.error(key, f"{item!r} is not a Discord id") from None
    return tuple(values)


def read_token(settings: DiscordSettings, environ: Mapping[str, str] | None = None) -> str:
    """The bot token from ``DISCORD_TOKEN`` or the token file; never logged or echoed."""
    env = os.environ if environ is None else environ
    token = env.get("DISCORD_TOKEN", "").strip()
    token_file = env.get("DISCORD_TOKEN_FILE", "").strip() or settings.token_file
    if not token and token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the token file {token_file}: {exc.strerror}") from None
    if not token:
        raise ConfigError(
            "no Discord token: set the DISCORD_TOKEN environment variable "
            "(or DISCORD_TOKEN_FILE / [discord] token_file for Docker secrets)"
        )
    if any(ch.isspace() for ch in token) or len(token) < 20:
        raise ConfigError("the Discord token looks malformed (it is not shown here on purpose)")
    return token
