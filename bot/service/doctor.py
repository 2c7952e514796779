"""``check-config [--online]``: everything ``run`` needs, checked before it is ever started.

Offline, the file is validated as ``run`` reads it (a channel and server for every feed, the
database path after ``SEMINAR_BOT_DB``). Online, the bot also logs in over Discord's REST API
(no gateway session, nothing is posted), and for every feed resolves the server and channel,
works out the bot's permissions there from the roles and the channel's overwrites, and
fetches and parses the calendar once through the same fetcher, parser process and caps as a
poll. Every problem goes into one list, so the operator fixes them all in one round.

Nothing read from Discord is printed verbatim (an error body may echo request headers), and
every printed line is scrubbed of the token as a last guard.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from bot import __version__
from bot.clock import Clock, SystemClock
from bot.config import (
    DATABASE_ENV,
    Config,
    FeedSettings,
    apply_environment,
    load_config,
    read_token,
)
from bot.core.addresses import redact_url
from bot.core.diff import DiffPolicy, in_announce_window
from bot.core.durations import format_duration
from bot.core.filters import apply_filters
from bot.core.models import sort_key
from bot.core.permissions import (
    CREATE_EVENTS,
    MANAGE_EVENTS,
    POSTING,
    THREADS,
    Overwrite,
    base_permissions,
    channel_permissions,
    invite_url,
    needed_permissions,
    permission_names,
)
from bot.errors import FeedError
from bot.feeds.http import Downloaded, FeedFetcher
from bot.feeds.isolate import ParserPool
from bot.service.poller import PollWindow

#: Exit codes of ``check-config --online`` (2, a config or token mistake, comes from the CLI).
EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_TOKEN_REFUSED = 3

_USER_AGENT = f"DiscordBot (https://github.com/seminar-bot/seminar-bot, {__version__})"
_TEXT_CHANNEL_TYPES = (0, 5)  # text and announcement channels
_RATE_LIMIT_RETRIES = 2
_MAX_RETRY_WAIT = 5.0


def check_config(
    path: Path,
    *,
    online: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Validate the config (and with ``online`` the whole setup); print a report; exit code.

    A mistake in the file itself raises ConfigError, which the CLI reports with exit code 2.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    env = os.environ if environ is None else environ
    # Offline, a feed without channel or server is an error in the file; online the same
    # mistake goes into the full list, with the server id looked up where Discord knows it.
    config = apply_environment(load_config(path, require_routing=not online), env)
    database = f"database {config.storage_path}"
    if env.get(DATABASE_ENV, "").strip():
        database += f" (from {DATABASE_ENV})"
    shards = config.discord.shards
    if shards.sharded:
        sync = "syncs" if config.discord.syncs_commands else "does not sync"
        database += f"; {shards.describe()}, {sync} the slash commands"
    if not online:
        print(f"{path}: OK ({len(config.feeds)} feed(s), {database})", file=out)
        return EXIT_OK
    token = read_token(config.discord, env)
    print(f"{path}: settings valid ({len(config.feeds)} feed(s), {database})", file=out)
    report = asyncio.run(diagnose(config, token))
    return report.write(out, err, token)


# --- the report ---------------------------------------------------------------------------


@dataclass
class Report:
    """What the online check found: fine things, problems, and how to invite the bot."""

    found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    invite: str = ""
    token_refused: bool = False

    @property
    def exit_code(self) -> int:
        if self.token_refused:
            return EXIT_TOKEN_REFUSED
        return EXIT_PROBLEMS if self.problems else EXIT_OK

    def write(self, out: TextIO, err: TextIO, token: str) -> int:
        """Print the report (the token scrubbed from every line); the exit code."""

        def show(text: str, stream: TextIO) -> None:
            print(text.replace(token, "[token]") if token else text, file=stream)

        for line in self.found:
            show(line, out)
        if self.invite:
            show(f"Invite link (adds the bot with the permissions it needs): {self.invite}", out)
        if not self.problems:
            show("All checks passed: `seminar-bot run` has what it needs.", out)
            return self.exit_code
        show(f"{len(self.problems)} problem(s) to fix before `seminar-bot run`:", err)
        for problem in self.problems:
            show(f"  - {problem}", err)
        return self.exit_code


def application_id_from_token(token: str) -> int | None:
    """The bot's id, which a token carries base64-encoded before its first dot."""
    first = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(decoded) if decoded.isdigit() and 0 < int(decoded) < 2**64 else None


