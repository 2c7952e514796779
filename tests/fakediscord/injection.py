"""Playing the user: slash commands, autocomplete, button clicks and selects sent to the bot.

Each injection builds the INTERACTION_CREATE payload a real client would get (typed options
from the synced definition, ``resolved`` users/channels/roles, member permissions), records an
``InteractionRecord`` and dispatches it on the gateway.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from .hub import ChannelRef, GuildRef, Hub, UserRef
from .records import InteractionRecord, SentMessage
from .state import FakeChannel, FakeGuild, FakeRole, FakeUser, snowflake

Options = Mapping[str, Any] | list[dict[str, Any]]


class Injector:
    """Creates interactions as a Discord user would trigger them; returns their ids."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def command(
        self,
        name: str,
        options: Options | None,
        *,
        user: UserRef | None,
        channel: ChannelRef | None,
        guild: GuildRef | None,
    ) -> int:
        who, where, guild_obj = self._context(user, channel, guild)
        data = self._command_data(name, options, guild_obj, where)
        return self._new_interaction(2, data, who, where, guild_obj)

    def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        user: UserRef | None,
        channel: ChannelRef | None,
        guild: GuildRef | None,
    ) -> int:
        if focused not in options:
            raise ValueError("the focused option must be among the options")
        who, where, guild_obj = self._context(user, channel, guild)
        data = self._command_data(name, options, guild_obj, where, focused=focused)
        return self._new_interaction(4, data, who, where, guild_obj)

    def click_button(self, message_id: int, custom_id: str, *, user: UserRef | None) -> int:
        sent, component = self._component_message(message_id, custom_id)
        if component.get("type") != 2:
            raise LookupError(f"{custom_id!r} is not a button")
        who, where, guild = self._context(user, sent.channel_id, None)
        data = {"custom_id": custom_id, "component_type": 2}
        return self._new_interaction(3, data, who, where, guild, message=sent.message)

    def select_option(
        self, message_id: int, custom_id: str, values: list[str], *, user: UserRef | None
    ) -> int:
        sent, component = self._component_message(message_id, custom_id)
        who, where, guild = self._context(user, sent.channel_id, None)
        data = {"custom_id": custom_id, "component_type": component.get("type"), "values": values}
        return self._new_interaction(3, data, who, where, guild, message=sent.message)

    def _context(
        self, user: UserRef | None, channel: ChannelRef | None, guild: GuildRef | None
    ) -> tuple[FakeUser, FakeChannel, FakeGuild | None]:
        """Who acts where: defaults to alice in #seminars, checks the channel is in the guild."""
        hub = self._hub
        if user is None:
            user = hub.defaults.member if hub.defaults else next(iter(hub.users.values()))
        resolved_user = hub.user(user)
        if channel is None:
            if guild is None and hub.defaults is not None:
                channel = hub.defaults.seminars
            else:
                channel = next(c for c in hub.guild(guild).channels if c.type == 0)
        resolved_channel = hub.channel(channel)
        resolved_guild = hub.guilds.get(resolved_channel.guild_id or 0)
        if guild is not None and resolved_guild is not hub.guild(guild):
            raise LookupError("channel is not in that guild")
        return resolved_user, resolved_channel, resolved_guild

    def _new_interaction(
        self,
        kind: int,
        data: dict[str, Any],
        user: FakeUser,
        channel: FakeChannel,
        guild: FakeGuild | None,
        message: dict[str, Any] | None = None,
    ) -> int:
        hub = self._hub
        interaction_id = snowflake()
        token = "fake-interaction-" + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(hub.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "attachment_size_limit": 10 * 1024 * 1024,
            "locale": "en-US",
            "entitlements": [],
            "app_permissions": str(hub.bot_permissions(channel)),
            "channel": channel.to_json(),
            "channel_id": str(channel.id),
            "authorizing_integration_owners": {"0": str(guild.id)}
            if guild
            else {"1": str(user.id)},
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
        hub.interactions[interaction_id] = InteractionRecord(
            interaction_id, token, kind, payload, hub.clock()
        )
        hub.gateway.dispatch("INTERACTION_CREATE", payload)
        hub.changed()
        return interaction_id

    def _synced(
        self, name: str, guild: FakeGuild | None
    ) -> tuple[dict[str, Any] | None, int | None]:
        """The synced chat-input command (guild scope first, then global) and its scope."""
        scopes: list[int | None] = [guild.id] if guild is not None else []
        for scope in [*scopes, None]:
            for command in self._hub.command_lists.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, scope
        return None, None

    def _option_value(
        self,
        value: Any,
        kind: int | None,
        resolved: dict[str, Any],
        guild: FakeGuild | None,
        channel: FakeChannel,
    ) -> tuple[int, Any]:
        """An option's Discord type and raw value; users/channels/roles also go into ``resolved``."""
        hub = self._hub
        if isinstance(value, FakeUser) or kind == 6:
            user = hub.user(value)
            resolved.setdefault("users", {})[str(user.id)] = user.to_json()
            member = guild.member(user.id) if guild else None
            if member is not None:
                data = (
                    member.to_json(permissions=guild.permissions_in(member, channel))
                    if guild
                    else {}
                )
                data.pop("user", None)
                resolved.setdefault("members", {})[str(user.id)] = data
            return 6, str(user.id)
        if isinstance(value, FakeChannel) or kind == 7:
            target = hub.channel(value)
            resolved.setdefault("channels", {})[str(target.id)] = {
                **target.to_json(),
                "permissions": str(hub.bot_permissions(target)),
            }
            return 7, str(target.id)
        if isinstance(value, FakeRole) or kind == 8:
            role = value if isinstance(value, FakeRole) else hub.guild(guild).role(value)
            resolved.setdefault("roles", {})[str(role.id)] = role.to_json()
            return 8, str(role.id)
        if kind is None:
            kind = (
                5
                if isinstance(value, bool)
                else 4
                if isinstance(value, int)
                else 10
                if isinstance(value, float)
                else 3
            )
        return kind, value

    def _command_data(
        self,
        name: str,
        options: Options | None,
        guild: FakeGuild | None,
        channel: FakeChannel,
        focused: str | None = None,
    ) -> dict[str, Any]:
        """The interaction ``data`` for ``/name`` (1-3 words), nesting subcommands and groups."""
        parts = name.split()
        command, scope = self._synced(parts[0], guild)
        if command is None and self._hub.strict_commands:
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
                kind, raw = self._option_value(
                    value, defs.get(key, {}).get("type"), resolved, guild, channel
                )
                item: dict[str, Any] = {"name": key, "type": kind, "value": raw}
                if key == focused:
                    item["focused"] = True
                    item["value"] = str(raw)
                leaf.append(item)
        nested: list[dict[str, Any]] = leaf
        if len(parts) == 3:
            nested = [
                {
                    "type": 2,
                    "name": parts[1],
                    "options": [{"type": 1, "name": parts[2], "options": leaf}],
                }
            ]
        elif len(parts) == 2:
            nested = [{"type": 1, "name": parts[1], "options": leaf}]
        data: dict[str, Any] = {
            "id": command["id"] if command else str(snowflake()),
            "name": parts[0],
            "type": 1,
            "options": nested,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved:
            data["resolved"] = resolved
        return data

    def _component_message(
        self, message_id: int, custom_id: str
    ) -> tuple[SentMessage, dict[str, Any]]:
        """The live message and its enabled component ``custom_id``, or LookupError."""
        sent = self._hub.messages_by_id.get(message_id)
        if sent is None or sent.deleted:
            raise LookupError(f"no live message {message_id}")
        for row in sent.message.get("components", []):
            for child in row.get("components", []):
                if child.get("custom_id") == custom_id:
                    if child.get("disabled"):
                        raise LookupError(f"component {custom_id!r} is disabled")
                    return sent, child
        raise LookupError(f"message {message_id} has no component {custom_id!r}")
