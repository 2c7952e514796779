"""Discord permission bits the bot needs, and the maths that says whether it has them.

Discord sends permissions as integer bit sets; a member's rights in a channel are the guild's
base rights (@everyone plus every role of the member, everything for the owner or an
administrator) adjusted by the channel's overwrites: @everyone, then all of the member's roles
together, then the member. Computed here from plain data, so the setup check can explain a
refusal before Discord ever has to make one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_EVENTS = 1 << 33
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
CREATE_EVENTS = 1 << 44
ALL = (1 << 53) - 1

#: Announcing: see the channel, post, embed cards, and read history to find its own posts.
POSTING = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY
#: A thread per talk: start it from the card, and post updates in it.
THREADS = VIEW_CHANNEL | READ_MESSAGE_HISTORY | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS

_NAMES = {
    VIEW_CHANNEL: "View Channel",
    SEND_MESSAGES: "Send Messages",
    EMBED_LINKS: "Embed Links",
    READ_MESSAGE_HISTORY: "Read Message History",
    MANAGE_EVENTS: "Manage Events",
    CREATE_PUBLIC_THREADS: "Create Public Threads",
    SEND_MESSAGES_IN_THREADS: "Send Messages in Threads",
}

INVITE_BASE = "https://discord.com/oauth2/authorize"


@dataclass(frozen=True, slots=True)
class Overwrite:
    """One channel permission overwrite: for a role (``is_member`` False) or a member."""

    target_id: int
    is_member: bool
    allow: int
    deny: int


def needed_permissions(*, scheduled_events: bool, talk_threads: bool = False) -> int:
    """What the bot's invite asks for: posting, plus Manage Events for the Events mirror and
    the thread rights when a feed opens a thread per talk."""
    return POSTING | (MANAGE_EVENTS if scheduled_events else 0) | (THREADS if talk_threads else 0)


def permission_names(bits: int) -> list[str]:
    """Readable names of the bits, in Discord's own order."""
    return [name for bit, name in sorted(_NAMES.items()) if bits & bit]


def base_permissions(
    *,
    guild_id: int,
    owner_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    role_permissions: Mapping[int, int],
) -> int:
    """The member's guild-wide rights (the @everyone role's id is the guild's id)."""
    if member_id == owner_id:
        return ALL
    bits = role_permissions.get(guild_id, 0)
    for role_id in member_role_ids:
        bits |= role_permissions.get(role_id, 0)
    return ALL if bits & ADMINISTRATOR else bits


def channel_permissions(
    base: int,
    *,
    guild_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    overwrites: Iterable[Overwrite],
) -> int:
    """The member's rights in one channel; nothing at all without View Channel."""
    if base & ADMINISTRATOR or base == ALL:
        return ALL
    roles = set(member_role_ids)
    everyone = [o for o in overwrites if not o.is_member and o.target_id == guild_id]
    role_rules = [o for o in overwrites if not o.is_member and o.target_id in roles]
    member_rules = [o for o in overwrites if o.is_member and o.target_id == member_id]
    bits = base
    for rule in everyone:
        bits = (bits & ~rule.deny) | rule.allow
    deny = allow = 0
    for rule in role_rules:
        deny |= rule.deny
        allow |= rule.allow
    bits = (bits & ~deny) | allow
    for rule in member_rules:
        bits = (bits & ~rule.deny) | rule.allow
    return bits if bits & VIEW_CHANNEL else 0


def invite_url(application_id: int, permissions: int) -> str:
    """The link that adds the bot to a server with exactly ``permissions``."""
    query = urlencode(
        {
            "client_id": application_id,
            "scope": "bot applications.commands",
            "permissions": permissions,
        }
    )
    return f"{INVITE_BASE}?{query}"