# --- Discord over REST --------------------------------------------------------------------


class DiscordUnreachable(Exception):
    """No HTTP answer from the API at all (DNS, connection, timeout)."""


@dataclass(frozen=True)
class _Answer:
    status: int
    data: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def code(self) -> int:
        """Discord's JSON error code (10004 unknown guild, 50001 missing access...), or 0."""
        if isinstance(self.data, dict) and isinstance(self.data.get("code"), int):
            return int(self.data["code"])
        return 0


class _DiscordAPI:
    """GET requests with the bot token; rate limits waited out a bounded number of times."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bot {token}", "User-Agent": _USER_AGENT}

    async def get(self, path: str) -> _Answer:
        for attempt in range(_RATE_LIMIT_RETRIES + 1):
            try:
                async with self._session.get(self._base + path, headers=self._headers) as resp:
                    try:
                        data = await resp.json(content_type=None)
                    except ValueError:
                        data = None
                    status = resp.status
            except TimeoutError:
                raise DiscordUnreachable("no answer in time") from None
            except aiohttp.ClientConnectorError as exc:
                raise DiscordUnreachable(exc.strerror or "cannot connect") from None
            except (aiohttp.ClientError, OSError) as exc:
                raise DiscordUnreachable(type(exc).__name__) from None
            if status != 429 or attempt == _RATE_LIMIT_RETRIES:
                return _Answer(status, data)
            wait = data.get("retry_after", 1.0) if isinstance(data, dict) else 1.0
            await asyncio.sleep(min(float(wait), _MAX_RETRY_WAIT))
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, int]
    channels: dict[int, Mapping[str, Any]]
    member_role_ids: tuple[int, ...]


def _snowflake(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _shown_location(url: str) -> str:
    """A web address without its path (it may hold a secret key); a file path as it is."""
    return redact_url(url) if "://" in url else url


def _not_a_member(server: str) -> str:
    return (
        f"the bot is not a member of {server}: check guild_id, or add the bot to it with "
        "the invite link"
    )


def _explain(answer: _Answer) -> str:
    """An HTTP failure in a few words; never the body, which may echo the request."""
    return f"HTTP {answer.status}" + (f", Discord code {answer.code}" if answer.code else "")


class _Checker:
    def __init__(self, api: _DiscordAPI, config: Config, report: Report, bot_id: int) -> None:
        self.api = api
        self.config = config
        self.report = report
        self.bot_id = bot_id
        self._guilds: dict[int, _Guild | str] = {}

    async def guild(self, guild_id: int) -> _Guild | str:
        """The guild as the bot sees it, or why it cannot (cached: feeds share servers)."""
        if guild_id not in self._guilds:
            self._guilds[guild_id] = await self._load_guild(guild_id)
        return self._guilds[guild_id]

    async def _load_guild(self, guild_id: int) -> _Guild | str:
        info = await self.api.get(f"/guilds/{guild_id}")
        if info.status in (403, 404):
            return _not_a_member(f"server {guild_id} (or no server has that id)")
        if not info.ok or not isinstance(info.data, dict):
            return f"Discord did not describe server {guild_id} ({_explain(info)})"
        name = str(info.data.get("name", guild_id))
        member = await self.api.get(f"/guilds/{guild_id}/members/{self.bot_id}")
        if member.status in (403, 404):
            return _not_a_member(f"server {name!r} ({guild_id})")
        roles_data = info.data.get("roles")
        if not isinstance(roles_data, list):
            roles_answer = await self.api.get(f"/guilds/{guild_id}/roles")
            ok = roles_answer.ok and isinstance(roles_answer.data, list)
            roles_data = roles_answer.data if ok else []
        channels = await self.api.get(f"/guilds/{guild_id}/channels")
        if not member.ok or not channels.ok or not isinstance(channels.data, list):
            failed = member if not member.ok else channels
            return f"Discord did not list server {name!r} ({_explain(failed)})"
        member_data = member.data if isinstance(member.data, dict) else {}
        return _Guild(
            id=guild_id,
            name=name,
            owner_id=_snowflake(info.data.get("owner_id")),
            roles={
                _snowflake(r.get("id")): _snowflake(r.get("permissions"))
                for r in roles_data
                if isinstance(r, dict)
            },
            channels={_snowflake(c.get("id")): c for c in channels.data if isinstance(c, dict)},
            member_role_ids=tuple(_snowflake(r) for r in member_data.get("roles", [])),
        )

    async def route(self, feed: FeedSettings) -> None:
        """Server, channel and permissions of one feed; every problem into the report."""
        label = f"feed {feed.name!r}"
        problems = self.report.problems
        if feed.channel_id is None:
            problems.append(
                f"{label}: channel_id is not set (0), so it would never post: in Discord "
                "turn on Developer Mode (User Settings > Advanced), right-click the channel > "
                "Copy Channel ID, and set channel_id in the [[feeds]] table"
            )
            if not feed.guild_id:
                problems.append(
                    f"{label}: guild_id is not set (0): right-click the server's icon > "
                    "Copy Server ID, and set guild_id"
                )
            return
        guild_id = feed.guild_id
        if not guild_id:
            guild_id = await self._guild_of_channel(label, feed.channel_id)
            if not guild_id:
                return
        guild = await self.guild(guild_id)
        if isinstance(guild, str):
            problems.append(f"{label}: {guild}")
            return
        channel = guild.channels.get(feed.channel_id)
        if channel is None:
            problems.append(f"{label}: {await self._missing_channel(feed.channel_id, guild)}")
            return
        where = f"#{channel.get('name', feed.channel_id)} in {guild.name!r}"
        if channel.get("type") not in _TEXT_CHANNEL_TYPES:
            problems.append(f"{label}: {where} is not a text or announcement channel")
            return
        base = base_permissions(
            guild_id=guild.id,
            owner_id=guild.owner_id,
            member_id=self.bot_id,
            member_role_ids=guild.member_role_ids,
            role_permissions=guild.roles,
        )
        overwrites = [
            Overwrite(
                target_id=_snowflake(o.get("id")),
                is_member=o.get("type") in (1, "member"),
                allow=_snowflake(o.get("allow")),
                deny=_snowflake(o.get("deny")),
            )
            for o in channel.get("permission_overwrites") or []
            if isinstance(o, dict)
        ]
        granted = channel_permissions(
            base,
            guild_id=guild.id,
            member_id=self.bot_id,
            member_role_ids=guild.member_role_ids,
            overwrites=overwrites,
        )
        ok = True
        missing = POSTING & ~granted
        if missing:
            ok = False
            problems.append(
                f"{label}: the bot lacks {', '.join(permission_names(missing))} in {where}: "
                "give its role these permissions there (channel settings > Permissions)"
            )
        features = self._feature_problems(feed, base, granted, guild_name=guild.name, where=where)
        if features:
            ok = False
            problems.extend(f"{label}: {problem}" for problem in features)
        if feed.mention_role_id is not None and feed.mention_role_id not in guild.roles:
            ok = False
            problems.append(
                f"{label}: mention_role_id {feed.mention_role_id} is not a role of "
                f"{guild.name!r} (Server Settings > Roles > right-click > Copy Role ID)"
            )
        if ok:
            self.report.found.append(f"{label}: posts to {where}; the bot may post there.")

    def _feature_problems(
        self, feed: FeedSettings, base: int, granted: int, *, guild_name: str, where: str
    ) -> list[str]:
        """What the feed's optional features (Events mirror, threads) lack."""
        problems = []
        mirrored = self.config.discord.scheduled_events and feed.scheduled_events
        # The mirror edits only events it created, which Create Events also allows.
        if mirrored and not base & (MANAGE_EVENTS | CREATE_EVENTS):
            problems.append(
                f"the Events mirror is on but the bot lacks Manage Events in "
                f"{guild_name!r}: give its role that permission (Server Settings > Roles)"
            )
        lacking = THREADS & ~granted if feed.talk_threads else 0
        if lacking:
            problems.append(
                f"talk_threads is on but the bot lacks {', '.join(permission_names(lacking))} "
                f"in {where}: give its role these permissions there (channel settings > "
                "Permissions)"
            )
        return problems

    async def _guild_of_channel(self, label: str, channel_id: int) -> int:
        """For a feed without guild_id: name the server its channel is in (0 if unknown)."""
        answer = await self.api.get(f"/channels/{channel_id}")
        guild_id = (
            _snowflake(answer.data.get("guild_id"))
            if answer.ok and isinstance(answer.data, dict)
            else 0
        )
        if guild_id:
            self.report.problems.append(
                f"{label}: guild_id is not set (0); its channel is in server {guild_id}: "
                f"set guild_id = {guild_id}"
            )
        else:
            self.report.problems.append(
                f"{label}: guild_id is not set (0), and channel {channel_id} is not visible "
                f"to the bot ({_explain(answer)}): set guild_id (right-click the server's "
                "icon > Copy Server ID) and check channel_id"
            )
        return guild_id

    async def _missing_channel(self, channel_id: int, guild: _Guild) -> str:
        answer = await self.api.get(f"/channels/{channel_id}")
        elsewhere = (
            _snowflake(answer.data.get("guild_id"))
            if answer.ok and isinstance(answer.data, dict)
            else 0
        )
        if elsewhere and elsewhere != guild.id:
            return (
                f"channel {channel_id} is in server {elsewhere}, not in {guild.name!r} "
                f"(guild_id {guild.id}): fix guild_id or channel_id"
            )
        if answer.status == 403:
            return (
                f"channel {channel_id} is not in {guild.name!r} and the bot cannot see it "
                "(another server's channel?): fix guild_id or channel_id"
            )
        return (
            f"{guild.name!r} has no channel {channel_id} (deleted, or a wrong id): "
            "copy the channel id again (right-click the channel > Copy Channel ID)"
        )


