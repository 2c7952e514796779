"""The fake's world: users, guilds, roles, channels and members, rendered as Discord JSON.

Plain mutable dataclasses so a test can reshape the world (close someone's DMs, add an
overwrite) before or during a run. Permission maths is Discord's documented algorithm in its
simple form: base from @everyone + member roles, then @everyone/role/member overwrites.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Permission bits used by the fake (discord.Permissions has the full list).
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_EVENTS = 1 << 33
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
CREATE_EVENTS = 1 << 44
ALL_PERMISSIONS = (1 << 51) - 1

#: What @everyone gets in a freshly created guild (roughly Discord's default).
DEFAULT_EVERYONE = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
    | (1 << 6)
    | (1 << 0)
)

_counter = itertools.count(1)


def snowflake(at_ms: int | None = None) -> int:
    """A fresh, unique snowflake for *now*: discord.py derives created_at/expiry from it."""
    ms = int(time.time() * 1000) if at_ms is None else at_ms
    return ((ms - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0x3FFFFF)


def snowflake_on_shard(shard_id: int, shard_count: int) -> int:
    """A fresh snowflake that Discord would route to ``shard_id`` of ``shard_count`` as a guild id."""
    value = snowflake()
    stamp = value >> 22
    stamp += (shard_id - stamp) % shard_count
    return (stamp << 22) | (value & 0x3FFFFF)


def snowflake_time_ms(value: int) -> int:
    return (value >> 22) + DISCORD_EPOCH_MS


def iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime())


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    #: False makes DMs to this user fail with 403 / 50007.
    dms_open: bool = True

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.username,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    managed: bool = False
    color: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }


@dataclass
class Overwrite:
    """A permission overwrite: ``type`` 0 for a role, 1 for a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class FakeChannel:
    id: int
    name: str
    type: int = 0  # 0 text, 1 DM, 2 voice, 4 category, 5 announcement, 13 stage
    guild_id: int | None = None
    position: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    parent_id: int | None = None
    #: DM channels only: the other participant.
    recipient: FakeUser | None = None
    topic: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.type == 1 and self.recipient is not None:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self.recipient.to_json()],
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.to_json() for o in self.overwrites],
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "nsfw": False,
            "topic": self.topic,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        return data


#: Announcement, public and private thread channel types.
THREAD_TYPES = (10, 11, 12)


@dataclass
class FakeThread(FakeChannel):
    """A thread: a channel whose permissions are its parent's (``parent_id``), with an owner
    and an archive state. Started from a message, it has that message's id."""

    type: int = 11
    owner_id: int = 0
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    archive_timestamp: str = field(default_factory=iso_now)
    create_timestamp: str = field(default_factory=iso_now)
    message_count: int = 0
    rate_limit_per_user: int = 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "parent_id": str(self.parent_id),
            "owner_id": str(self.owner_id),
            "name": self.name,
            "last_message_id": None,
            "rate_limit_per_user": self.rate_limit_per_user,
            "message_count": self.message_count,
            "total_message_sent": self.message_count,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": self.archived,
                "auto_archive_duration": self.auto_archive_duration,
                "archive_timestamp": self.archive_timestamp,
                "locked": self.locked,
                "create_timestamp": self.create_timestamp,
            },
        }
        return data


