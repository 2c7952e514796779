"""The state every part of the fake shares: world, records, knobs, clock and change signals.

Route handlers and injectors each get this one object, so a test that flips a knob
(``fake.interaction_deadline = 0.5``) or reads a record (``fake.sent``) sees the same values
the handlers use. ``FakeDiscord`` extends it, which keeps those attributes on the public
object without forwarding each one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .gateway import FakeGateway
from .records import (
    Delete,
    Edit,
    Fault,
    InteractionRecord,
    InteractionRejected,
    RequestRecord,
    SentMessage,
)
from .responses import MISSING_ACCESS, UNKNOWN_CHANNEL, fail
from .state import (
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    DefaultWorld,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeThread,
    FakeUser,
    build_default_world,
    snowflake,
    snowflake_on_shard,
)

API_PREFIX = "/api/v10"
GUILDS_PER_SHARD = 1000
UserRef = FakeUser | int | str
ChannelRef = FakeChannel | int | str
GuildRef = FakeGuild | int


class Hub:
    """World, records and knobs of one fake Discord, plus the lookups and waits on them."""

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
        self.channel_edit_rate_limit: tuple[int, float] | None = None
        #: ``/gateway/bot``'s ``shards``; None = Discord's rule, one shard per 1,000 guilds.
        self.shard_recommendation: int | None = None
        #: Requests per second across all routes (Discord's global limit); None = unlimited.
        self.global_rate_limit: int | None = None
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
        #: (method, path pattern) of requests held unanswered until ``stop()`` (``stall``).
        self.stalls: list[tuple[str, str]] = []
        self.stalls_released = asyncio.Event()
        self.stalled_count = 0
        self.rate_limited_count = 0
        self.sync_count = 0
        self.event_log: list[tuple[str, dict[str, Any]]] = []
        #: Synced command lists by guild id (None = global).
        self.command_lists: dict[int | None, list[dict[str, Any]]] = {}
        #: Scheduled events by guild id, then event id.
        self.events_by_guild: dict[int, dict[int, dict[str, Any]]] = {}
        self.messages_by_id: dict[int, SentMessage] = {}
        self._changed_event = asyncio.Event()
        self.gateway = FakeGateway(
            token=lambda: self.token,
            ready_payload=self.ready_payload,
            guild_payloads=lambda: [g.to_json() for g in self.guilds.values()],
            on_change=self.changed,
        )
        self.port = 0
        if default_world:
            self.defaults = build_default_world(self.bot_user)
            self.add_guild(self.defaults.guild)

    # ================================================================ addresses

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

    def ready_payload(self, session_id: str) -> dict[str, Any]:
        """The READY dispatch for a fresh gateway session."""
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

    def recommended_shards(self) -> int:
        """What ``/gateway/bot`` recommends: a knob, else one shard per 1,000 guilds."""
        if self.shard_recommendation is not None:
            return self.shard_recommendation
        return max(1, -(-len(self.guilds) // GUILDS_PER_SHARD))

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

    def add_world(self, name: str, *, shard: tuple[int, int] | None = None) -> DefaultWorld:
        """Another guild shaped like the default one; ``shard=(id, count)`` picks its shard."""
        guild_id = snowflake_on_shard(*shard) if shard else None
        world = build_default_world(self.bot_user, name=name, guild_id=guild_id)
        self.add_guild(world.guild)
        return world

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
            for channel in (*guild.channels, *guild.threads):
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

    def find_channel(self, channel_id: int) -> tuple[FakeChannel, FakeGuild | None]:
        """The channel and its guild (None for DMs), or Discord's Unknown Channel."""
        for guild in self.guilds.values():
            for channel in (*guild.channels, *guild.threads):
                if channel.id == channel_id:
                    return channel, guild
        for channel in self.dm_channels.values():
            if channel.id == channel_id:
                return channel, None
        raise fail(*UNKNOWN_CHANNEL)

    def guild_or_404(self, guild_id: int) -> FakeGuild:
        """The guild, or Discord's Unknown Guild."""
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise fail(404, 10004, "Unknown Guild")
        return guild

    def bot_member(self, guild: FakeGuild) -> FakeMember:
        """The bot's membership in ``guild``, or Missing Access when it is not in it."""
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

    def changed(self) -> None:
        """Wake every ``wait_for``: a request, dispatch or injection may have met a condition."""
        event, self._changed_event = self._changed_event, asyncio.Event()
        event.set()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait (event-driven, no polling sleeps) until ``predicate()`` holds."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed_event.wait()
        except TimeoutError:
            raise TimeoutError(f"fake Discord: condition not met within {timeout} s") from None

    async def wait_for_interaction_response(
        self,
        interaction_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> InteractionRecord:
        """The record once the client answered; raises InteractionRejected if it only failed."""
        record = self.interactions[interaction_id]
        await self.wait_for(lambda: record.response is not None or bool(record.rejected), timeout)
        if record.response is None:
            raise InteractionRejected(f"interaction {interaction_id} rejected: {record.rejected}")
        return record

    async def wait_for_messages(
        self,
        channel: ChannelRef,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[SentMessage]:
        channel_id = self.channel(channel).id
        await self.wait_for(lambda: len(self.messages(channel_id)) >= count, timeout)
        return self.messages(channel_id)

    # ================================================================ queries

    def messages(
        self, channel: ChannelRef, *, include_ephemeral: bool = False
    ) -> list[SentMessage]:
        """Live (not deleted) messages in a channel, oldest first."""
        channel_id = self.channel(channel).id
        return [
            s
            for s in self.sent
            if s.channel_id == channel_id
            and not s.deleted
            and (include_ephemeral or not s.ephemeral)
        ]

    def message(self, message_id: int) -> SentMessage:
        return self.messages_by_id[message_id]

    def dms(self, user: UserRef) -> list[SentMessage]:
        dm = self.dm_channels.get(self.user(user).id)
        return (
            [] if dm is None else [s for s in self.sent if s.channel_id == dm.id and not s.deleted]
        )

    def threads(self, channel: ChannelRef | None = None) -> list[FakeThread]:
        """Every thread (archived ones too), or those started in ``channel``, oldest first."""
        parent = None if channel is None else self.channel(channel).id
        return [
            t
            for g in self.guilds.values()
            for t in g.threads
            if parent is None or t.parent_id == parent
        ]

    def scheduled_events(self, guild: GuildRef | None = None) -> list[dict[str, Any]]:
        return list(self.events_by_guild.get(self.guild(guild).id, {}).values())

    def synced_commands(self, guild: GuildRef | None = None) -> list[dict[str, Any]] | None:
        """The last synced list (global when ``guild`` is None); None if never synced."""
        key = None if guild is None else self.guild(guild).id
        return self.command_lists.get(key)

    def interaction(self, interaction_id: int) -> InteractionRecord:
        return self.interactions[interaction_id]
