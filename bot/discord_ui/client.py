"""The Discord bot: owns the resources and wires poller, scheduler and delivery together.

Everything starts in ``setup_hook`` (database, HTTP client, parser pool, scheduler, delivery
worker) and stops in ``close``. Dependencies can be injected, which is how the end-to-end tests
run the real bot against the fake Discord with a controlled clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import discord
import discord.gateway
import discord.http
import yarl
from discord.ext import commands
from sqlite_utils import Database

from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.discord_ui import message_fit
from bot.discord_ui.delivery import DeliveryWorker
from bot.discord_ui.going_cards import GoingCardEditor
from bot.discord_ui.pacer import Pacer, Priority
from bot.discord_ui.reminder_views import digest_reminder_view, reminder_view_factory
from bot.discord_ui.reminder_worker import ReminderWorker
from bot.discord_ui.talk_threads import TalkThreads
from bot.discord_ui.tree import SeminarTree
from bot.feeds.http import FeedFetcher
from bot.feeds.isolate import ParserPool
from bot.service import notices
from bot.service.dbthread import DatabaseThread
from bot.service.feed_admin import FeedAdmin
from bot.service.feeds import open_store, poll_schedule, sync_config_feeds
from bot.service.health import ShardHealth, feed_health, write_health
from bot.service.poller import Poller, PollOutcome
from bot.service.scheduler import PollScheduler
from bot.service.sharding import added_feeds_schedule, claim_database
from bot.service.shared_fetch import SharedFetcher
from bot.service.shared_parse import SharedParser
from bot.service.supervision import AfterPollHook, FeedSupervisor
from bot.waiting import wait_for_event

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)

HEALTH_INTERVAL_SECONDS = 60.0
#: How long a stop lets the delivery in flight finish (``docker stop`` kills after 10 s).
DELIVERY_STOP_SECONDS = 2.0

#: Extensions loaded at start-up (slash command cogs live in ``bot.discord_ui.cogs``).
EXTENSIONS: tuple[str, ...] = (
    "bot.discord_ui.cogs.seminars",
    "bot.discord_ui.cogs.feeds",
    "bot.discord_ui.cogs.reminders",
    "bot.discord_ui.cogs.going",
    "bot.discord_ui.event_mirror",
    "bot.discord_ui.weekly_digest",
)


def point_discord_at(api_base_url: str, gateway_url: str) -> None:
    """Send discord.py's REST and gateway traffic to the configured endpoints (proxy or test)."""
    discord.http.Route.BASE = api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def required_intents() -> discord.Intents:
    """Guilds only: no privileged intents (members, presences, message content)."""
    intents = discord.Intents.none()
    intents.guilds = True
    return intents