# --- the whole check ----------------------------------------------------------------------


async def diagnose(
    config: Config,
    token: str,
    *,
    clock: Clock | None = None,
    fetcher: FeedFetcher | None = None,
    parser: ParserPool | None = None,
    request_timeout: float = 20.0,
) -> Report:
    """Log in, check every feed's route and calendar; never raises for what it finds."""
    report = Report()
    now = (clock or SystemClock()).now()
    own_fetcher, own_parser = fetcher is None, parser is None
    fetcher = fetcher or FeedFetcher()
    parser = parser or ParserPool()
    session_timeout = aiohttp.ClientTimeout(total=request_timeout)
    try:
        async with aiohttp.ClientSession(timeout=session_timeout, trust_env=False) as session:
            api = _DiscordAPI(session, config.discord.api_base_url, token)
            checker, application_id = await _log_in(api, config, report)
            for feed in config.feeds:
                if checker is not None:
                    try:
                        await checker.route(feed)
                    except DiscordUnreachable as exc:
                        _unreachable(config, report, exc)
                        checker = None
                await _check_calendar(feed, config, fetcher, parser, now, report)
    finally:
        if own_fetcher:
            await fetcher.close()
        if own_parser:
            await parser.close()
    application_id = application_id or application_id_from_token(token)
    if application_id is not None:
        mirror = config.discord.scheduled_events and any(f.scheduled_events for f in config.feeds)
        threads = any(f.talk_threads for f in config.feeds)
        report.invite = invite_url(
            application_id, needed_permissions(scheduled_events=mirror, talk_threads=threads)
        )
    return report


