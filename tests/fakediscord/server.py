"""FakeDiscord: the REST API + gateway on 127.0.0.1 that the real discord.py client talks to.

See the package docstring / README for the public API. This module only assembles the parts
and gives tests one object to hold: the shared state (``hub``), the route groups (``directory``,
``commands``, ``channels``, ``threads``, ``scheduled_events``, ``interactions``) served by
``rest``, the injectors (``injection``, ``faults``) and the gateway. Handlers answer exactly what discord.py
2.7.1 reads (see docs/discord-protocol.md) and enforce Discord's documented limits, so a bot
that passes against the fake fails for the same reasons it would fail in production.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from .channels import ChannelRoutes
from .commands import CommandRoutes
from .directory import DirectoryRoutes
from .faults import Faults
from .hub import ChannelRef, GuildRef, Hub, UserRef
from .injection import Injector
from .interactions import InteractionRoutes
from .messages import Messages
from .records import Fault
from .rest import RestApp
from .scheduled_events import ScheduledEventRoutes
from .threads import ThreadRoutes


class FakeDiscord(Hub):
    """One fake Discord: start it, point discord.py at it, drive it, assert on its records."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] | None = None,
        default_world: bool = True,
    ) -> None:
        super().__init__(token=token, clock=clock, now=now, default_world=default_world)
        self._faults = Faults(self)
        self._injector = Injector(self)
        messages = Messages(self)
        self._rest = RestApp(
            self,
            self._faults,
            [
                *DirectoryRoutes(self).routes(),
                *CommandRoutes(self).routes(),
                *ChannelRoutes(self, messages, self._faults).routes(),
                *ScheduledEventRoutes(self).routes(),
                *ThreadRoutes(self, messages).routes(),
                *InteractionRoutes(self, messages).routes(),
            ],
        )
        self._runner: web.AppRunner | None = None

    # ================================================================ lifecycle

    async def start(self) -> FakeDiscord:
        self._runner = web.AppRunner(self._rest.build(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        self.release_stalls()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ================================================================ faults & rate limits

    def inject_fault(
        self,
        method: str,
        pattern: str,
        status: int,
        *,
        code: int = 0,
        message: str | None = None,
        retry_after: float = 0.05,
        is_global: bool = False,
        after: bool = False,
        times: int = 1,
    ) -> Fault:
        """Answer the next ``times`` requests matching ``method`` + fnmatch ``pattern``.

        ``pattern`` is matched against the path after ``/api/v10`` (``/channels/*/messages``).
        429 carries ``Via``, JSON ``retry_after``/``global`` and X-RateLimit-* headers;
        ``after=True`` runs the real handler first (the message IS created) then fails.
        """
        return self._faults.inject(
            method,
            pattern,
            status,
            code=code,
            message=message,
            retry_after=retry_after,
            is_global=is_global,
            after=after,
            times=times,
        )

    def enable_channel_rate_limit(self, limit: int = 5, per: float = 5.0) -> None:
        """Real per-channel message buckets with X-RateLimit headers (429 only if ignored)."""
        self.channel_rate_limit = (limit, per)

    def enable_channel_edit_rate_limit(self, limit: int = 5, per: float = 5.0) -> None:
        """The same for message edits (PATCH), in a bucket of their own per channel."""
        self.channel_edit_rate_limit = (limit, per)

    def enable_global_rate_limit(self, per_second: int = 50) -> None:
        """Discord's global limit: more than ``per_second`` bot requests (interaction callbacks
        and webhooks aside) in any one-second window get a global 429."""
        self.global_rate_limit = per_second

    # ================================================================ interactions: injection

    def inject_command(
        self,
        name: str,
        options: Mapping[str, Any] | list[dict[str, Any]] | None = None,
        *,
        user: UserRef | None = None,
        channel: ChannelRef | None = None,
        guild: GuildRef | None = None,
    ) -> int:
        """Dispatch a slash command (``"feeds add"`` = subcommand, 3 words = group) → its id.

        ``options`` maps option names to values (types come from the synced definition,
        else from the Python type; FakeUser/FakeChannel/FakeRole become resolved ids), or is a
        raw Discord option list.
        """
        return self._injector.command(name, options, user=user, channel=channel, guild=guild)

    def inject_autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        user: UserRef | None = None,
        channel: ChannelRef | None = None,
        guild: GuildRef | None = None,
    ) -> int:
        """Dispatch an autocomplete request; ``focused`` names the option being typed."""
        return self._injector.autocomplete(
            name, options, focused, user=user, channel=channel, guild=guild
        )

    def click_button(self, message_id: int, custom_id: str, *, user: UserRef | None = None) -> int:
        """Dispatch a button click on a recorded message → interaction id."""
        return self._injector.click_button(message_id, custom_id, user=user)

    def select_option(
        self, message_id: int, custom_id: str, values: list[str], *, user: UserRef | None = None
    ) -> int:
        """Dispatch a string-select choice on a recorded message → interaction id."""
        return self._injector.select_option(message_id, custom_id, values, user=user)

    def stall(self, method: str, pattern: str) -> None:
        """Hold matching requests unanswered until ``stop()``: a hung Discord or proxy.

        ``pattern`` is fnmatch on the path after ``/api/v10``, as for ``inject_fault``.
        """
        self.stalls.append((method.upper(), pattern))

    def release_stalls(self) -> None:
        """Answer the held requests (their handlers run now) and stop holding new ones."""
        self.stalls.clear()
        self.stalls_released.set()

    # ================================================================ gateway shortcuts

    def drop_gateway(self, code: int = 4000, *, shard_id: int | None = None) -> None:
        """Close gateway connections (every shard's by default); the client RESUMEs."""
        self.gateway.drop(code, shard_id=shard_id)

    def invalidate_session(self, *, resumable: bool, shard_id: int | None = None) -> None:
        self.gateway.invalidate_session(resumable=resumable, shard_id=shard_id)

    def request_reconnect(self, *, shard_id: int | None = None) -> None:
        self.gateway.request_reconnect(shard_id=shard_id)

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count
