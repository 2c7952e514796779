"""Threads: starting one from a message, archiving it, and what posting in one requires.

Discord's rules as the fake applies them: a thread started from a message has the message's
id, so a second start answers 400/160004; starting needs CREATE_PUBLIC_THREADS and posting in
a thread SEND_MESSAGES_IN_THREADS (both taken from the parent channel); the name is 1-100
characters and ``auto_archive_duration`` one of 60/1440/4320/10080. Archiving (PATCH
``archived: true``) is allowed to the thread's creator or with MANAGE_THREADS. A message
posted in an archived thread reopens it unless it is locked (then 400/50083). THREAD_CREATE
and THREAD_UPDATE are dispatched so discord.py's cache follows.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import validation as v
from .hub import Hub
from .messages import Messages
from .responses import MISSING_ACCESS, MISSING_PERMISSIONS, HTTPError, check, fail, json_response
from .rest import BODY, Route
from .state import (
    CREATE_PUBLIC_THREADS,
    MANAGE_THREADS,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    FakeChannel,
    FakeGuild,
    FakeThread,
    iso_now,
)

GUILDS = 1 << 0
#: Inactivity periods Discord accepts, in minutes.
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
#: The starter message's flag once a thread hangs off it.
HAS_THREAD = 1 << 5
ALREADY_CREATED = (400, 160004, "A thread has already been created for this message")
ARCHIVED = (400, 50083, "Thread is archived")
WRONG_CHANNEL_TYPE = (400, 50024, "Cannot execute action on this channel type")
CHANNEL = r"/channels/(?P<channel>\d+)"


def send_permission(channel: FakeChannel) -> int:
    """What posting a message in ``channel`` needs besides View Channel."""
    return SEND_MESSAGES_IN_THREADS if isinstance(channel, FakeThread) else SEND_MESSAGES


class ThreadRoutes:
    """``POST /channels/{c}/messages/{m}/threads`` and ``PATCH /channels/{thread}``."""

    def __init__(self, hub: Hub, messages: Messages) -> None:
        self._hub = hub
        self._messages = messages

    def routes(self) -> list[Route]:
        return [
            ("POST", CHANNEL + r"/messages/(?P<message>\d+)/threads", self._start_from_message),
            ("PATCH", CHANNEL, self._modify_thread),
        ]

    def _rights(self, channel: FakeChannel, guild: FakeGuild | None) -> int:
        if guild is None:
            raise fail(*WRONG_CHANNEL_TYPE)
        perms = guild.permissions_in(self._hub.bot_member(guild), channel)
        if not perms & VIEW_CHANNEL:
            raise fail(*MISSING_ACCESS)
        return perms

    async def _start_from_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        hub = self._hub
        channel, guild = hub.find_channel(int(m["channel"]))
        perms = self._rights(channel, guild)
        assert guild is not None
        if channel.type not in (0, 5):
            raise fail(*WRONG_CHANNEL_TYPE)
        if not perms & CREATE_PUBLIC_THREADS:
            raise fail(*MISSING_PERMISSIONS)
        payload = request[BODY] or {}
        check(validate_thread_start(payload))
        starter = self._messages.live(channel.id, int(m["message"]))
        if any(t.id == starter.id for t in guild.threads):
            raise fail(*ALREADY_CREATED)
        thread = FakeThread(
            starter.id,
            payload["name"],
            guild_id=guild.id,
            parent_id=channel.id,
            owner_id=hub.bot_user.id,
            auto_archive_duration=int(payload.get("auto_archive_duration") or 1440),
            rate_limit_per_user=int(payload.get("rate_limit_per_user") or 0),
        )
        guild.threads.append(thread)
        starter.message["thread"] = thread.to_json()
        starter.message["flags"] = int(starter.message.get("flags") or 0) | HAS_THREAD
        hub.gateway.dispatch(
            "THREAD_CREATE", {**thread.to_json(), "newly_created": True}, intent=GUILDS
        )
        return json_response(thread.to_json())

    async def _modify_thread(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, guild = self._hub.find_channel(int(m["channel"]))
        perms = self._rights(channel, guild)
        if not isinstance(channel, FakeThread):
            raise HTTPError(400, v.error_body(0, "fake: only threads can be modified"))
        payload = request[BODY] or {}
        check(validate_thread_edit(payload))
        owner = channel.owner_id == self._hub.bot_user.id
        reopening = payload.get("archived") is False
        if channel.archived and not reopening:
            raise fail(*ARCHIVED)
        if reopening and channel.locked and not perms & MANAGE_THREADS:
            raise fail(*MISSING_PERMISSIONS)
        if not reopening and not (owner or perms & MANAGE_THREADS):
            raise fail(*MISSING_PERMISSIONS)
        if "name" in payload:
            channel.name = payload["name"]
        if "auto_archive_duration" in payload:
            channel.auto_archive_duration = int(payload["auto_archive_duration"])
        if "locked" in payload:
            channel.locked = bool(payload["locked"])
        set_archived(self._hub, channel, bool(payload.get("archived", channel.archived)))
        return json_response(channel.to_json())


def before_message(hub: Hub, channel: FakeChannel) -> None:
    """A message is about to be posted in ``channel``: a locked archived thread refuses it,
    an unlocked one is reopened (Discord does that for the poster)."""
    if not isinstance(channel, FakeThread) or not channel.archived:
        return
    if channel.locked and not hub.bot_permissions(channel) & MANAGE_THREADS:
        raise fail(*ARCHIVED)
    set_archived(hub, channel, False)


def set_archived(hub: Hub, thread: FakeThread, archived: bool) -> None:
    """Change the archive state (stamping when it changed) and tell the gateway."""
    if thread.archived != archived:
        thread.archived = archived
        thread.archive_timestamp = iso_now()
    hub.gateway.dispatch("THREAD_UPDATE", thread.to_json(), intent=GUILDS)


def validate_thread_start(payload: Any) -> v.Body | None:
    """The body of a thread start: name 1-100, a known archive duration, slowmode bounds."""
    tree = v.ErrorTree()
    if not isinstance(payload, dict) or payload.get("name") is None:
        tree.add(("name",), "BASE_TYPE_REQUIRED", "This field is required")
        return tree.body()
    _check_fields(tree, payload)
    return tree.body() if tree else None


def validate_thread_edit(payload: Any) -> v.Body | None:
    tree = v.ErrorTree()
    if not isinstance(payload, dict):
        tree.add((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return tree.body()
    _check_fields(tree, payload)
    for key in ("archived", "locked"):
        if key in payload and not isinstance(payload[key], bool):
            tree.add((key,), "BASE_TYPE_BOOLEAN", "Must be either true or false.")
    return tree.body() if tree else None


def _check_fields(tree: v.ErrorTree, payload: dict[str, Any]) -> None:
    name = payload.get("name")
    if "name" in payload and (not isinstance(name, str) or not name.strip() or len(name) > 100):
        tree.add(("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    duration = payload.get("auto_archive_duration")
    if duration is not None and duration not in ARCHIVE_DURATIONS:
        tree.add(
            ("auto_archive_duration",),
            "BASE_TYPE_CHOICES",
            "Value must be one of {60, 1440, 4320, 10080}.",
        )
    slowmode = payload.get("rate_limit_per_user")
    if slowmode is not None and (not isinstance(slowmode, int) or not 0 <= slowmode <= 21600):
        tree.add(
            ("rate_limit_per_user",),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 21600.",
        )