def _unreachable(config: Config, report: Report, exc: DiscordUnreachable) -> None:
    report.problems.append(
        f"could not reach Discord at {redact_url(config.discord.api_base_url)} ({exc}): "
        "check the network, or [discord] api_base_url if you use a proxy"
    )


async def _log_in(
    api: _DiscordAPI, config: Config, report: Report
) -> tuple[_Checker | None, int | None]:
    """Who the token belongs to; a checker for the routes when Discord accepted it."""
    try:
        me = await api.get("/users/@me")
        if me.status == 401:
            report.token_refused = True
            report.problems.append(
                "Discord refused the token (401 Unauthorized): copy a fresh one from the "
                "Developer Portal (your application > Bot > Reset Token) into DISCORD_TOKEN"
            )
            return None, None
        if not me.ok or not isinstance(me.data, dict):
            report.problems.append(
                f"Discord at {redact_url(config.discord.api_base_url)} did not accept the "
                f"login ({_explain(me)})"
            )
            return None, None
        application = await api.get("/oauth2/applications/@me")
    except DiscordUnreachable as exc:
        _unreachable(config, report, exc)
        return None, None
    bot_id = _snowflake(me.data.get("id"))
    report.found.append(
        f"Discord: logged in as {me.data.get('username', '?')!r} (user id {bot_id})."
    )
    application_id = None
    if application.ok and isinstance(application.data, dict):
        application_id = _snowflake(application.data.get("id")) or None
    return _Checker(api, config, report, bot_id), application_id


