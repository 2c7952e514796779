"""Read-only routes about who is who: the bot's login, the gateway URL, users, DMs and guilds.

discord.py calls these at login and when it resolves ids it has not cached; they render the
world in ``hub`` and change nothing but the DM channel table.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from .hub import Hub
from .responses import fail, json_response
from .rest import BODY, Route
from .state import FakeChannel, snowflake

GUILD = r"/guilds/(?P<guild>\d+)"


class DirectoryRoutes:
    """``/users``, ``/oauth2/applications/@me``, ``/gateway`` and the guild reads."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def routes(self) -> list[Route]:
        return [
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/oauth2/applications/@me", self._get_application),
            ("GET", r"/gateway", self._get_gateway),
            ("GET", r"/gateway/bot", self._get_gateway),
            ("POST", r"/users/@me/channels", self._open_dm),
            ("GET", r"/users/(?P<user>\d+)", self._get_user),
            ("GET", GUILD, self._get_guild),
            ("GET", GUILD + r"/channels", self._get_guild_channels),
            ("GET", GUILD + r"/roles", self._get_guild_roles),
            ("GET", GUILD + r"/members/(?P<user>\d+)", self._get_member),
        ]

    async def _get_me(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response(
            {
                **self._hub.bot_user.to_json(),
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
                "locale": "en-US",
            }
        )

    async def _get_application(self, request: web.Request, m: dict[str, str]) -> web.Response:
        hub = self._hub
        owner = hub.defaults.owner if hub.defaults else hub.bot_user
        return json_response(
            {
                "id": str(hub.application_id),
                "name": hub.bot_user.username,
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": owner.to_json(),
                "verify_key": secrets.token_hex(32),
                "flags": 0,
                "team": None,
                "summary": "",
                "interactions_endpoint_url": None,
                "bot": hub.bot_user.to_json(),
            }
        )

    async def _get_gateway(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response(
            {
                "url": f"ws://127.0.0.1:{self._hub.port}/gateway",
                "shards": self._hub.recommended_shards(),
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _open_dm(self, request: web.Request, m: dict[str, str]) -> web.Response:
        body = request[BODY] or {}
        try:
            user = self._hub.users[int(body.get("recipient_id", 0))]
        except (KeyError, ValueError):
            raise fail(400, 50033, "Invalid Recipient(s)") from None
        channel = self._hub.dm_channels.get(user.id)
        if channel is None:
            channel = FakeChannel(snowflake(), "", 1, recipient=user)
            self._hub.dm_channels[user.id] = channel
        return json_response(channel.to_json())

    async def _get_user(self, request: web.Request, m: dict[str, str]) -> web.Response:
        user = self._hub.users.get(int(m["user"]))
        if user is None:
            raise fail(404, 10013, "Unknown User")
        return json_response(user.to_json())

    async def _get_guild(self, request: web.Request, m: dict[str, str]) -> web.Response:
        data = self._hub.guild_or_404(int(m["guild"])).to_json()
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            data.pop(key, None)
        return json_response(data)

    async def _get_guild_channels(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response(
            [c.to_json() for c in self._hub.guild_or_404(int(m["guild"])).channels]
        )

    async def _get_guild_roles(self, request: web.Request, m: dict[str, str]) -> web.Response:
        return json_response([r.to_json() for r in self._hub.guild_or_404(int(m["guild"])).roles])

    async def _get_member(self, request: web.Request, m: dict[str, str]) -> web.Response:
        member = self._hub.guild_or_404(int(m["guild"])).member(int(m["user"]))
        if member is None:
            raise fail(404, 10007, "Unknown Member")
        return json_response(member.to_json())
