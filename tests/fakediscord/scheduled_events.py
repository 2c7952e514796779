"""Guild scheduled-event routes: create, read, update and delete, with Discord's rules.

The field rules are ``validation.validate_scheduled_event``; this module adds what needs the
world (permissions, voice channels, the active-event cap, status transitions), keeps
``event_log`` and dispatches GUILD_SCHEDULED_EVENT_* so the mirror's round trip is real.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import validation as v
from .gateway import GUILD_SCHEDULED_EVENTS
from .hub import Hub
from .responses import MISSING_PERMISSIONS, HTTPError, check, fail, json_response, no_content
from .rest import BODY, Route
from .state import CREATE_EVENTS, MANAGE_EVENTS, FakeGuild, snowflake

EVENTS = r"/guilds/(?P<guild>\d+)/scheduled-events"
EVENT = EVENTS + r"/(?P<event>\d+)"


class ScheduledEventRoutes:
    """Events stored in ``hub.events_by_guild``."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def routes(self) -> list[Route]:
        return [
            ("GET", EVENTS, self._list_events),
            ("POST", EVENTS, self._create_event),
            ("GET", EVENT, self._get_event),
            ("PATCH", EVENT, self._patch_event),
            ("DELETE", EVENT, self._delete_event),
        ]

    def _events_guild(self, m: dict[str, str], *, write: bool) -> FakeGuild:
        guild = self._hub.guild_or_404(int(m["guild"]))
        if write and not guild.base_permissions(self._hub.bot_member(guild)) & (
            CREATE_EVENTS | MANAGE_EVENTS
        ):
            raise fail(*MISSING_PERMISSIONS)
        return guild

    def _event_or_404(self, guild: FakeGuild, m: dict[str, str]) -> dict[str, Any]:
        event = self._hub.events_by_guild.get(guild.id, {}).get(int(m["event"]))
        if event is None:
            raise fail(404, 10070, "Unknown Guild Scheduled Event")
        return event

    def _voice_ids(self, guild: FakeGuild) -> set[int]:
        return {c.id for c in guild.channels if c.type in (2, 13)}

    async def _list_events(self, request: web.Request, m: dict[str, str]) -> web.Response:
        guild = self._events_guild(m, write=False)
        events = list(self._hub.events_by_guild.get(guild.id, {}).values())
        if request.query.get("with_user_count") in ("true", "1", "True"):
            events = [{**e, "user_count": 0} for e in events]
        return json_response(events)

    async def _get_event(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response(self._event_or_404(self._events_guild(m, write=False), m))

    async def _create_event(self, request: web.Request, m: dict[str, str]) -> web.Response:
        hub = self._hub
        guild = self._events_guild(m, write=True)
        body = request[BODY] or {}
        check(
            v.validate_scheduled_event(
                body,
                now=hub.now(),
                check_past=hub.reject_past_events,
                voice_channel_ids=self._voice_ids(guild),
            )
        )
        store = hub.events_by_guild.setdefault(guild.id, {})
        if sum(1 for e in store.values() if e["status"] in (1, 2)) >= hub.max_active_events:
            raise fail(
                400,
                30038,
                "Maximum number of uncompleted guild scheduled events reached "
                f"({hub.max_active_events})",
            )
        event_id = snowflake()
        event = {
            "id": str(event_id),
            "guild_id": str(guild.id),
            "channel_id": str(body["channel_id"]) if body.get("channel_id") else None,
            "creator_id": str(hub.bot_user.id),
            "creator": hub.bot_user.to_json(),
            "name": body["name"],
            "description": body.get("description"),
            "scheduled_start_time": body["scheduled_start_time"],
            "scheduled_end_time": body.get("scheduled_end_time"),
            "privacy_level": body["privacy_level"],
            "status": 1,
            "entity_type": body["entity_type"],
            "entity_id": None,
            "entity_metadata": body.get("entity_metadata"),
            "image": None,
            "recurrence_rule": body.get("recurrence_rule"),
        }
        store[event_id] = event
        hub.event_log.append(("create", dict(event)))
        hub.gateway.dispatch("GUILD_SCHEDULED_EVENT_CREATE", event, intent=GUILD_SCHEDULED_EVENTS)
        return json_response(event)

    async def _patch_event(self, request: web.Request, m: dict[str, str]) -> web.Response:
        hub = self._hub
        guild = self._events_guild(m, write=True)
        event = self._event_or_404(guild, m)
        body = request[BODY] or {}
        merged = {**event, **body}
        if body.get("entity_type") == v.EXTERNAL:
            merged["channel_id"] = body.get("channel_id")
        start_changed = "scheduled_start_time" in body
        check(
            v.validate_scheduled_event(
                merged,
                now=hub.now(),
                check_past=hub.reject_past_events and start_changed,
                voice_channel_ids=self._voice_ids(guild),
            )
        )
        if "status" in body and body["status"] not in v.STATUS_TRANSITIONS[event["status"]]:
            tree = v.ErrorTree()
            tree.add(
                ("status",),
                "GUILD_SCHEDULED_EVENT_INVALID_STATUS_TRANSITION",
                f"Cannot transition from status {event['status']} to {body['status']}.",
            )
            raise HTTPError(400, tree.body())
        if event["status"] in (3, 4):
            raise fail(400, 180000, "Cannot modify a finished event")
        event.update(merged)
        hub.event_log.append(("update", dict(event)))
        hub.gateway.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", event, intent=GUILD_SCHEDULED_EVENTS)
        return json_response(event)

    async def _delete_event(self, request: web.Request, m: dict[str, str]) -> web.Response:
        hub = self._hub
        guild = self._events_guild(m, write=True)
        event = self._event_or_404(guild, m)
        del hub.events_by_guild[guild.id][int(event["id"])]
        hub.event_log.append(("delete", dict(event)))
        hub.gateway.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event, intent=GUILD_SCHEDULED_EVENTS)
        return no_content()