async def _check_calendar(
    feed: FeedSettings,
    config: Config,
    fetcher: FeedFetcher,
    parser: ParserPool,
    now: datetime,
    report: Report,
) -> None:
    """Fetch and parse once like a poll does; count what the announce window would hold."""
    label = f"feed {feed.name!r}"
    window = PollWindow()
    try:
        fetched = await fetcher.fetch(feed.url, trusted=True)
        assert isinstance(fetched, Downloaded)  # no validators were sent
        parsed = await parser.parse(
            fetched.body,
            window_start=now - window.past,
            window_end=now + window.future,
            default_timezone=feed.timezone or config.timezone,
        )
    except FeedError as exc:
        report.problems.append(
            f"{label}: the calendar at {_shown_location(feed.url)} could not be read "
            f"({exc.reason}): {exc}"
        )
        return
    kept = [
        o for o in apply_filters(parsed.occurrences, feed.include, feed.exclude) if not o.cancelled
    ]
    policy = DiffPolicy(announce_window=feed.announce_window)
    soon = [o for o in kept if in_announce_window(o, now, policy)]
    later = sorted(
        (o for o in kept if sort_key(o.start) > now + feed.announce_window),
        key=lambda o: sort_key(o.start),
    )
    span = format_duration(feed.announce_window)
    name = f" ({parsed.calendar_name})" if parsed.calendar_name else ""
    if not soon:
        after = (
            f"; the next one is on {sort_key(later[0].start):%Y-%m-%d}"
            if later
            else "; none later in the next half year either"
        )
        filtered = " after the include/exclude filters" if feed.include or feed.exclude else ""
        report.problems.append(
            f"{label}{name}: no events in the announce window (the next {span}){filtered}"
            f"{after}: the bot would post nothing until one comes into it"
        )
        return
    report.found.append(
        f"{label}{name}: the calendar reads; {len(soon)} event(s) in the next {span}."
    )