class SeminarBot(commands.Bot):
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        fetcher: FeedFetcher | None = None,
        parser: ParserPool | None = None,
        extensions: Iterable[str] = EXTENSIONS,
        schedule_polls: bool = True,
        sync_commands: bool = True,
        health_file: Path | None = None,
        rest_pacer: Pacer | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("guild_ready_timeout", 2.0)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=required_intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            max_ratelimit_timeout=30.0,
            tree_cls=SeminarTree,
            **options,
        )
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._fetcher = fetcher
        self._parser = parser
        self._extensions = tuple(extensions)
        self._schedule_polls = schedule_polls
        self._sync_commands = sync_commands
        self.db_thread = DatabaseThread()
        #: The one pacer every worker's REST request goes through (Discord's global budget).
        self.rest_pacer = rest_pacer or Pacer(config.discord.requests_per_second)
        self.db: Database | None = None
        self.poller: Poller | None = None
        self.delivery: DeliveryWorker | None = None
        #: The thread per talk (started by delivery, archived by its own pass).
        self.talk_threads: TalkThreads | None = None
        self.scheduler: PollScheduler | None = None
        #: Feed administration for ``/feeds`` (the store plus the poll schedule).
        self.feed_admin: FeedAdmin | None = None
        #: The policy around every poll (skip, disable, warn, follow-up hooks).
        self.supervisor: FeedSupervisor | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False
        #: Set after every poll (tests wait on it rather than sleeping).
        self.polled = asyncio.Event()
        #: Awaited after every poll with (feed id, outcome), e.g. to plan reminders.
        self.after_poll_hooks: list[AfterPollHook] = []
        #: The reminder worker, set by the reminders cog when it is loaded.
        self.reminders: ReminderWorker | None = None
        #: The "I'm going" card editor, set by the going cog when it is loaded.
        self.going: GoingCardEditor | None = None
        self.health_file = health_file
        #: Gateway state as discord.py's connect/disconnect events report it. ``is_ready()``
        #: and ``ws`` survive a disconnect, so they cannot tell whether we are connected.
        self.gateway_connected = False
        self.gateway_changed_at: datetime | None = None
        self._health_due = asyncio.Event()
        self._health_said_connected: bool | None = None
        if isinstance(self.tree, SeminarTree):
            self.tree.owns_guild = config.discord.shards.owns

    # --- start-up ---------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        self.db = await self.db_thread.run(open_store, self.config)
        shards = self.config.discord.shards
        where = str(self.config.storage_path)
        await self.run_db(claim_database, shards, where=where, now=self.clock.now())
        feeds = await self.run_db(sync_config_feeds, self.config, now=self.clock.now())
        if self._fetcher is None:
            self._fetcher = FeedFetcher()
        if self._parser is None:
            self._parser = ParserPool()
        self.poller = Poller(
            db=self.db,
            db_thread=self.db_thread,
            fetcher=self._fetcher,
            parser=self._parser,
            clock=self.clock,
            default_timezone=self.config.timezone,
            shared_fetch=SharedFetcher(self._fetcher, self.clock),
            shared_parse=SharedParser(self._parser, self.db_thread, self.db, self.clock),
        )
        self.talk_threads = TalkThreads(
            self,
            db=self.db,
            db_thread=self.db_thread,
            clock=self.clock,
            notify=self.notify_admins,
            rest_pacer=self.rest_pacer,
        )
        self.delivery = DeliveryWorker(
            self,
            db=self.db,
            db_thread=self.db_thread,
            clock=self.clock,
            notify=self.notify_admins,
            view_factory=reminder_view_factory,
            digest_view_factory=digest_reminder_view,
            threads=self.talk_threads,
            pacer=self.rest_pacer,
        )
        self.supervisor = FeedSupervisor(
            poller=self.poller,
            db=self.db,
            db_thread=self.db_thread,
            clock=self.clock,
            notify=self.notify_admins,
            wake_delivery=self.delivery.wake,
            after_poll_hooks=self.after_poll_hooks,
            is_closing=lambda: self._closing,
        )
        self.feed_admin = FeedAdmin(db=self.db, db_thread=self.db_thread, clock=self.clock)
        self.feed_admin.settings_hooks.append(self.talk_threads.settings_changed)
        for extension in self._extensions:
            await self.load_extension(extension)
        self.scheduler = PollScheduler(self.poll_feed)
        self.feed_admin.schedule = self.scheduler
        if self._schedule_polls:
            added = await self.run_db(added_feeds_schedule, shards)
            self.scheduler.schedule_fleet(poll_schedule(feeds) + added)
        self.scheduler.start()
        self.spawn(self.delivery.run_forever(), name="outbox-delivery")
        self.spawn(self.talk_threads.run_forever(), name="talk-threads")
        if self.health_file is not None:
            self.spawn(self._health_loop(), name="health-file")
        if self._sync_commands and self.config.discord.syncs_commands:
            await self.sync_commands()

    async def sync_commands(self) -> None:
        """Guild sync for listed guilds (instant), otherwise one global sync."""
        guild_ids = self.config.discord.command_guild_ids
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
        elif self.tree.get_commands():
            await self.tree.sync()

    def spawn(self, coro: Any, *, name: str) -> asyncio.Task[Any]:
        """Start a background task that is kept alive and whose failure is logged."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed", name, exc_info=t.exception())

        task.add_done_callback(done)
        return task

    @property
    def fetcher(self) -> FeedFetcher | None:
        """The bot's one HTTP client for feeds (None until setup_hook has run)."""
        return self._fetcher

    @property
    def parser(self) -> ParserPool | None:
        """The bot's one parser process pool (None until setup_hook has run)."""
        return self._parser

    async def run_db(
        self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run a service function on the database thread with the bot's database."""
        assert self.db is not None, "database not open yet"
        return await self.db_thread.run(fn, self.db, *args, **kwargs)

    # --- polling ----------------------------------------------------------------------------

    async def poll_feed(self, feed_id: int, *, force: bool = False) -> PollOutcome | None:
        """One scheduled poll (the policy lives in ``FeedSupervisor.poll``)."""
        if self._closing or self.supervisor is None:
            return None
        outcome = await self.supervisor.poll(feed_id, force=force)
        if outcome is not None:
            self.polled.set()
        return outcome

    # --- health -----------------------------------------------------------------------------

    async def write_health(self) -> None:
        if self.health_file is None:
            return
        feeds = await self.run_db(feed_health)
        connected = self.gateway_connected and not self.is_closed()
        await asyncio.to_thread(
            write_health,
            self.health_file,
            now=self.clock.now(),
            gateway_connected=connected,
            gateway_changed_at=self.gateway_changed_at,
            feeds=feeds,
            shards=self.shard_health(),
        )
        if connected != self._health_said_connected:
            first = self._health_said_connected is None
            self._health_said_connected = connected
            if connected:
                log.info("health: the gateway is connected")
            elif not first:
                log.warning("health: the gateway is not connected (reported unhealthy)")

    def shard_health(self) -> list[ShardHealth]:
        """Per-shard gateway state for the health file (none when unsharded)."""
        return []

    async def _health_loop(self) -> None:
        """Rewrite the file every minute and at once when the gateway comes or goes."""
        while not self._closing:
            self._health_due.clear()
            try:
                await self.write_health()
            except OSError as exc:  # e.g. a read-only or full volume: one line, not a traceback
                log.warning("could not write the health file %s: %s", self.health_file, exc)
            except Exception:
                log.exception("could not write the health file")
            await wait_for_event(self._health_due, HEALTH_INTERVAL_SECONDS)

    def _gateway_state(self, connected: bool, what: str) -> None:
        if connected == self.gateway_connected and self.gateway_changed_at is not None:
            return
        self.gateway_connected = connected
        self.gateway_changed_at = self.clock.now()
        self._health_due.set()
        log.debug("gateway %s", what)

    async def on_ready(self) -> None:
        self._gateway_state(True, "connected")

    async def on_resumed(self) -> None:
        self._gateway_state(True, "resumed")

    async def on_disconnect(self) -> None:
        self._gateway_state(False, "disconnected; discord.py is reconnecting")

    # --- admin notices ----------------------------------------------------------------------

    async def notify_admins(self, guild_id: int, key: str, text: str) -> None:
        """Tell a server's admins something once (admin channel, else the owner by DM)."""
        first_time = await self.run_db(
            notices.first_notice, key, guild_id=guild_id, text=text, now=self.clock.now()
        )
        if not first_time:
            return
        log.warning("admin notice (guild %s): %s", guild_id, text)
        allowed = discord.AllowedMentions.none()
        text = message_fit.fit_content(text, what="admin notice")
        try:
            await self.rest_pacer.take(Priority.ANNOUNCEMENT)
            admin_channel = self.config.discord.admin_channel_id
            if admin_channel:
                await self.get_partial_messageable(admin_channel).send(
                    text, allowed_mentions=allowed
                )
                return
            guild = self.get_guild(guild_id) if guild_id else None
            if guild is not None and guild.owner_id:
                user = self.get_user(guild.owner_id) or await self.fetch_user(guild.owner_id)
                await user.send(text, allowed_mentions=allowed)
        except discord.HTTPException as exc:
            log.warning("could not deliver an admin notice: %s", exc)

    # --- gateway events ---------------------------------------------------------------------

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        if self.supervisor is None:
            return
        count = await self.supervisor.guild_removed(guild.id)
        log.info("removed from guild %s; disabled %d feed(s)", guild.id, count)

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        if self.supervisor is not None:
            await self.supervisor.channel_deleted(channel.guild.id, channel.id)

    # --- shutdown ---------------------------------------------------------------------------

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self.scheduler is not None:
            self.scheduler.shutdown()
        if self.delivery is not None:
            try:
                await asyncio.wait_for(self.delivery.stop(), DELIVERY_STOP_SECONDS)
            except TimeoutError:
                # Cancelled below; the row stays claimed and the next start recovers it.
                log.warning(
                    "stop: the delivery in flight did not finish within %.0f s; "
                    "it is left for the next start",
                    DELIVERY_STOP_SECONDS,
                )
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await super().close()
        if self._fetcher is not None:
            await self._fetcher.close()
        if self._parser is not None:
            await self._parser.close()
        if self.db is not None:
            await self.db_thread.run(self.db.close)
        self.db_thread.close()
