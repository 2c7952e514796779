"""FakeDiscord: the REST API + gateway on 127.0.0.1 that the real discord.py client talks to.

See the package docstring / README for the public API. Handlers answer exactly what discord.py
2.7.1 reads (see /work/shared/docs/discord-protocol.md) and enforce Discord's documented limits,
so a bot that passes against the fake fails for the same reasons it would fail in production.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, web

from . import validation as v
from .gateway import DIRECT_MESSAGES, GUILD_MESSAGES, GUILD_SCHEDULED_EVENTS, FakeGateway
from .records import (
    EPHEMERAL,
    LOADING,
    Delete,
    Edit,
    Fault,
    InteractionRecord,
    InteractionRejected,
    RequestRecord,
    SentMessage,
    UploadedFile,
)
from .state import (
    CREATE_EVENTS,
    MANAGE_EVENTS,
    MANAGE_MESSAGES,
    MENTION_EVERYONE,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    DefaultWorld,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    build_default_world,
    iso_now,
    snowflake,
)

API_PREFIX = "/api/v10"
JSON = "application/json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UserRef = FakeUser | int | str
ChannelRef = FakeChannel | int | str
GuildRef = FakeGuild | int

BODY: web.RequestKey[Any] = web.RequestKey("fake_body", object)
FILES: web.RequestKey[list[UploadedFile]] = web.RequestKey("fake_files", list)
INTERACTION_TYPES = {"command": 2, "component": 3, "autocomplete": 4, "modal": 5}
TOKEN_LIFETIME = 15 * 60.0
NONCE_WINDOW = 5 * 60.0
MENTION_USER = re.compile(r"<@!?(\d+)>")
MENTION_ROLE = re.compile(r"<@&(\d+)>")


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """Content-Type exactly ``application/json`` (discord.py compares the whole header)."""
    merged = {"Content-Type": JSON, **(headers or {})}
    return web.Response(status=status, body=json.dumps(data).encode(), headers=merged)


def error(status: int, code: int, message: str) -> web.Response:
    return json_response({"code": code, "message": message}, status)


def no_content() -> web.Response:
    return web.Response(status=204)


class HTTPError(Exception):
    """Raised inside handlers; the middleware turns it into Discord's error JSON."""

    def __init__(self, status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def fail(status: int, code: int, message: str) -> HTTPError:
    return HTTPError(status, {"code": code, "message": message})


def check(body: dict[str, Any] | None) -> None:
    """Raise the validation body (400) if there is one."""
    if body is not None:
        raise HTTPError(400, body)


UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
MISSING_ACCESS = (403, 50001, "Missing Access")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")


class FakeDiscord:
    """One fake Discord: start it, point discord.py at it, drive it, assert on its records."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] | None = None,
        default_world: bool = True,
    ) -> None:
        self.token = token
        self.application_id = snowflake()
        self.bot_user = FakeUser(self.application_id, "Seminar Bot", bot=True)
        self._clock = clock or time.monotonic
        self._offset = 0.0
        #: Wall clock used for "start in the past" checks on scheduled events.
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        # --- configuration (tests may change these at any time) ---
        self.interaction_deadline = 3.0
        self.echo_messages = True
        self.reject_past_events = True
        self.max_active_events = 100
        #: Refuse inject_command for names never synced (off: handlers can be tested alone).
        self.strict_commands = False
        self.channel_rate_limit: tuple[int, float] | None = None
        # --- world ---
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user}
        self.guilds: dict[int, FakeGuild] = {}
        self.dm_channels: dict[int, FakeChannel] = {}
        self.defaults: DefaultWorld | None = None
        # --- records ---
        self.requests: list[RequestRecord] = []
        self.sent: list[SentMessage] = []
        self.edits: list[Edit] = []
        self.deletes: list[Delete] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self.faults: list[Fault] = []
        self.rate_limited_count = 0
        self.sync_count = 0
        self.event_log: list[tuple[str, dict[str, Any]]] = []
        self._commands: dict[int | None, list[dict[str, Any]]] = {}
        self._events: dict[int, dict[int, dict[str, Any]]] = {}
        self._messages: dict[int, SentMessage] = {}
        self._nonces: dict[tuple[int, int, str], tuple[int, float]] = {}
        self._buckets: dict[int, list[float]] = {}
        self._changed_event = asyncio.Event()
        self.gateway = FakeGateway(
            token=lambda: self.token,
            ready_payload=self._ready_payload,
            guild_payloads=lambda: [g.to_json() for g in self.guilds.values()],
            on_change=self._changed,
        )
        self._runner: web.AppRunner | None = None
        self.port = 0
        if default_world:
            self.defaults = build_default_world(self.bot_user)
            self.add_guild(self.defaults.guild)

    # ================================================================ lifecycle

    async def start(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._middleware], client_max_size=30 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway-resume", self.gateway.handle)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._dispatch_rest)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base_url(self) -> str:
        """Value for ``discord.http.Route.BASE`` / config ``[discord] api_base_url``."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """Value for ``DiscordWebSocket.DEFAULT_GATEWAY`` / config ``[discord] gateway_url``."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway-resume"

    # ================================================================ clock

    def clock(self) -> float:
        """Monotonic seconds used for deadlines, token lifetime and nonce windows."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's deadline clock forward (e.g. past the 3 s interaction deadline)."""
        self._offset += seconds

    # ================================================================ world

    def add_guild(self, guild: FakeGuild) -> None:
        self.guilds[guild.id] = guild
        for member in guild.members:
            self.users.setdefault(member.user.id, member.user)
        self.gateway.dispatch("GUILD_CREATE", guild.to_json())

    def user(self, ref: UserRef) -> FakeUser:
        if isinstance(ref, FakeUser):
            return ref
        for user in self.users.values():
            if ref in (user.id, user.username):
                return user
        raise LookupError(f"no fake user {ref!r}")

    def channel(self, ref: ChannelRef) -> FakeChannel:
        if isinstance(ref, FakeChannel):
            return ref
        for guild in self.guilds.values():
            for channel in guild.channels:
                if ref in (channel.id, channel.name):
                    return channel
        for channel in self.dm_channels.values():
            if channel.id == ref:
                return channel
        raise LookupError(f"no fake channel {ref!r}")

    def guild(self, ref: GuildRef | None = None) -> FakeGuild:
        if isinstance(ref, FakeGuild):
            return ref
        if ref is None:
            return next(iter(self.guilds.values()))
        return self.guilds[ref]

    def _find_channel(self, channel_id: int) -> tuple[FakeChannel, FakeGuild | None]:
        for guild in self.guilds.values():
            for channel in guild.channels:
                if channel.id == channel_id:
                    return channel, guild
        for channel in self.dm_channels.values():
            if channel.id == channel_id:
                return channel, None
        raise fail(*UNKNOWN_CHANNEL)

    def _bot_member(self, guild: FakeGuild) -> FakeMember:
        member = guild.member(self.bot_user.id)
        if member is None:
            raise fail(*MISSING_ACCESS)
        return member

    def bot_permissions(self, channel: FakeChannel) -> int:
        if channel.guild_id is None:
            return VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY
        guild = self.guilds[channel.guild_id]
        member = guild.member(self.bot_user.id)
        return 0 if member is None else guild.permissions_in(member, channel)

    def set_dms_open(self, user: UserRef, is_open: bool) -> None:
        self.user(user).dms_open = is_open

    # ================================================================ notifications

    def _changed(self) -> None:
        event, self._changed_event = self._changed_event, asyncio.Event()
        event.set()

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0  # noqa: ASYNC109
    ) -> None:
        """Wait (event-driven, no polling sleeps) until ``predicate()`` holds."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed_event.wait()
        except TimeoutError:
            raise TimeoutError(f"fake Discord: condition not met within {timeout} s") from None

    async def wait_for_interaction_response(
        self, interaction_id: int, timeout: float = 5.0  # noqa: ASYNC109
    ) -> InteractionRecord:
        """The record once the client answered; raises InteractionRejected if it only failed."""
        record = self.interactions[interaction_id]
        await self.wait_for(lambda: record.response is not None or bool(record.rejected), timeout)
        if record.response is None:
            raise InteractionRejected(f"interaction {interaction_id} rejected: {record.rejected}")
        return record

    async def wait_for_messages(
        self, channel: ChannelRef, count: int = 1, timeout: float = 5.0  # noqa: ASYNC109
    ) -> list[SentMessage]:
        channel_id = self.channel(channel).id
        await self.wait_for(lambda: len(self.messages(channel_id)) >= count, timeout)
        return self.messages(channel_id)

    # ================================================================ queries

    def messages(self, channel: ChannelRef, *, include_ephemeral: bool = False) -> list[SentMessage]:
        """Live (not deleted) messages in a channel, oldest first."""
        channel_id = self.channel(channel).id
        return [
            s for s in self.sent
            if s.channel_id == channel_id and not s.deleted and (include_ephemeral or not s.ephemeral)
        ]

    def message(self, message_id: int) -> SentMessage:
        return self._messages[message_id]

    def dms(self, user: UserRef) -> list[SentMessage]:
        dm = self.dm_channels.get(self.user(user).id)
        return [] if dm is None else [s for s in self.sent if s.channel_id == dm.id and not s.deleted]

    def scheduled_events(self, guild: GuildRef | None = None) -> list[dict[str, Any]]:
        return list(self._events.get(self.guild(guild).id, {}).values())

    def synced_commands(self, guild: GuildRef | None = None) -> list[dict[str, Any]] | None:
        """The last synced list (global when ``guild`` is None); None if never synced."""
        key = None if guild is None else self.guild(guild).id
        return self._commands.get(key)

    def interaction(self, interaction_id: int) -> InteractionRecord:
        return self.interactions[interaction_id]

    # ================================================================ faults & rate limits

    def inject_fault(
        self,
        method: str,
        pattern: str,
        status: int,
        *,
        code: int = 0,
        message: str | None = None,
        retry_after: float = 0.05,
        is_global: bool = False,
        after: bool = False,
        times: int = 1,
    ) -> Fault:
        """Answer the next ``times`` requests matching ``method`` + fnmatch ``pattern``.

        ``pattern`` is matched against the path after ``/api/v10`` (``/channels/*/messages``).
        429 carries ``Via``, JSON ``retry_after``/``global`` and X-RateLimit-* headers;
        ``after=True`` runs the real handler first (the message IS created) then fails.
        """
        pattern = pattern.removeprefix(API_PREFIX)
        headers: dict[str, str] = {}
        if status == 429:
            body: dict[str, Any] = {"message": message or "You are being rate limited.",
                                    "retry_after": retry_after, "global": is_global, "code": code}
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": "fake-injected",
                "X-RateLimit-Scope": "global" if is_global else "user",
            }
            if is_global:
                headers["X-RateLimit-Global"] = "true"
        else:
            default = {500: "500: Internal Server Error", 502: "502: Bad Gateway",
                       503: "503: Service Unavailable", 504: "504: Gateway Timeout"}
            body = {"code": code, "message": message or default.get(status, f"{status}: Error")}
        fault = Fault(method.upper(), pattern, status, body, headers, after=after, times=times)
        self.faults.append(fault)
        return fault

    def enable_channel_rate_limit(self, limit: int = 5, per: float = 5.0) -> None:
        """Real per-channel message buckets with X-RateLimit headers (429 only if ignored)."""
        self.channel_rate_limit = (limit, per)

    def _take_channel_bucket(self, channel_id: int) -> dict[str, str]:
        if self.channel_rate_limit is None:
            return {}
        limit, per = self.channel_rate_limit
        now = time.monotonic()
        bucket = self._buckets.setdefault(channel_id, [now, 0.0])
        if now - bucket[0] >= per:
            bucket[0], bucket[1] = now, 0.0
        reset_after = round(per - (now - bucket[0]) + 0.002, 3)
        common = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"fake-channel-messages-{limit}-{per}",
        }
        if bucket[1] >= limit:
            self.rate_limited_count += 1
            raise HTTPError(
                429,
                {"message": "You are being rate limited.", "retry_after": reset_after,
                 "global": False, "code": 0},
                {**common, "X-RateLimit-Remaining": "0", "Via": "1.1 google",
                 "Retry-After": str(math.ceil(reset_after)), "X-RateLimit-Scope": "user"},
            )
        bucket[1] += 1
        return {**common, "X-RateLimit-Remaining": str(int(limit - bucket[1]))}

    # ================================================================ HTTP plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return await handler(request)
        path = request.path.removeprefix(API_PREFIX)
        record = RequestRecord(request.method, path, dict(request.query), None)
        self.requests.append(record)
        try:
            record.body = await self._read_body(request)
            response = await self._guarded(request, handler, path)
        except HTTPError as exc:
            response = json_response(exc.body, exc.status, exc.headers)
        record.status = response.status
        self._changed()
        return response

    async def _guarded(self, request: web.Request, handler: Handler, path: str) -> web.StreamResponse:
        needs_auth = not path.startswith(("/interactions/", "/webhooks/"))
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        fault = next((f for f in self.faults if f.matches(request.method, path)), None)
        if fault is None:
            return await handler(request)
        fault.served += 1
        if fault.served >= fault.times:
            self.faults.remove(fault)
        if fault.after:
            try:
                real = await handler(request)
            except HTTPError as exc:
                return json_response(exc.body, exc.status, exc.headers)
            if real.status >= 300:
                return real
        if fault.status == 429:
            self.rate_limited_count += 1
        return json_response(fault.body, fault.status, fault.headers)

    async def _read_body(self, request: web.Request) -> Any:
        """JSON body, or multipart ``payload_json`` + ``files[n]`` (files kept in request)."""
        files: list[UploadedFile] = []
        request[FILES] = files
        if request.content_type == "multipart/form-data":
            payload: Any = {}
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    data = await part.read()
                    files.append(UploadedFile(part.filename or "", part.headers.get(
                        "Content-Type", "application/octet-stream"), bytes(data)))
            request[BODY] = payload
            return payload
        raw = await request.read()
        if not raw:
            request[BODY] = None
            return None
        try:
            body = json.loads(raw)
        except ValueError:
            raise fail(400, 50109, "The request body contains invalid JSON.") from None
        request[BODY] = body
        return body

    async def _dispatch_rest(self, request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix(API_PREFIX)
        for method, pattern, handler in self._routes():
            if method != request.method:
                continue
            match = pattern.fullmatch(path)
            if match:
                return await handler(request, match.groupdict())
        return json_response({"message": "404: Not Found", "code": 0}, 404)

    def _routes(self) -> Iterable[tuple[str, re.Pattern[str], Callable[..., Awaitable[web.StreamResponse]]]]:
        table: list[tuple[str, str, Callable[..., Awaitable[web.StreamResponse]]]] = [
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/oauth2/applications/@me", self._get_application),
            ("GET", r"/gateway", self._get_gateway),
            ("GET", r"/gateway/bot", self._get_gateway),
            ("GET", r"/applications/(?P<app>\d+)/commands", self._get_commands),
            ("PUT", r"/applications/(?P<app>\d+)/commands", self._put_commands),
            ("GET", r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands", self._get_commands),
            ("PUT", r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands", self._put_commands),
            ("GET", r"/channels/(?P<channel>\d+)", self._get_channel),
            ("GET", r"/channels/(?P<channel>\d+)/messages", self._get_history),
            ("POST", r"/channels/(?P<channel>\d+)/messages", self._post_message),
            ("GET", r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)", self._get_message),
            ("PATCH", r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)", self._patch_message),
            ("DELETE", r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)", self._delete_message),
            ("POST", r"/users/@me/channels", self._open_dm),
            ("GET", r"/users/(?P<user>\d+)", self._get_user),
            ("GET", r"/guilds/(?P<guild>\d+)", self._get_guild),
            ("GET", r"/guilds/(?P<guild>\d+)/channels", self._get_guild_channels),
            ("GET", r"/guilds/(?P<guild>\d+)/roles", self._get_guild_roles),
            ("GET", r"/guilds/(?P<guild>\d+)/members/(?P<user>\d+)", self._get_member),
            ("GET", r"/guilds/(?P<guild>\d+)/scheduled-events", self._list_events),
            ("POST", r"/guilds/(?P<guild>\d+)/scheduled-events", self._create_event),
            ("GET", r"/guilds/(?P<guild>\d+)/scheduled-events/(?P<event>\d+)", self._get_event),
            ("PATCH", r"/guilds/(?P<guild>\d+)/scheduled-events/(?P<event>\d+)", self._patch_event),
            ("DELETE", r"/guilds/(?P<guild>\d+)/scheduled-events/(?P<event>\d+)", self._delete_event),
            ("POST", r"/interactions/(?P<interaction>\d+)/(?P<token>[^/]+)/callback", self._callback),
            ("POST", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)", self._post_followup),
            ("GET", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<message>@original|\d+)",
             self._get_webhook_message),
            ("PATCH", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<message>@original|\d+)",
             self._patch_webhook_message),
            ("DELETE", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<message>@original|\d+)",
             self._delete_webhook_message),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    # ================================================================ login & gateway info

    def _ready_payload(self, session_id: str) -> dict[str, Any]:
        return {
            "v": 10,
            "user": {**self.bot_user.to_json(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }

    async def _get_me(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response({**self.bot_user.to_json(), "verified": True, "mfa_enabled": False,
                              "flags": 0, "locale": "en-US"})

    async def _get_application(self, request: web.Request, m: dict[str, str]) -> web.Response:
        owner = self.defaults.owner if self.defaults else self.bot_user
        return json_response({
            "id": str(self.application_id), "name": self.bot_user.username,
            "description": "", "icon": None, "bot_public": True,
            "bot_require_code_grant": False, "owner": owner.to_json(),
            "verify_key": secrets.token_hex(32), "flags": 0, "team": None, "summary": "",
            "interactions_endpoint_url": None, "bot": self.bot_user.to_json(),
        })

    async def _get_gateway(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response({
            "url": f"ws://127.0.0.1:{self.port}/gateway", "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                    "max_concurrency": 1},
        })

    # ================================================================ commands

    def _check_app(self, m: dict[str, str]) -> None:
        if int(m["app"]) != self.application_id:
            raise fail(403, 50001, "Missing Access")

    async def _get_commands(self, request: web.Request, m: dict[str, str]) -> web.Response:
        self._check_app(m)
        guild_id = int(m["guild"]) if m.get("guild") else None
        if guild_id is not None and guild_id not in self.guilds:
            raise fail(404, 10004, "Unknown Guild")
        return json_response(self._commands.get(guild_id, []))

    async def _put_commands(self, request: web.Request, m: dict[str, str]) -> web.Response:
        self._check_app(m)
        guild_id = int(m["guild"]) if m.get("guild") else None
        if guild_id is not None and guild_id not in self.guilds:
            raise fail(404, 10004, "Unknown Guild")
        payload = request[BODY]
        check(v.validate_commands(payload))
        previous = {(c["type"], c["name"]): c["id"] for c in self._commands.get(guild_id, [])}
        stored = []
        for command in payload:
            kind = command.get("type", 1)
            item = {
                "description": "", "options": [], "default_member_permissions": None,
                "nsfw": False, "contexts": None, "integration_types": [0],
                **command,
                "type": kind,
                "id": previous.get((kind, command["name"]), str(snowflake())),
                "application_id": str(self.application_id),
                "version": str(snowflake()),
            }
            if guild_id is not None:
                item["guild_id"] = str(guild_id)
            stored.append(item)
        self._commands[guild_id] = stored
        self.sync_count += 1
        return json_response(stored)

    # ================================================================ channels & messages

    def _channel_for_bot(self, channel_id: int, needed: int) -> tuple[FakeChannel, FakeGuild | None]:
        channel, guild = self._find_channel(channel_id)
        if guild is not None:
            perms = guild.permissions_in(self._bot_member(guild), channel)
            if not perms & VIEW_CHANNEL:
                raise fail(*MISSING_ACCESS)
            if perms & needed != needed:
                raise fail(*MISSING_PERMISSIONS)
        return channel, guild

    async def _get_channel(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, _ = self._channel_for_bot(int(m["channel"]), VIEW_CHANNEL)
        return json_response(channel.to_json())

    async def _get_history(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, _ = self._channel_for_bot(int(m["channel"]), VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        limit = int(request.query.get("limit", "50"))
        if not 1 <= limit <= 100:
            tree = v.ErrorTree()
            tree.add(("limit",), "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
            raise HTTPError(400, tree.body())
        items = [s for s in self.messages(channel.id)]
        if "before" in request.query:
            items = [s for s in items if s.id < int(request.query["before"])]
        if "after" in request.query:
            items = [s for s in items if s.id > int(request.query["after"])][:limit]
            return json_response([s.message for s in reversed(items)])
        return json_response([s.message for s in reversed(items[-limit:])])

    async def _get_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, _ = self._channel_for_bot(int(m["channel"]), VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        return json_response(self._live_message(channel.id, int(m["message"])).message)

    def _live_message(self, channel_id: int, message_id: int) -> SentMessage:
        sent = self._messages.get(message_id)
        if sent is None or sent.deleted or sent.channel_id != channel_id:
            raise fail(*UNKNOWN_MESSAGE)
        return sent

    async def _post_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, guild = self._channel_for_bot(int(m["channel"]), VIEW_CHANNEL | SEND_MESSAGES)
        if channel.type == 1 and channel.recipient is not None and not channel.recipient.dms_open:
            raise fail(403, 50007, "Cannot send messages to this user")
        headers = self._take_channel_bucket(channel.id)
        payload = request[BODY] or {}
        files: list[UploadedFile] = request[FILES]
        check(v.validate_message(payload, files=len(files)))
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            key = (self.bot_user.id, channel.id, str(nonce))
            seen = self._nonces.get(key)
            if seen is not None and self.clock() - seen[1] < NONCE_WINDOW:
                existing = self._messages.get(seen[0])
                if existing is not None and not existing.deleted:
                    return json_response(existing.message, headers=headers)
        sent = self._create_message(channel, guild, payload, files, source="channel")
        if nonce is not None:
            self._nonces[(self.bot_user.id, channel.id, str(nonce))] = (sent.id, self.clock())
        return json_response(sent.message, headers=headers)

    def _create_message(
        self,
        channel: FakeChannel,
        guild: FakeGuild | None,
        payload: dict[str, Any],
        files: list[UploadedFile],
        *,
        source: str,
        interaction: InteractionRecord | None = None,
        extra_flags: int = 0,
    ) -> SentMessage:
        message_id = snowflake()
        flags = int(payload.get("flags") or 0) | extra_flags
        attachments = [
            {"id": str(snowflake()), "filename": f.filename, "size": len(f.data),
             "content_type": f.content_type,
             "url": f"https://cdn.discordapp.com/attachments/{channel.id}/{message_id}/{f.filename}",
             "proxy_url": f"https://media.discordapp.net/attachments/{channel.id}/{message_id}/{f.filename}"}
            for f in files
        ]
        message: dict[str, Any] = {
            "id": str(message_id),
            "type": 0 if interaction is None else (20 if interaction.type == 2 else 0),
            "channel_id": str(channel.id),
            "author": self.bot_user.to_json(),
            "content": payload.get("content") or "",
            "embeds": [{"type": "rich", **e} for e in payload.get("embeds") or []],
            "attachments": attachments,
            "components": payload.get("components") or [],
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "pinned": False,
            "flags": flags,
            "sticker_items": [],
        }
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if guild is not None:
            message["guild_id"] = str(guild.id)
            member = guild.member(self.bot_user.id)
            if member is not None:
                message["member"] = {k: val for k, val in member.to_json().items() if k != "user"}
        if interaction is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["interaction_metadata"] = {
                "id": str(interaction.id), "type": interaction.type,
                "user": interaction.payload.get("member", {}).get("user")
                or interaction.payload.get("user"),
                "authorizing_integration_owners": {},
            }
        self._apply_mentions(message, payload, guild, default_all=interaction is None)
        sent = SentMessage(message, payload, source, files, interaction.id if interaction else None,
                           as_created=dict(message))
        self.sent.append(sent)
        self._messages[message_id] = sent
        if not flags & EPHEMERAL:
            self._echo("MESSAGE_CREATE", message, guild)
        return sent

    def _apply_mentions(
        self, message: dict[str, Any], payload: dict[str, Any], guild: FakeGuild | None,
        *, default_all: bool,
    ) -> None:
        """Fill mentions/mention_roles/mention_everyone with the pings that would really fire."""
        content = str(message.get("content") or "")
        allowed = payload.get("allowed_mentions")
        if allowed is None:
            parse = {"users", "roles", "everyone"} if default_all else {"users"}
            users_ok: set[str] = set()
            roles_ok: set[str] = set()
        else:
            parse = set(allowed.get("parse") or [])
            users_ok = {str(u) for u in allowed.get("users") or []}
            roles_ok = {str(r) for r in allowed.get("roles") or []}
        users = [u for u in MENTION_USER.findall(content) if "users" in parse or u in users_ok]
        roles = [r for r in MENTION_ROLE.findall(content) if "roles" in parse or r in roles_ok]
        can_everyone = True
        if guild is not None:
            bot = guild.member(self.bot_user.id)
            can_everyone = bot is not None and bool(guild.base_permissions(bot) & MENTION_EVERYONE)
            mentionable = {str(r.id) for r in guild.roles if r.mentionable}
            roles = [r for r in roles if can_everyone or r in mentionable]
        message["mentions"] = [self.users[int(u)].to_json() for u in users if int(u) in self.users]
        message["mention_roles"] = roles
        message["mention_everyone"] = (
            "everyone" in parse and can_everyone and ("@everyone" in content or "@here" in content)
        )

    def _echo(self, event: str, message: dict[str, Any], guild: FakeGuild | None) -> None:
        if self.echo_messages:
            self.gateway.dispatch(event, message,
                                  intent=GUILD_MESSAGES if guild is not None else DIRECT_MESSAGES)

    def _edit(self, sent: SentMessage, payload: dict[str, Any], files: list[UploadedFile],
              source: str) -> None:
        check(v.validate_message(payload, files=len(files), is_edit=True))
        message = dict(sent.message)
        for key in ("content", "components", "flags"):
            if key in payload:
                message[key] = payload[key] if payload[key] is not None else (
                    "" if key == "content" else [] if key == "components" else 0)
        if "embeds" in payload:
            message["embeds"] = [{"type": "rich", **e} for e in payload["embeds"] or []]
        if "attachments" in payload:
            keep = {str(a.get("id")) for a in payload["attachments"] or []}
            message["attachments"] = [a for a in message["attachments"] if a["id"] in keep]
        if files:
            message["attachments"] = [*message["attachments"], *(
                {"id": str(snowflake()), "filename": f.filename, "size": len(f.data),
                 "content_type": f.content_type, "url": f"https://cdn.discordapp.com/{f.filename}",
                 "proxy_url": f"https://media.discordapp.net/{f.filename}"} for f in files)]
        message["flags"] = int(message.get("flags") or 0) & ~LOADING | (
            int(sent.message.get("flags") or 0) & EPHEMERAL)
        if v.message_is_empty(message):
            raise fail(400, v.EMPTY_MESSAGE, "Cannot send an empty message")
        channel, guild = self._find_channel(sent.channel_id)
        self._apply_mentions(message, payload, guild, default_all=sent.interaction_id is None)
        message["edited_timestamp"] = iso_now()
        sent.message = message
        sent.files.extend(files)
        self.edits.append(Edit(sent.id, sent.channel_id, payload, source))
        if not message["flags"] & EPHEMERAL:
            self._echo("MESSAGE_UPDATE", message, guild)
        del channel

    async def _patch_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, _ = self._channel_for_bot(int(m["channel"]), VIEW_CHANNEL)
        sent = self._live_message(channel.id, int(m["message"]))
        if int(sent.message["author"]["id"]) != self.bot_user.id:
            raise fail(403, 50005, "Cannot edit a message authored by another user")
        self._edit(sent, request[BODY] or {}, request[FILES], "channel")
        return json_response(sent.message)

    async def _delete_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, _ = self._channel_for_bot(int(m["channel"]), VIEW_CHANNEL)
        sent = self._live_message(channel.id, int(m["message"]))
        if int(sent.message["author"]["id"]) != self.bot_user.id and \
                not self.bot_permissions(channel) & MANAGE_MESSAGES:
            raise fail(*MISSING_PERMISSIONS)
        self._delete(sent, "channel")
        return no_content()

    def _delete(self, sent: SentMessage, source: str) -> None:
        sent.deleted = True
        self.deletes.append(Delete(sent.id, sent.channel_id, source))
        _, guild = self._find_channel(sent.channel_id)
        data = {"id": str(sent.id), "channel_id": str(sent.channel_id)}
        if guild is not None:
            data["guild_id"] = str(guild.id)
        if not int(sent.message.get("flags") or 0) & EPHEMERAL:
            self._echo("MESSAGE_DELETE", data, guild)

    # ================================================================ users, DMs, guilds

    async def _open_dm(self, request: web.Request, m: dict[str, str]) -> web.Response:
        body = request[BODY] or {}
        try:
            user = self.users[int(body.get("recipient_id", 0))]
        except (KeyError, ValueError):
            raise fail(400, 50033, "Invalid Recipient(s)") from None
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = FakeChannel(snowflake(), "", 1, recipient=user)
            self.dm_channels[user.id] = channel
        return json_response(channel.to_json())

    async def _get_user(self, request: web.Request, m: dict[str, str]) -> web.Response:
        user = self.users.get(int(m["user"]))
        if user is None:
            raise fail(404, 10013, "Unknown User")
        return json_response(user.to_json())

    def _guild_or_404(self, m: dict[str, str]) -> FakeGuild:
        guild = self.guilds.get(int(m["guild"]))
        if guild is None:
            raise fail(404, 10004, "Unknown Guild")
        return guild

    async def _get_guild(self, request: web.Request, m: dict[str, str]) -> web.Response:
        data = self._guild_or_404(m).to_json()
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            data.pop(key, None)
        return json_response(data)

    async def _get_guild_channels(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response([c.to_json() for c in self._guild_or_404(m).channels])

    async def _get_guild_roles(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response([r.to_json() for r in self._guild_or_404(m).roles])

    async def _get_member(self, request: web.Request, m: dict[str, str]) -> web.Response:
        member = self._guild_or_404(m).member(int(m["user"]))
        if member is None:
            raise fail(404, 10007, "Unknown Member")
        return json_response(member.to_json())

    # ================================================================ scheduled events

    def _events_guild(self, m: dict[str, str], *, write: bool) -> FakeGuild:
        guild = self._guild_or_404(m)
        if write and not guild.base_permissions(self._bot_member(guild)) & (CREATE_EVENTS | MANAGE_EVENTS):
            raise fail(*MISSING_PERMISSIONS)
        return guild

    def _event_or_404(self, guild: FakeGuild, m: dict[str, str]) -> dict[str, Any]:
        event = self._events.get(guild.id, {}).get(int(m["event"]))
        if event is None:
            raise fail(404, 10070, "Unknown Guild Scheduled Event")
        return event

    def _voice_ids(self, guild: FakeGuild) -> set[int]:
        return {c.id for c in guild.channels if c.type in (2, 13)}

    async def _list_events(self, request: web.Request, m: dict[str, str]) -> web.Response:
        guild = self._events_guild(m, write=False)
        events = list(self._events.get(guild.id, {}).values())
        if request.query.get("with_user_count") in ("true", "1", "True"):
            events = [{**e, "user_count": 0} for e in events]
        return json_response(events)

    async def _get_event(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response(self._event_or_404(self._events_guild(m, write=False), m))

    async def _create_event(self, request: web.Request, m: dict[str, str]) -> web.Response:
        guild = self._events_guild(m, write=True)
        body = request[BODY] or {}
        check(v.validate_scheduled_event(body, now=self.now(), check_past=self.reject_past_events,
                                         voice_channel_ids=self._voice_ids(guild)))
        store = self._events.setdefault(guild.id, {})
        if sum(1 for e in store.values() if e["status"] in (1, 2)) >= self.max_active_events:
            raise fail(400, 30038, "Maximum number of uncompleted guild scheduled events reached "
                                   f"({self.max_active_events})")
        event_id = snowflake()
        event = {
            "id": str(event_id), "guild_id": str(guild.id),
            "channel_id": str(body["channel_id"]) if body.get("channel_id") else None,
            "creator_id": str(self.bot_user.id), "creator": self.bot_user.to_json(),
            "name": body["name"], "description": body.get("description"),
            "scheduled_start_time": body["scheduled_start_time"],
            "scheduled_end_time": body.get("scheduled_end_time"),
            "privacy_level": body["privacy_level"], "status": 1,
            "entity_type": body["entity_type"], "entity_id": None,
            "entity_metadata": body.get("entity_metadata"), "image": None,
            "recurrence_rule": body.get("recurrence_rule"),
        }
        store[event_id] = event
        self.event_log.append(("create", dict(event)))
        self.gateway.dispatch("GUILD_SCHEDULED_EVENT_CREATE", event, intent=GUILD_SCHEDULED_EVENTS)
        return json_response(event)

    async def _patch_event(self, request: web.Request, m: dict[str, str]) -> web.Response:
        guild = self._events_guild(m, write=True)
        event = self._event_or_404(guild, m)
        body = request[BODY] or {}
        merged = {**event, **body}
        if body.get("entity_type") == v.EXTERNAL:
            merged["channel_id"] = body.get("channel_id")
        start_changed = "scheduled_start_time" in body
        check(v.validate_scheduled_event(
            merged, now=self.now(), check_past=self.reject_past_events and start_changed,
            voice_channel_ids=self._voice_ids(guild)))
        if "status" in body and body["status"] not in v.STATUS_TRANSITIONS[event["status"]]:
            tree = v.ErrorTree()
            tree.add(("status",), "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION",
                     f"Cannot transition from status {event['status']} to {body['status']}.")
            raise HTTPError(400, tree.body())
        if event["status"] in (3, 4):
            raise fail(400, 180000, "Cannot modify a finished event")
        event.update(merged)
        self.event_log.append(("update", dict(event)))
        self.gateway.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", event, intent=GUILD_SCHEDULED_EVENTS)
        return json_response(event)

    async def _delete_event(self, request: web.Request, m: dict[str, str]) -> web.Response:
        guild = self._events_guild(m, write=True)
        event = self._event_or_404(guild, m)
        del self._events[guild.id][int(event["id"])]
        self.event_log.append(("delete", dict(event)))
        self.gateway.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event, intent=GUILD_SCHEDULED_EVENTS)
        return no_content()

    # ================================================================ interactions: responses

    def _interaction_by_token(self, m: dict[str, str]) -> InteractionRecord:
        if int(m["app"]) != self.application_id:
            raise fail(*UNKNOWN_WEBHOOK)
        for record in self.interactions.values():
            if record.token == m["token"]:
                if self.clock() - record.created_at > TOKEN_LIFETIME:
                    raise fail(401, 50027, "Invalid Webhook Token")
                return record
        raise fail(*UNKNOWN_WEBHOOK)

    def _interaction_place(self, record: InteractionRecord) -> tuple[FakeChannel, FakeGuild | None]:
        channel_id = int(record.payload["channel"]["id"])
        return self._find_channel(channel_id)

    async def _callback(self, request: web.Request, m: dict[str, str]) -> web.Response:
        record = self.interactions.get(int(m["interaction"]))
        if record is None or record.token != m["token"]:
            raise fail(*UNKNOWN_INTERACTION)
        body = request[BODY] or {}
        try:
            return self._answer(record, body, request[FILES])
        except HTTPError as exc:
            record.rejected.append((exc.status, exc.body, body))
            raise

    def _answer(self, record: InteractionRecord, body: dict[str, Any],
                files: list[UploadedFile]) -> web.Response:
        if self.clock() - record.created_at > self.interaction_deadline:
            raise fail(*UNKNOWN_INTERACTION)
        if record.response is not None:
            raise fail(400, 40060, "Interaction has already been acknowledged.")
        kind = body.get("type")
        data = body.get("data") or {}
        component = record.type in (3, 5) and "message" in record.payload
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}.get(record.type, set())
        if kind not in allowed:
            tree = v.ErrorTree()
            tree.add(("type",), "INTERACTION_RESPONSE_TYPE_INVALID",
                     f"Interaction response type {kind} is invalid for interaction type {record.type}")
            raise HTTPError(400, tree.body())
        channel, guild = self._interaction_place(record)
        message: dict[str, Any] | None = None
        loading = False
        if kind == 4:
            check(v.validate_message(data, files=len(files)))
            sent = self._create_message(channel, guild, data, files, source="interaction",
                                        interaction=record)
            record.original_message_id, message = sent.id, sent.message
        elif kind == 5:
            flags = int(data.get("flags") or 0)
            if flags & ~EPHEMERAL:
                tree = v.ErrorTree()
                tree.add(("data", "flags"), "INTERACTION_RESPONSE_FLAGS_INVALID",
                         "Deferred responses only accept the EPHEMERAL flag")
                raise HTTPError(400, tree.body())
            sent = self._create_message(channel, guild, {"content": ""}, [], source="interaction",
                                        interaction=record, extra_flags=LOADING | flags)
            record.original_message_id, message, loading = sent.id, sent.message, True
        elif kind in (6, 7):
            if not component:
                raise fail(400, 50035, "Invalid Form Body")
            target = self._messages[int(record.payload["message"]["id"])]
            if kind == 7:
                self._edit(target, data, files, "component")
            record.original_message_id, message = target.id, target.message
        elif kind == 8:
            check(v.validate_autocomplete(data))
        elif kind == 9:
            check(v.validate_modal(data))
        record.response = body
        result: dict[str, Any] = {
            "interaction": {
                "id": str(record.id), "type": record.type,
                "response_message_id": str(record.original_message_id)
                if record.original_message_id else None,
                "response_message_loading": loading,
                "response_message_ephemeral": bool(
                    message is not None and int(message.get("flags") or 0) & EPHEMERAL),
            },
        }
        if message is not None:
            result["resource"] = {"type": kind, "message": message}
        elif kind != 8:
            result["resource"] = {"type": kind}
        return json_response(result)

    async def _post_followup(self, request: web.Request, m: dict[str, str]) -> web.StreamResponse:
        record = self._interaction_by_token(m)
        body = request[BODY] or {}
        try:
            if record.response is None:
                raise fail(*UNKNOWN_WEBHOOK)
            check(v.validate_message(body, files=len(request[FILES])))
            channel, guild = self._interaction_place(record)
            sent = self._create_message(channel, guild, body, request[FILES], source="followup",
                                        interaction=record)
        except HTTPError as exc:
            record.rejected.append((exc.status, exc.body, body))
            raise
        record.followup_ids.append(sent.id)
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(sent.message)
        return no_content()

    def _webhook_target(self, record: InteractionRecord, ref: str) -> SentMessage:
        if ref == "@original":
            if record.original_message_id is None:
                raise fail(*UNKNOWN_MESSAGE)
            sent = self._messages[record.original_message_id]
        else:
            sent_or_none = self._messages.get(int(ref))
            if sent_or_none is None or sent_or_none.interaction_id != record.id:
                raise fail(*UNKNOWN_MESSAGE)
            sent = sent_or_none
        if sent.deleted:
            raise fail(*UNKNOWN_MESSAGE)
        return sent

    async def _get_webhook_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        record = self._interaction_by_token(m)
        return json_response(self._webhook_target(record, m["message"]).message)

    async def _patch_webhook_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        record = self._interaction_by_token(m)
        body = request[BODY] or {}
        try:
            sent = self._webhook_target(record, m["message"])
            source = "original" if m["message"] == "@original" else "followup"
            self._edit(sent, body, request[FILES], source)
        except HTTPError as exc:
            record.rejected.append((exc.status, exc.body, body))
            raise
        return json_response(sent.message)

    async def _delete_webhook_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        record = self._interaction_by_token(m)
        sent = self._webhook_target(record, m["message"])
        self._delete(sent, "original" if m["message"] == "@original" else "followup")
        return no_content()

    # ================================================================ interactions: injection

    def _context(
        self, user: UserRef | None, channel: ChannelRef | None, guild: GuildRef | None
    ) -> tuple[FakeUser, FakeChannel, FakeGuild | None]:
        if user is None:
            user = self.defaults.member if self.defaults else next(iter(self.users.values()))
        resolved_user = self.user(user)
        if channel is None:
            if guild is None and self.defaults is not None:
                channel = self.defaults.seminars
            else:
                channel = next(c for c in self.guild(guild).channels if c.type == 0)
        resolved_channel = self.channel(channel)
        resolved_guild = self.guilds.get(resolved_channel.guild_id or 0)
        if guild is not None and resolved_guild is not self.guild(guild):
            raise LookupError("channel is not in that guild")
        return resolved_user, resolved_channel, resolved_guild

    def _new_interaction(
        self, kind: int, data: dict[str, Any], user: FakeUser, channel: FakeChannel,
        guild: FakeGuild | None, message: dict[str, Any] | None = None,
    ) -> int:
        interaction_id = snowflake()
        token = "fake-interaction-" + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(interaction_id), "application_id": str(self.application_id),
            "type": kind, "data": data, "token": token, "version": 1,
            "attachment_size_limit": 10 * 1024 * 1024, "locale": "en-US", "entitlements": [],
            "app_permissions": str(self.bot_permissions(channel)),
            "channel": channel.to_json(), "channel_id": str(channel.id),
            "authorizing_integration_owners": {"0": str(guild.id)} if guild else {"1": str(user.id)},
            "context": 0 if guild else 1,
        }
        if guild is not None:
            member = guild.member(user.id)
            if member is None:
                raise LookupError(f"{user.username} is not a member of {guild.name}")
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = "en-US"
            payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
            payload["member"] = member.to_json(permissions=guild.permissions_in(member, channel))
        else:
            payload["user"] = user.to_json()
        if message is not None:
            payload["message"] = message
        self.interactions[interaction_id] = InteractionRecord(
            interaction_id, token, kind, payload, self.clock())
        self.gateway.dispatch("INTERACTION_CREATE", payload)
        self._changed()
        return interaction_id

    def _synced(self, name: str, guild: FakeGuild | None) -> tuple[dict[str, Any] | None, int | None]:
        scopes: list[int | None] = [guild.id] if guild is not None else []
        for scope in [*scopes, None]:
            for command in self._commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, scope
        return None, None

    def _option_value(self, value: Any, kind: int | None, resolved: dict[str, Any],
                      guild: FakeGuild | None, channel: FakeChannel) -> tuple[int, Any]:
        if isinstance(value, FakeUser) or kind == 6:
            user = self.user(value)
            resolved.setdefault("users", {})[str(user.id)] = user.to_json()
            member = guild.member(user.id) if guild else None
            if member is not None:
                data = member.to_json(permissions=guild.permissions_in(member, channel)) if guild else {}
                data.pop("user", None)
                resolved.setdefault("members", {})[str(user.id)] = data
            return 6, str(user.id)
        if isinstance(value, FakeChannel) or kind == 7:
            target = self.channel(value)
            resolved.setdefault("channels", {})[str(target.id)] = {
                **target.to_json(), "permissions": str(self.bot_permissions(target))}
            return 7, str(target.id)
        if isinstance(value, FakeRole) or kind == 8:
            role = value if isinstance(value, FakeRole) else self.guild(guild).role(value)
            resolved.setdefault("roles", {})[str(role.id)] = role.to_json()
            return 8, str(role.id)
        if kind is None:
            kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else \
                10 if isinstance(value, float) else 3
        return kind, value

    def _command_data(
        self, name: str, options: Mapping[str, Any] | list[dict[str, Any]] | None,
        guild: FakeGuild | None, channel: FakeChannel, focused: str | None = None,
    ) -> dict[str, Any]:
        parts = name.split()
        command, scope = self._synced(parts[0], guild)
        if command is None and self.strict_commands:
            raise LookupError(f"/{parts[0]} was never synced")
        definition: dict[str, Any] = command or {}
        for part in parts[1:]:
            definition = next((o for o in definition.get("options", []) if o["name"] == part), {})
        defs = {o["name"]: o for o in definition.get("options", [])}
        resolved: dict[str, Any] = {}
        if isinstance(options, list):
            leaf = options
        else:
            leaf = []
            for key, value in (options or {}).items():
                kind, raw = self._option_value(value, defs.get(key, {}).get("type"), resolved,
                                               guild, channel)
                item: dict[str, Any] = {"name": key, "type": kind, "value": raw}
                if key == focused:
                    item["focused"] = True
                    item["value"] = str(raw)
                leaf.append(item)
        nested: list[dict[str, Any]] = leaf
        if len(parts) == 3:
            nested = [{"type": 2, "name": parts[1],
                       "options": [{"type": 1, "name": parts[2], "options": leaf}]}]
        elif len(parts) == 2:
            nested = [{"type": 1, "name": parts[1], "options": leaf}]
        data: dict[str, Any] = {
            "id": command["id"] if command else str(snowflake()),
            "name": parts[0], "type": 1, "options": nested,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved:
            data["resolved"] = resolved
        return data

    def inject_command(
        self,
        name: str,
        options: Mapping[str, Any] | list[dict[str, Any]] | None = None,
        *,
        user: UserRef | None = None,
        channel: ChannelRef | None = None,
        guild: GuildRef | None = None,
    ) -> int:
        """Dispatch a slash command (``"feeds add"`` = subcommand, 3 words = group) → its id.

        ``options`` maps option names to values (types come from the synced definition,
        else from the Python type; FakeUser/FakeChannel/FakeRole become resolved ids), or is a
        raw Discord option list.
        """
        who, where, guild_obj = self._context(user, channel, guild)
        data = self._command_data(name, options, guild_obj, where)
        return self._new_interaction(2, data, who, where, guild_obj)

    def inject_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        user: UserRef | None = None,
        channel: ChannelRef | None = None,
        guild: GuildRef | None = None,
    ) -> int:
        """Dispatch an autocomplete request; ``focused`` names the option being typed."""
        if focused not in options:
            raise ValueError("the focused option must be among the options")
        who, where, guild_obj = self._context(user, channel, guild)
        data = self._command_data(name, options, guild_obj, where, focused=focused)
        return self._new_interaction(4, data, who, where, guild_obj)

    def _component_message(self, message_id: int, custom_id: str) -> tuple[SentMessage, dict[str, Any]]:
        sent = self._messages.get(message_id)
        if sent is None or sent.deleted:
            raise LookupError(f"no live message {message_id}")
        for row in sent.message.get("components", []):
            for child in row.get("components", []):
                if child.get("custom_id") == custom_id:
                    if child.get("disabled"):
                        raise LookupError(f"component {custom_id!r} is disabled")
                    return sent, child
        raise LookupError(f"message {message_id} has no component {custom_id!r}")

    def click_button(self, message_id: int, custom_id: str, *, user: UserRef | None = None) -> int:
        """Dispatch a button click on a recorded message → interaction id."""
        sent, component = self._component_message(message_id, custom_id)
        if component.get("type") != 2:
            raise LookupError(f"{custom_id!r} is not a button")
        who, where, guild = self._context(user, sent.channel_id, None)
        data = {"custom_id": custom_id, "component_type": 2}
        return self._new_interaction(3, data, who, where, guild, message=sent.message)

    def select_option(self, message_id: int, custom_id: str, values: list[str], *,
                      user: UserRef | None = None) -> int:
        """Dispatch a string-select choice on a recorded message → interaction id."""
        sent, component = self._component_message(message_id, custom_id)
        who, where, guild = self._context(user, sent.channel_id, None)
        data = {"custom_id": custom_id, "component_type": component.get("type"), "values": values}
        return self._new_interaction(3, data, who, where, guild, message=sent.message)

    # ================================================================ gateway shortcuts

    def drop_gateway(self, code: int = 4000) -> None:
        """Close the gateway connection with a resumable code; the client RESUMEs."""
        self.gateway.drop(code)

    def invalidate_session(self, *, resumable: bool) -> None:
        self.gateway.invalidate_session(resumable=resumable)

    def request_reconnect(self) -> None:
        self.gateway.request_reconnect()

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count