@dataclass
class FakeMember:
    user: FakeUser
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = "2024-01-01T00:00:00.000000+00:00"

    def to_json(self, *, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user": self.user.to_json(),
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "joined_at": self.joined_at,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "avatar": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: list[FakeMember] = field(default_factory=list)
    #: Threads, archived ones included (GUILD_CREATE lists the active ones).
    threads: list[FakeThread] = field(default_factory=list)

    # --- lookups --------------------------------------------------------------------------

    @property
    def everyone(self) -> FakeRole:
        return next(r for r in self.roles if r.id == self.id)

    def role(self, key: int | str) -> FakeRole:
        return next(r for r in self.roles if key in (r.id, r.name))

    def channel(self, key: int | str) -> FakeChannel:
        return next(c for c in self.channels if key in (c.id, c.name))

    def member(self, key: int | str) -> FakeMember | None:
        return next((m for m in self.members if key in (m.user.id, m.user.username)), None)

    # --- permissions ----------------------------------------------------------------------

    def base_permissions(self, member: FakeMember) -> int:
        if member.user.id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.everyone.permissions
        for role in self.roles:
            if role.id in member.role_ids:
                perms |= role.permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def permissions_in(self, member: FakeMember, channel: FakeChannel) -> int:
        if channel.type in THREAD_TYPES and channel.parent_id is not None:
            channel = self.channel(channel.parent_id)  # a thread has its parent's rights
        perms = self.base_permissions(member)
        if perms & ADMINISTRATOR or member.user.id == self.owner_id:
            return ALL_PERMISSIONS
        by_id = {o.id: o for o in channel.overwrites}
        everyone = by_id.get(self.id)
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.role_ids:
            overwrite = by_id.get(role_id)
            if overwrite is not None and overwrite.type == 0:
                allow |= overwrite.allow
                deny |= overwrite.deny
        perms = (perms & ~deny) | allow
        own = by_id.get(member.user.id)
        if own is not None and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        if not perms & VIEW_CHANNEL:
            return 0
        return perms

    # --- rendering ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The GUILD_CREATE payload; member_count always equals len(members)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "roles": [r.to_json() for r in self.roles],
            "channels": [c.to_json() for c in self.channels],
            "members": [m.to_json() for m in self.members],
            "member_count": len(self.members),
            "unavailable": False,
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "large": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "threads": [t.to_json() for t in self.threads if not t.archived],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
        }


@dataclass
class DefaultWorld:
    """The fixture's standard guild, with every interesting object by name."""

    bot: FakeUser
    owner: FakeUser
    admin: FakeUser
    member: FakeUser
    guild: FakeGuild
    everyone_role: FakeRole
    bot_role: FakeRole
    admin_role: FakeRole
    seminar_role: FakeRole
    seminars: FakeChannel
    readonly: FakeChannel


def build_default_world(
    bot: FakeUser, *, name: str = "Test University", guild_id: int | None = None
) -> DefaultWorld:
    """One guild: owner, bot, admin (MANAGE_GUILD), member; #seminars and #read-only."""
    guild_id = guild_id or snowflake()
    owner = FakeUser(snowflake(), "owner")
    admin = FakeUser(snowflake(), "admin")
    member = FakeUser(snowflake(), "alice")
    everyone = FakeRole(guild_id, "@everyone", DEFAULT_EVERYONE, position=0)
    bot_role = FakeRole(
        snowflake(),
        "Seminar Bot",
        VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | MENTION_EVERYONE
        | CREATE_EVENTS
        | MANAGE_EVENTS,
        position=3,
        managed=True,
    )
    admin_role = FakeRole(snowflake(), "Admin", MANAGE_GUILD | MANAGE_EVENTS, position=2)
    seminar_role = FakeRole(snowflake(), "Seminar-goers", 0, position=1, mentionable=True)
    seminars = FakeChannel(
        snowflake(), "seminars", 0, guild_id, position=0, topic="Seminar announcements"
    )
    readonly = FakeChannel(
        snowflake(),
        "read-only",
        0,
        guild_id,
        position=1,
        overwrites=[Overwrite(bot_role.id, 0, deny=SEND_MESSAGES)],
    )
    guild = FakeGuild(
        guild_id,
        name,
        owner.id,
        roles=[everyone, seminar_role, admin_role, bot_role],
        channels=[seminars, readonly],
        members=[
            FakeMember(owner),
            FakeMember(bot, [bot_role.id]),
            FakeMember(admin, [admin_role.id]),
            FakeMember(member, [seminar_role.id]),
        ],
    )
    return DefaultWorld(
        bot,
        owner,
        admin,
        member,
        guild,
        everyone,
        bot_role,
        admin_role,
        seminar_role,
        seminars,
        readonly,
    )
