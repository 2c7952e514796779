"""How a message is born, edited and deleted, whichever route asked for it.

Channel posts, interaction responses and follow-ups all end here, so the rendered JSON, the
mention maths, the records (``sent``/``edits``/``deletes``) and the gateway echoes are the
same for every source.
"""

from __future__ import annotations

import re
from typing import Any

from . import validation as v
from .gateway import DIRECT_MESSAGES, GUILD_MESSAGES
from .hub import Hub
from .records import EPHEMERAL, LOADING, Delete, Edit, InteractionRecord, SentMessage, UploadedFile
from .responses import UNKNOWN_MESSAGE, check, fail
from .state import MENTION_EVERYONE, FakeChannel, FakeGuild, iso_now, snowflake

MENTION_USER = re.compile(r"<@!?(\d+)>")
MENTION_ROLE = re.compile(r"<@&(\d+)>")


class Messages:
    """Creates, edits and deletes recorded messages and echoes them on the gateway."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def live(self, channel_id: int, message_id: int) -> SentMessage:
        """A not-deleted message in that channel, or Discord's Unknown Message."""
        sent = self._hub.messages_by_id.get(message_id)
        if sent is None or sent.deleted or sent.channel_id != channel_id:
            raise fail(*UNKNOWN_MESSAGE)
        return sent

    def create(
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
        hub = self._hub
        message_id = snowflake()
        flags = int(payload.get("flags") or 0) | extra_flags
        attachments = [
            {
                "id": str(snowflake()),
                "filename": f.filename,
                "size": len(f.data),
                "content_type": f.content_type,
                "url": f"https://cdn.discordapp.com/attachments/{channel.id}/{message_id}/{f.filename}",
                "proxy_url": f"https://media.discordapp.net/attachments/{channel.id}/{message_id}/{f.filename}",
            }
            for f in files
        ]
        message: dict[str, Any] = {
            "id": str(message_id),
            "type": 0 if interaction is None else (20 if interaction.type == 2 else 0),
            "channel_id": str(channel.id),
            "author": hub.bot_user.to_json(),
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
            member = guild.member(hub.bot_user.id)
            if member is not None:
                message["member"] = {k: val for k, val in member.to_json().items() if k != "user"}
        if interaction is not None:
            message["webhook_id"] = str(hub.application_id)
            message["application_id"] = str(hub.application_id)
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.payload.get("member", {}).get("user")
                or interaction.payload.get("user"),
                "authorizing_integration_owners": {},
            }
        self._apply_mentions(message, payload, guild, default_all=interaction is None)
        sent = SentMessage(
            message,
            payload,
            source,
            files,
            interaction.id if interaction else None,
            as_created=dict(message),
        )
        hub.sent.append(sent)
        hub.messages_by_id[message_id] = sent
        if not flags & EPHEMERAL:
            self._echo("MESSAGE_CREATE", message, guild)
        return sent

    def edit(
        self, sent: SentMessage, payload: dict[str, Any], files: list[UploadedFile], source: str
    ) -> None:
        check(v.validate_message(payload, files=len(files), is_edit=True))
        message = dict(sent.message)
        for key in ("content", "components", "flags"):
            if key in payload:
                message[key] = (
                    payload[key]
                    if payload[key] is not None
                    else ("" if key == "content" else [] if key == "components" else 0)
                )
        if "embeds" in payload:
            message["embeds"] = [{"type": "rich", **e} for e in payload["embeds"] or []]
        if "attachments" in payload:
            keep = {str(a.get("id")) for a in payload["attachments"] or []}
            message["attachments"] = [a for a in message["attachments"] if a["id"] in keep]
        if files:
            message["attachments"] = [
                *message["attachments"],
                *(
                    {
                        "id": str(snowflake()),
                        "filename": f.filename,
                        "size": len(f.data),
                        "content_type": f.content_type,
                        "url": f"https://cdn.discordapp.com/{f.filename}",
                        "proxy_url": f"https://media.discordapp.net/{f.filename}",
                    }
                    for f in files
                ),
            ]
        message["flags"] = int(message.get("flags") or 0) & ~LOADING | (
            int(sent.message.get("flags") or 0) & EPHEMERAL
        )
        if v.message_is_empty(message):
            raise fail(400, v.EMPTY_MESSAGE, "Cannot send an empty message")
        _, guild = self._hub.find_channel(sent.channel_id)
        self._apply_mentions(message, payload, guild, default_all=sent.interaction_id is None)
        message["edited_timestamp"] = iso_now()
        sent.message = message
        sent.files.extend(files)
        self._hub.edits.append(Edit(sent.id, sent.channel_id, payload, source))
        if not message["flags"] & EPHEMERAL:
            self._echo("MESSAGE_UPDATE", message, guild)

    def delete(self, sent: SentMessage, source: str) -> None:
        sent.deleted = True
        self._hub.deletes.append(Delete(sent.id, sent.channel_id, source))
        _, guild = self._hub.find_channel(sent.channel_id)
        data = {"id": str(sent.id), "channel_id": str(sent.channel_id)}
        if guild is not None:
            data["guild_id"] = str(guild.id)
        if not int(sent.message.get("flags") or 0) & EPHEMERAL:
            self._echo("MESSAGE_DELETE", data, guild)

    def _apply_mentions(
        self,
        message: dict[str, Any],
        payload: dict[str, Any],
        guild: FakeGuild | None,
        *,
        default_all: bool,
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
            bot = guild.member(self._hub.bot_user.id)
            can_everyone = bot is not None and bool(guild.base_permissions(bot) & MENTION_EVERYONE)
            mentionable = {str(r.id) for r in guild.roles if r.mentionable}
            roles = [r for r in roles if can_everyone or r in mentionable]
        known = self._hub.users
        message["mentions"] = [known[int(u)].to_json() for u in users if int(u) in known]
        message["mention_roles"] = roles
        message["mention_everyone"] = (
            "everyone" in parse and can_everyone and ("@everyone" in content or "@here" in content)
        )

    def _echo(self, event: str, message: dict[str, Any], guild: FakeGuild | None) -> None:
        if self._hub.echo_messages:
            self._hub.gateway.dispatch(
                event, message, intent=GUILD_MESSAGES if guild is not None else DIRECT_MESSAGES
            )
