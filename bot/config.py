"""The operator's TOML configuration, validated once at start-up into frozen dataclasses.

Every mistake is reported with the key and, where it can be found, the file line, so an
operator never has to guess which of thirty settings is wrong. Secrets never live here: the
token comes from ``DISCORD_TOKEN`` or a file (Docker secrets).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.durations import parse_duration
from bot.core.seminar.feed_pattern import FeedPatternError, compile_pattern
from bot.core.shards import ShardSet
from bot.core.templates import TemplateError, parse_template
from bot.core.weekly_digest import parse_spec
from bot.errors import ConfigError
from bot.toml_lines import KeyPath, key_lines

DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
_FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Overrides ``[storage] path`` (the Docker image points it at its /data volume).
DATABASE_ENV = "SEMINAR_BOT_DB"
#: Overrides ``[discord] shard_ids``, so shard processes can share one config file.
SHARD_IDS_ENV = "SEMINAR_BOT_SHARD_IDS"


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
    #: Start a discussion thread from each talk's announcement (needs the thread permissions).
    talk_threads: bool = False
    #: Regular expressions with named groups (speaker, affiliation, title, series) for a house
    #: style the built-in seminar rules miss; "" = built-in rules only.
    seminar_summary_pattern: str = ""
    seminar_description_pattern: str = ""
    #: Templates for the card's title line and a lead line above the abstract, with fields
    #: from ``bot.core.templates.FIELDS``; "" = the default title, no lead line.
    title_template: str = ""
    lead_template: str = ""


@dataclass(frozen=True)
class DiscordSettings:
    api_base_url: str = DEFAULT_API_BASE_URL
    gateway_url: str = DEFAULT_GATEWAY_URL
    token_file: str = ""
    admin_role_id: int | None = None
    admin_channel_id: int | None = None
    command_guild_ids: tuple[int, ...] = ()
    scheduled_events: bool = False
    #: Gateway sharding: None = one unsharded session (every server in this process).
    shard_count: int | None = None
    #: The shards this process runs; () with a shard_count = all of them.
    shard_ids: tuple[int, ...] = ()
    #: Whether this process syncs the slash commands; None = only the process with shard 0.
    sync_commands: bool | None = None
    #: The bot's share of Discord's global budget (50 requests per second in all).
    requests_per_second: float = 45.0

    @property
    def shards(self) -> ShardSet:
        return ShardSet(self.shard_count, self.shard_ids)

    @property
    def syncs_commands(self) -> bool:
        """Global command sync is done by one process only (see ``sync_commands``)."""
        if self.sync_commands is not None:
            return self.sync_commands
        return self.shards.runs_shard_zero()


@dataclass(frozen=True)
class Config:
    storage_path: Path = Path("data/seminar-bot.db")
    timezone: str = "UTC"
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    feeds: tuple[FeedSettings, ...] = ()
    log_level: str = "INFO"
    log_format: str = "text"
    source: Path | None = None


class _Problems:
    """Every mistake found in one file, so the operator fixes them all in one go."""

    def __init__(self, source: str, lines: dict[KeyPath, int]) -> None:
        self.source = source
        self.lines = lines
        self.found: list[tuple[int, str]] = []
        #: Unknown keys with the keys their table knows, and every table's known keys.
        self.unknown: list[tuple[KeyPath, list[str]]] = []
        self.tables: dict[str, set[str]] = {}

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, else of the nearest table or key that contains it."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def add(self, path: KeyPath, message: str) -> None:
        dotted = ""
        for part in path:
            dotted += f"[{part}]" if isinstance(part, int) else f"{'.' if dotted else ''}{part}"
        line = self.line_of(path)
        where = f"{self.source}, line {line}" if line else self.source
        self.found.append((line or 0, f"{where}: {dotted}: {message}"))

    def note_table(self, path: KeyPath, keys: set[str]) -> None:
        self.tables.setdefault(_table_label(path), set()).update(keys)

    def _report_unknown(self) -> None:
        """Suggest a close spelling here, else the table where the key does belong."""
        for path, known in self.unknown:
            key = str(path[-1])
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            homes = [t for t, keys in self.tables.items() if key in keys]
            if homes:
                hint = f"it belongs in {' or '.join(homes)}"
                hint += f"; or did you mean {close[0]!r}?" if close else ""
            elif close:
                hint = f"did you mean {close[0]!r}?"
            elif known:
                hint = "the settings here are " + ", ".join(known)
            else:
                hint = "no settings belong here"
            self.add(path, f"unknown setting ({hint})")
        self.unknown.clear()

    def raise_if_any(self) -> None:
        self._report_unknown()
        if not self.found:
            return
        ordered = [text for _, text in sorted(self.found, key=lambda item: item[0])]
        if len(ordered) == 1:
            raise ConfigError(ordered[0])
        raise ConfigError(
            f"{self.source}: {len(ordered)} problems:\n" + "\n".join(f"  {t}" for t in ordered)
        )


def _table_label(path: KeyPath) -> str:
    if not path:
        return "the top level"
    if isinstance(path[-1], int):
        return f"a [[{'.'.join(str(p) for p in path[:-1])}]] table"
    return f"[{'.'.join(str(p) for p in path)}]"


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        int: "a whole number",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return f"{type(value).__name__} {value!r}"


class _Reader:
    """Walks one TOML table, remembering its key path so problems can name the key and line.

    A wrong value is recorded and replaced by the default, so reading goes on and every
    problem of the file ends up in one report.
    """

    def __init__(self, data: Any, path: KeyPath, problems: _Problems) -> None:
        self.data: Mapping[str, Any] = data if isinstance(data, dict) else {}
        self.path = path
        self.problems = problems
        self.used: set[str] = set()
        #: Keys already reported, so one wrong value is not also reported as missing.
        self.failed: set[str] = set()

    def problem(self, key: str, message: str) -> None:
        self.failed.add(key)
        self.problems.add((*self.path, key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML's true/false are Python ints; a float is never a count or an id.
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if wrong_bool or not isinstance(value, kinds):
            self.problem(key, f"expected {_kind_name(kind)}, got {_shown(value)}")
            return default
        return value

    def table(self, key: str) -> _Reader:
        return _Reader(self.get(key, dict, {}), (*self.path, key), self.problems)

    def duration(self, key: str, default: timedelta) -> timedelta:
        raw = self.get(key, str, None)
        if raw is None:
            return default
        try:
            return parse_duration(raw)
        except ValueError as exc:
            self.problem(key, str(exc))
            return default

    def snowflake(self, key: str) -> int | None:
        """A Discord id: a whole number or a string of digits; absent, 0 or "" mean unset."""
        self.used.add(key)
        raw = self.data.get(key)
        if isinstance(raw, bool) or not isinstance(raw, (int, str, type(None))):
            self.problem(key, f"{_shown(raw)} is not a Discord id (a long number)")
            return None
        value = _snowflake(raw)
        if isinstance(value, str):
            self.problem(key, value)
            return None
        return value

    def timezone(self, key: str, default: str) -> str:
        raw = self.get(key, str, default)
        if raw:
            try:
                ZoneInfo(raw)
            except (ZoneInfoNotFoundError, ValueError):
                self.problem(
                    key, f"unknown time zone {raw!r}; use an IANA name like America/New_York"
                )
                return default
        return str(raw)

    def string_list(self, key: str) -> tuple[str, ...]:
        raw = self.get(key, list, [])
        if not all(isinstance(item, str) and item.strip() for item in raw):
            self.problem(key, "expected a list of non-empty strings")
            return ()
        return tuple(item.strip() for item in raw)

    def check_unknown(self) -> None:
        """Note the keys this table does not know; reported once every table is known."""
        self.problems.note_table(self.path, self.used)
        for key in self.data:
            if key not in self.used:
                self.failed.add(key)
                self.problems.unknown.append(((*self.path, key), sorted(self.used)))


def _snowflake(raw: int | str | None) -> int | str | None:
    """A Discord id, None when unset (absent, 0 or ""), or the reason it is not an id."""
    if raw is None or raw in (0, ""):
        return None
    if isinstance(raw, str) and not (raw.strip().isascii() and raw.strip().isdigit()):
        # Never echo a long string: a token pasted into the wrong key must not be printed.
        shown = repr(raw) if len(raw) <= 24 else f"a {len(raw)}-character string"
        return f"{shown} is not a Discord id (a long number)"
    value = int(raw)
    if not 0 < value < 2**64:
        return f"{raw!r} is not a Discord id"
    return value


def load_config(path: str | os.PathLike[str], *, require_routing: bool = False) -> Config:
    """Read and validate a config file; raise ConfigError listing every bad key.

    ``require_routing`` also refuses feeds without a channel or server id (the example's 0):
    ``run`` and ``check-config`` need them, a dry-run preview does not.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: the config file is not UTF-8 text") from None
    return parse_config(text, source=source, require_routing=require_routing)


def parse_config(text: str, *, source: Path | None = None, require_routing: bool = False) -> Config:
    name = str(source) if source else "<config>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    problems = _Problems(name, key_lines(text))
    top = _Reader(data, (), problems)
    base_dir = source.parent if source else Path.cwd()

    storage = top.table("storage")
    storage_path = Path(storage.get("path", str, "data/seminar-bot.db") or "data/seminar-bot.db")
    if not storage_path.is_absolute():
        storage_path = base_dir / storage_path
    storage.check_unknown()

    defaults = top.table("defaults")
    timezone = defaults.timezone("timezone", "UTC") or "UTC"
    default_feed = FeedSettings(
        name="-",
        url="-",
        poll_interval=_at_least(
            defaults, "poll_interval", timedelta(minutes=15), timedelta(minutes=1)
        ),
        announce_window=defaults.duration("announce_window", timedelta(days=7)),
        reminder_offsets=_offsets(defaults, FeedSettings.reminder_offsets),
        baseline=_baseline(defaults, "silent"),
    )
    defaults.check_unknown()

    discord_reader = top.table("discord")
    discord = DiscordSettings(
        api_base_url=_url(discord_reader, "api_base_url", DEFAULT_API_BASE_URL, ("http", "https")),
        gateway_url=_url(discord_reader, "gateway_url", DEFAULT_GATEWAY_URL, ("ws", "wss")),
        token_file=discord_reader.get("token_file", str, ""),
        admin_role_id=discord_reader.snowflake("admin_role_id"),
        admin_channel_id=discord_reader.snowflake("admin_channel_id"),
        command_guild_ids=_snowflakes(discord_reader, "command_guild_ids"),
        scheduled_events=discord_reader.get("scheduled_events", bool, False),
        sync_commands=discord_reader.get("sync_commands", bool, None),
        **_shard_settings(discord_reader),
        requests_per_second=_request_rate(discord_reader),
    )
    if discord_reader.has("token"):
        discord_reader.used.add("token")
        discord_reader.problem(
            "token", "never put the token in the config file; set DISCORD_TOKEN or token_file"
        )
    discord_reader.check_unknown()

    logging_reader = top.table("logging")
    log_level = logging_reader.get("level", str, "INFO").upper()
    if log_level not in _LOG_LEVELS:
        logging_reader.problem("level", f"use one of {', '.join(_LOG_LEVELS)}")
    log_format = logging_reader.get("format", str, "text")
    if log_format not in ("text", "json"):
        logging_reader.problem("format", "use 'text' or 'json'")
    logging_reader.check_unknown()

    if isinstance(data.get("feeds"), dict):
        top.used.add("feeds")
        top.problem("feeds", "write each feed as a [[feeds]] table (double brackets)")
        data = {**data, "feeds": []}
        top.data = data
    feeds: list[FeedSettings] = []
    seen: set[tuple[int, str]] = set()
    for index, raw in enumerate(top.get("feeds", list, [])):
        reader = _Reader(raw, ("feeds", index), problems)
        if not isinstance(raw, dict):
            top.problem("feeds", "each [[feeds]] entry must be a table")
            continue
        feed = _feed(reader, default_feed, require_routing=require_routing)
        reader.check_unknown()
        if (feed.guild_id, feed.name) in seen:
            reader.problem("name", f"two feeds are named {feed.name!r}")
        seen.add((feed.guild_id, feed.name))
        feeds.append(feed)
    top.check_unknown()
    # A feed's settings are the FeedSettings fields, known even when no [[feeds]] is written.
    problems.note_table(("feeds", 0), {f.name for f in fields(FeedSettings)})
    problems.raise_if_any()
    return Config(
        storage_path=storage_path,
        timezone=timezone,
        discord=discord,
        feeds=tuple(feeds),
        log_level=log_level,
        log_format=log_format,
        source=source,
    )


def apply_environment(config: Config, environ: Mapping[str, str] | None = None) -> Config:
    """The config as ``run`` uses it: ``SEMINAR_BOT_DB`` overrides the database path.

    The Docker image sets it to keep the database on its /data volume; ``check-config``
    reports the same path through this function. ``SEMINAR_BOT_SHARD_IDS`` ("0" or "2,3")
    overrides ``[discord] shard_ids``, so every shard process can read the same file.
    """
    env = os.environ if environ is None else environ
    database = env.get(DATABASE_ENV, "").strip()
    if database:
        config = replace(config, storage_path=Path(database))
    shard_ids = env.get(SHARD_IDS_ENV, "").strip()
    if shard_ids:
        ids = _shard_ids_from_env(shard_ids, config.discord.shard_count)
        config = replace(config, discord=replace(config.discord, shard_ids=ids))
    return config


def _shard_ids_from_env(text: str, count: int | None) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise ConfigError(f"{SHARD_IDS_ENV}={text!r}: expected shard ids like 0 or 2,3")
    ids = sorted({int(p) for p in parts})
    if count is None:
        raise ConfigError(f"{SHARD_IDS_ENV} is set but [discord] shard_count is not")
    bad = [i for i in ids if i >= count]
    if bad:
        raise ConfigError(
            f"{SHARD_IDS_ENV}: {bad[0]} is not a shard of {count} (ids go from 0 to {count - 1})"
        )
    return tuple(ids)


_CHANNEL_HELP = (
    "set the id of the channel the announcements go to (0 means not set, so the feed would "
    "never post): in Discord turn on Developer Mode (User Settings > Advanced), then "
    "right-click the channel > Copy Channel ID"
)
_GUILD_HELP = (
    "set the id of the server (guild) the channel belongs to (0 means not set): right-click "
    "the server's icon > Copy Server ID (Developer Mode on)"
)


def _feed(reader: _Reader, defaults: FeedSettings, *, require_routing: bool) -> FeedSettings:
    name = reader.get("name", str, "")
    if not _FEED_NAME.match(name) and "name" not in reader.failed:
        reader.problem(
            "name", "required: 1-32 lower-case letters, digits, '-' or '_' (e.g. cs-seminar)"
        )
    url = reader.get("url", str, "")
    if not url.strip() and "url" not in reader.failed:
        reader.problem("url", "required: the calendar's address (https://…/?ical=1) or a file path")
    channel_id = reader.snowflake("channel_id")
    guild_id = reader.snowflake("guild_id") or 0
    if require_routing and channel_id is None and "channel_id" not in reader.failed:
        reader.problem("channel_id", _CHANNEL_HELP)
    if require_routing and not guild_id and "guild_id" not in reader.failed:
        reader.problem("guild_id", _GUILD_HELP)
    return FeedSettings(
        name=name,
        url=url.strip(),
        channel_id=channel_id,
        guild_id=guild_id,
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
        talk_threads=reader.get("talk_threads", bool, False),
        seminar_summary_pattern=_seminar_pattern(reader, "seminar_summary_pattern"),
        seminar_description_pattern=_seminar_pattern(reader, "seminar_description_pattern"),
        title_template=_template(reader, "title_template"),
        lead_template=_template(reader, "lead_template"),
    )


def _template(reader: _Reader, key: str) -> str:
    raw = str(reader.get(key, str, ""))
    if raw.strip():
        try:
            parse_template(raw)
        except TemplateError as exc:
            reader.problem(key, str(exc))
            return ""
    return raw.strip()


def _seminar_pattern(reader: _Reader, key: str) -> str:
    raw = str(reader.get(key, str, ""))
    if raw:
        try:
            compile_pattern(raw, key)
        except FeedPatternError as exc:
            reader.problem(key, str(exc))
            return ""
    return raw


def _digest(reader: _Reader) -> str:
    raw = reader.get("digest", str, "")
    if not raw.strip():
        return ""
    try:
        return str(parse_spec(raw))
    except ValueError as exc:
        reader.problem("digest", str(exc))
        return ""


def _at_least(reader: _Reader, key: str, default: timedelta, minimum: timedelta) -> timedelta:
    value = reader.duration(key, default)
    if value < minimum:
        reader.problem(key, f"must be at least {int(minimum.total_seconds() // 60)} minute(s)")
        return default
    return value


def _offsets(reader: _Reader, default: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
    raw = reader.get("reminder_offsets", list, None)
    if raw is None:
        return default
    offsets = []
    for item in raw:
        if not isinstance(item, str):
            reader.problem("reminder_offsets", 'expected a list like ["1d", "15m"]')
            return default
        try:
            offsets.append(parse_duration(item))
        except ValueError as exc:
            reader.problem("reminder_offsets", str(exc))
            return default
    return tuple(sorted(set(offsets), reverse=True))


def _baseline(reader: _Reader, default: str) -> str:
    value = reader.get("baseline", str, default)
    if value not in ("silent", "announce"):
        reader.problem("baseline", "use 'silent' (post nothing at first) or 'announce'")
        return default
    return str(value)


def _url(reader: _Reader, key: str, default: str, schemes: tuple[str, ...]) -> str:
    value = reader.get(key, str, default) or default
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in schemes:
        reader.problem(key, f"expected a {' or '.join(schemes)} URL, got {value!r}")
        return default
    return str(value)


#: Far beyond any real bot (Discord asks for one shard per 1,000 servers at most).
MAX_SHARDS = 100_000


def _shard_settings(reader: _Reader) -> dict[str, Any]:
    """``shard_count`` and ``shard_ids``: both optional, ids unique and below the count."""
    count = reader.get("shard_count", int, None)
    if count is not None and not 1 <= count <= MAX_SHARDS:
        reader.problem("shard_count", f"must be between 1 and {MAX_SHARDS}, got {count}")
        count = None
    raw_ids = reader.get("shard_ids", list, [])
    ids: list[int] = []
    for item in raw_ids:
        if isinstance(item, bool) or not isinstance(item, int):
            reader.problem("shard_ids", f"expected a list of whole numbers, got {_shown(item)}")
            return {"shard_count": count, "shard_ids": ()}
        ids.append(item)
    if ids and count is None and "shard_count" not in reader.failed:
        reader.problem("shard_ids", "set shard_count too (the total number of shards)")
    elif count is not None:
        bad = [i for i in ids if not 0 <= i < count]
        if bad:
            reader.problem(
                "shard_ids",
                f"{bad[0]} is not a shard of {count}: shard ids go from 0 to {count - 1}",
            )
            ids = []
    if len(set(ids)) != len(ids):
        reader.problem("shard_ids", "lists a shard twice")
        ids = []
    if raw_ids == [] and reader.has("shard_ids") and "shard_ids" not in reader.failed:
        reader.problem("shard_ids", "is empty; leave it out to run every shard")
    return {"shard_count": count, "shard_ids": tuple(sorted(ids))}


def _request_rate(reader: _Reader) -> float:
    """Requests per second for all the bot's REST traffic; Discord allows 50 in all."""
    value = reader.get("requests_per_second", (int, float), 45.0)
    if not 1 <= value <= 50:
        reader.problem("requests_per_second", f"expected 1 to 50, got {_shown(value)}")
        return 45.0
    return float(value)


def _snowflakes(reader: _Reader, key: str) -> tuple[int, ...]:
    values = []
    for item in reader.get(key, list, []):
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            reader.problem(key, f"{_shown(item)} is not a Discord id (a long number)")
            continue
        value = _snowflake(item)
        if isinstance(value, str) or value is None:
            reader.problem(key, value or f"{item!r} is not a Discord id")
            continue
        values.append(value)
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
