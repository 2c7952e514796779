"""Application-command sync: the bulk ``PUT``/``GET`` routes discord.py's tree sync uses.

Validation of the definitions is ``validation.validate_commands``; this module stores what
passed, keeps ids stable across re-syncs and counts syncs, so tests can see what users would
be offered.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import validation as v
from .hub import Hub
from .responses import check, fail, json_response
from .rest import BODY, Route
from .state import snowflake

GLOBAL = r"/applications/(?P<app>\d+)/commands"
GUILD = r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands"


class CommandRoutes:
    """Global and per-guild command lists, stored in ``hub.command_lists``."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def routes(self) -> list[Route]:
        return [
            ("GET", GLOBAL, self._get_commands),
            ("PUT", GLOBAL, self._put_commands),
            ("GET", GUILD, self._get_commands),
            ("PUT", GUILD, self._put_commands),
        ]

    def _scope(self, m: dict[str, str]) -> int | None:
        """The guild id of the route (None = global), after checking app and guild exist."""
        if int(m["app"]) != self._hub.application_id:
            raise fail(403, 50001, "Missing Access")
        guild_id = int(m["guild"]) if m.get("guild") else None
        if guild_id is not None and guild_id not in self._hub.guilds:
            raise fail(404, 10004, "Unknown Guild")
        return guild_id

    async def _get_commands(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response(self._hub.command_lists.get(self._scope(m), []))

    async def _put_commands(self, request: web.Request, m: dict[str, str]) -> web.Response:
        hub = self._hub
        guild_id = self._scope(m)
        payload = request[BODY]
        check(v.validate_commands(payload))
        previous = {(c["type"], c["name"]): c["id"] for c in hub.command_lists.get(guild_id, [])}
        stored: list[dict[str, Any]] = []
        for command in payload:
            kind = command.get("type", 1)
            item = {
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **command,
                "type": kind,
                "id": previous.get((kind, command["name"]), str(snowflake())),
                "application_id": str(hub.application_id),
                "version": str(snowflake()),
            }
            if guild_id is not None:
                item["guild_id"] = str(guild_id)
            stored.append(item)
        hub.command_lists[guild_id] = stored
        hub.sync_count += 1
        return json_response(stored)
