"""Channel and message routes: what the bot may read, post, edit and delete, and who may not.

Permission checks (VIEW_CHANNEL, SEND_MESSAGES, MANAGE_MESSAGES, closed DMs), history paging
and ``enforce_nonce`` dedupe live here; building the message itself is ``messages.Messages``.
"""

from __future__ import annotations

from aiohttp import web

from . import validation as v
from .faults import Faults
from .hub import Hub
from .messages import Messages
from .records import UploadedFile
from .responses import (
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    HTTPError,
    check,
    fail,
    json_response,
    no_content,
)
from .rest import BODY, FILES, Route
from .state import (
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    VIEW_CHANNEL,
    FakeChannel,
    FakeGuild,
    FakeThread,
)
from .threads import before_message, send_permission

NONCE_WINDOW = 5 * 60.0
CHANNEL = r"/channels/(?P<channel>\d+)"
MESSAGE = CHANNEL + r"/messages/(?P<message>\d+)"


class ChannelRoutes:
    """``/channels/{id}`` and its messages."""

    def __init__(self, hub: Hub, messages: Messages, faults: Faults) -> None:
        self._hub = hub
        self._messages = messages
        self._faults = faults
        self._nonces: dict[tuple[int, int, str], tuple[int, float]] = {}

    def routes(self) -> list[Route]:
        return [
            ("GET", CHANNEL, self._get_channel),
            ("GET", CHANNEL + r"/messages", self._get_history),
            ("POST", CHANNEL + r"/messages", self._post_message),
            ("GET", MESSAGE, self._get_message),
            ("PATCH", MESSAGE, self._patch_message),
            ("DELETE", MESSAGE, self._delete_message),
        ]

    def _channel_for_bot(
        self, channel_id: int, needed: int
    ) -> tuple[FakeChannel, FakeGuild | None]:
        channel, guild = self._hub.find_channel(channel_id)
        if guild is not None:
            perms = guild.permissions_in(self._hub.bot_member(guild), channel)
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
        items = list(self._hub.messages(channel.id))
        if "before" in request.query:
            items = [s for s in items if s.id < int(request.query["before"])]
        if "after" in request.query:
            items = [s for s in items if s.id > int(request.query["after"])][:limit]
            return json_response([s.message for s in reversed(items)])
        return json_response([s.message for s in reversed(items[-limit:])])

    async def _get_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, _ = self._channel_for_bot(int(m["channel"]), VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        return json_response(self._messages.live(channel.id, int(m["message"])).message)

    def _shares_a_guild(self, user_id: int) -> bool:
        return any(
            any(member.user.id == user_id for member in guild.members)
            for guild in self._hub.guilds.values()
        )

    async def _post_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        hub = self._hub
        target, _ = hub.find_channel(int(m["channel"]))
        channel, guild = self._channel_for_bot(target.id, VIEW_CHANNEL | send_permission(target))
        if channel.type == 1 and channel.recipient is not None:
            recipient = channel.recipient
            # Discord refuses a DM to a closed inbox, and to anyone the bot shares no server with.
            if not recipient.dms_open or not self._shares_a_guild(recipient.id):
                raise fail(403, 50007, "Cannot send messages to this user")
        headers = self._faults.take_channel_bucket(channel.id)
        payload = request[BODY] or {}
        files: list[UploadedFile] = request[FILES]
        check(v.validate_message(payload, files=len(files)))
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            key = (hub.bot_user.id, channel.id, str(nonce))
            seen = self._nonces.get(key)
            if seen is not None and hub.clock() - seen[1] < NONCE_WINDOW:
                existing = hub.messages_by_id.get(seen[0])
                if existing is not None and not existing.deleted:
                    return json_response(existing.message, headers=headers)
        before_message(hub, channel)
        sent = self._messages.create(channel, guild, payload, files, source="channel")
        if isinstance(channel, FakeThread):
            channel.message_count += 1
        if nonce is not None:
            self._nonces[(hub.bot_user.id, channel.id, str(nonce))] = (sent.id, hub.clock())
        return json_response(sent.message, headers=headers)

    async def _patch_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, _ = self._channel_for_bot(int(m["channel"]), VIEW_CHANNEL)
        sent = self._messages.live(channel.id, int(m["message"]))
        if int(sent.message["author"]["id"]) != self._hub.bot_user.id:
            raise fail(403, 50005, "Cannot edit a message authored by another user")
        headers = self._faults.take_channel_bucket(channel.id, edit=True)
        self._messages.edit(sent, request[BODY] or {}, request[FILES], "channel")
        return json_response(sent.message, headers=headers)

    async def _delete_message(self, request: web.Request, m: dict[str, str]) -> web.Response:
        channel, _ = self._channel_for_bot(int(m["channel"]), VIEW_CHANNEL)
        sent = self._messages.live(channel.id, int(m["message"]))
        if (
            int(sent.message["author"]["id"]) != self._hub.bot_user.id
            and not self._hub.bot_permissions(channel) & MANAGE_MESSAGES
        ):
            raise fail(*MISSING_PERMISSIONS)
        self._messages.delete(sent, "channel")
        return no_content()
