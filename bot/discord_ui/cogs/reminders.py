"""Reminder commands and buttons: /remind, /subscribe, /subscriptions, /unsubscribe, and the
"Remind me" button on every announcement. Every reply is ephemeral.

The cog owns the reminder worker: it starts it on load, plans reminders after every poll
(through the bot's ``after_poll_hooks``) and tells a member once, at their next command, that
their DMs are closed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.durations import format_duration, parse_duration
from bot.core.reminders import MAX_PERSONAL_OFFSET
from bot.discord_ui import message_fit
from bot.discord_ui.embeds import inert, unix
from bot.discord_ui.reminder_views import (
    RemindMeButton,
    RemindPickSelect,
    RemoveSubscriptionButton,
)
from bot.discord_ui.reminder_worker import ReminderWorker
from bot.discord_ui.tree import SeminarTree, UserFacingError
from bot.service import attendance
from bot.service import subscriptions as subs
from bot.service.poller import PollOutcome
from bot.service.records import SubscriptionRow, UpcomingEvent

if TYPE_CHECKING:
    from bot.discord_ui.client import SeminarBot

log = logging.getLogger(__name__)

DEFAULT_OFFSET = timedelta(minutes=15)
DM_HINT = (
    "Heads-up: I tried to DM you a seminar reminder, but your DMs are closed to me, so your DM "
    "reminders are paused. Allow direct messages from server members (Privacy Settings), then "
    "run `/subscribe` or `/remind` again to resume, or use `via: channel`."
)
#: Membership is refreshed from interactions at most this often per user.
SEEN_REFRESH = timedelta(hours=1)


def parse_offset(text: str | None) -> timedelta:
    if text is None or not text.strip():
        return DEFAULT_OFFSET
    try:
        offset = parse_duration(text)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from None
    if offset > MAX_PERSONAL_OFFSET:
        raise UserFacingError(
            f"`{text}` is too far ahead; reminders can be at most "
            f"{format_duration(MAX_PERSONAL_OFFSET)} before an event."
        )
    return offset


def _short_when(event: UpcomingEvent) -> str:
    start = event.occurrence.start
    if isinstance(start, datetime):
        return f"{start:%a %d %b %H:%M} UTC"
    return f"{start:%a %d %b} (all day)"


def describe(sub: SubscriptionRow, title: str = "", feed_name: str = "") -> str:
    before = format_duration(sub.offset)
    via = "by DM" if sub.via == "dm" else "in the channel"
    if sub.kind == "event":
        what = f"**{inert(title)}**" if title else "an event that is over or gone"
    else:
        scope = f"feed **{inert(feed_name)}**" if feed_name else "every feed"
        what = f"everything in {scope}"
        if sub.field:
            what += f" with {sub.field} “{inert(sub.pattern)}”"
    flag = {"dm_disabled": " (paused: your DMs are closed)", "left": " (paused)"}.get(sub.state, "")
    return f"{before} before {what}, {via}{flag}"


class Reminders(commands.Cog, name="Reminders"):
    def __init__(self, bot: SeminarBot) -> None:
        assert bot.db is not None, "extensions load after the database is open"
        self.bot = bot
        self.worker = ReminderWorker(
            bot,
            db=bot.db,
            db_thread=bot.db_thread,
            clock=bot.clock,
            default_timezone=bot.config.timezone,
            pacer=bot.rest_pacer,
        )
        self._seen: dict[int, datetime] = {}

    # --- lifecycle --------------------------------------------------------------------------

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(RemindMeButton, RemindPickSelect, RemoveSubscriptionButton)
        await self.worker.start()
        self.bot.reminders = self.worker
        hooks = getattr(self.bot, "after_poll_hooks", None)
        if hooks is not None:
            hooks.append(self._after_poll)
        tree = self.bot.tree
        if isinstance(tree, SeminarTree):
            tree.before_hooks.append(self._before_command)
        self.bot.spawn(self.worker.run_forever(), name="reminders")

    async def cog_unload(self) -> None:
        await self.worker.stop()
        hooks = getattr(self.bot, "after_poll_hooks", None)
        if hooks is not None and self._after_poll in hooks:
            hooks.remove(self._after_poll)
        tree = self.bot.tree
        if isinstance(tree, SeminarTree) and self._before_command in tree.before_hooks:
            tree.before_hooks.remove(self._before_command)

    async def _after_poll(self, feed_id: int, outcome: PollOutcome) -> None:
        if outcome.status in ("ok", "suspect"):
            await self.worker.plan_feed(feed_id)

    # --- the one-time "your DMs are closed" hint --------------------------------------------

    async def _before_command(self, interaction: discord.Interaction) -> None:
        await self._saw_member(interaction)
        if interaction.user.id in self.worker.hint_users:
            interaction.extras["reminders_dm_hint"] = True

    async def _saw_member(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id is None:
            return
        now = self.bot.clock.now()
        last = self._seen.get(interaction.user.id)
        if last is None or now - last > SEEN_REFRESH:
            self._seen[interaction.user.id] = now
            await self.bot.run_db(subs.member_seen, interaction.user.id, now=now)

    @commands.Cog.listener()
    async def on_app_command_completion(
        self, interaction: discord.Interaction, command: Any
    ) -> None:
        if interaction.extras.get("reminders_dm_hint"):
            await self._send_hint(interaction)

    async def _send_hint(self, interaction: discord.Interaction) -> None:
        user_id = interaction.user.id
        if user_id not in self.worker.hint_users:
            return
        self.worker.hint_users.discard(user_id)
        await self.bot.run_db(subs.clear_dm_hint, user_id)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(DM_HINT, ephemeral=True)
            else:
                await interaction.response.send_message(DM_HINT, ephemeral=True)
        except discord.HTTPException as exc:
            log.info("could not show the DM hint to %s: %s", user_id, exc)

    # --- shared logic -----------------------------------------------------------------------

    def _guild_id(self, interaction: discord.Interaction) -> int:
        if interaction.guild_id is None:
            raise UserFacingError("Use this in the server whose seminars you follow.")
        return interaction.guild_id

    def _prepare_dm(self, interaction: discord.Interaction, guild_id: int) -> None:
        """Open the member's DM channel while they are here, beside the reply (not before it:
        the reply has a three-second deadline)."""
        self.bot.spawn(
            self.worker.prepare_dm(interaction.user, guild_id),
            name=f"reminders:dm:{interaction.user.id}",
        )

    async def _reply(self, interaction: discord.Interaction, text: str, **kwargs: Any) -> None:
        await interaction.response.send_message(
            message_fit.fit_content(text),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
            **kwargs,
        )

    async def _remind_event(
        self,
        interaction: discord.Interaction,
        announcement_id: str,
        offset: timedelta,
        via: str = "dm",
    ) -> str:
        guild_id = self._guild_id(interaction)
        try:
            reminder = await self.bot.run_db(
                subs.remind_of_event,
                guild_id=guild_id,
                user_id=interaction.user.id,
                announcement_id=announcement_id,
                offset=offset,
                via=via,
                now=self.bot.clock.now(),
                default_timezone=self.bot.config.timezone,
            )
        except subs.UnknownEvent as exc:
            raise UserFacingError("I don't know that event; pick one from the list.") from exc
        except subs.EventCancelled as exc:
            raise UserFacingError(f"**{inert(exc.title)}** was cancelled.") from exc
        except subs.TooSoon as exc:
            raise UserFacingError(
                f"**{inert(exc.title)}** is too soon for a {format_duration(offset)} reminder; "
                "choose a shorter time, like `5m`."
            ) from exc
        if via == "dm":
            self.worker.hint_users.discard(interaction.user.id)
            self._prepare_dm(interaction, guild_id)
        await self.worker.plan_feed(reminder.feed_id)
        occ = reminder.occurrence
        how = "by DM" if via == "dm" else "in the channel"
        if not reminder.created:
            return (
                f"You already have a {format_duration(offset)} reminder for **{inert(occ.title)}**."
            )
        return (
            f"Done: I'll remind you {how} {format_duration(offset)} before "
            f"**{inert(occ.title)}** (<t:{unix(reminder.due)}:R>). "
            "Manage reminders with `/subscriptions`."
        )

    # --- buttons ----------------------------------------------------------------------------

    async def remind_from_button(
        self, interaction: discord.Interaction, announcement_id: str
    ) -> None:
        try:
            await self._saw_member(interaction)
            text = await self._remind_event(interaction, announcement_id, DEFAULT_OFFSET)
        except UserFacingError as exc:
            text = str(exc)
        await self._reply(interaction, text)
        if interaction.user.id in self.worker.hint_users:
            await self._send_hint(interaction)

    async def remove_from_button(
        self, interaction: discord.Interaction, subscription_id: int
    ) -> None:
        removed = await self.bot.run_db(
            subs.unsubscribe,
            subscription_id,
            interaction.user.id,
            now=self.bot.clock.now(),
        )
        await self._reply(
            interaction,
            "Removed; you won't get those reminders."
            if removed
            else "That subscription was already removed.",
        )

    # --- commands ---------------------------------------------------------------------------

    @app_commands.command(name="remind", description="Remind me before one seminar")
    @app_commands.describe(
        event="The seminar (start typing to search)",
        before="How long before it starts, e.g. 10m, 2h, 1d or 1h30m (default 15m)",
    )
    async def remind(
        self, interaction: discord.Interaction, event: str, before: str | None = None
    ) -> None:
        offset = parse_offset(before)
        await self._reply(interaction, await self._remind_event(interaction, event, offset))

    @remind.autocomplete("event")
    async def _event_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        events = await self.bot.run_db(
            subs.remindable_events, interaction.guild_id, current, now=self.bot.clock.now()
        )
        return [
            app_commands.Choice(
                name=f"{_short_when(event)} · {event.occurrence.title}"[:100],
                value=event.announcement_id,
            )
            for event in events
        ]

    @app_commands.command(
        name="subscribe", description="Get reminders for every seminar that matches, now and later"
    )
    @app_commands.describe(
        feed="Only this feed (default: all of this server's feeds)",
        series="Only this series",
        speaker="Only talks by this speaker",
        keyword="Only talks mentioning this word",
        before="How long before each starts, e.g. 10m, 2h, 1d or 1h30m (default 15m)",
        via="By DM (default) or with a mention in the seminar channel",
    )
    @app_commands.choices(
        via=[
            app_commands.Choice(name="DM", value="dm"),
            app_commands.Choice(name="channel", value="channel"),
        ]
    )
    async def subscribe(
        self,
        interaction: discord.Interaction,
        feed: str | None = None,
        series: str | None = None,
        speaker: str | None = None,
        keyword: str | None = None,
        before: str | None = None,
        via: app_commands.Choice[str] | None = None,
    ) -> None:
        guild_id = self._guild_id(interaction)
        offset = parse_offset(before)
        method = via.value if via is not None else "dm"
        given = [
            (n, v.strip())
            for n, v in (("series", series), ("speaker", speaker), ("keyword", keyword))
            if v and v.strip()
        ]
        if len(given) > 1:
            raise UserFacingError(
                "Pick one of series, speaker or keyword (or none for everything)."
            )
        field_name, pattern = given[0] if given else ("", "")
        if len(pattern) > 100:
            raise UserFacingError("That filter is too long (100 characters at most).")
        try:
            result = await self.bot.run_db(
                subs.subscribe_to_filter,
                guild_id=guild_id,
                user_id=interaction.user.id,
                feed=feed,
                field=field_name,
                pattern=pattern,
                offset=offset,
                via=method,
                now=self.bot.clock.now(),
            )
        except subs.UnknownFeed as exc:
            assert feed is not None
            raise UserFacingError(f"This server has no feed called `{inert(feed)}`.") from exc
        if method == "dm":
            self.worker.hint_users.discard(interaction.user.id)
            self._prepare_dm(interaction, guild_id)
        for feed_id in result.feed_ids:
            await self.worker.plan_feed(feed_id)
        text = describe(result.subscription, feed_name=result.feed_name)
        prefix = "Subscribed" if result.created else "You already had this subscription"
        await self._reply(
            interaction,
            f"{prefix}: {text}. {result.matching_now} upcoming seminar(s) match now; new ones "
            "will be included as they are announced.",
        )

    @subscribe.autocomplete("feed")
    async def _feed_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        names = await self.bot.run_db(subs.feed_names, interaction.guild_id)
        return [
            app_commands.Choice(name=name[:100], value=name[:100])
            for name in names
            if current.casefold() in name.casefold()
        ][:25]

    async def _mine(self, interaction: discord.Interaction) -> list[tuple[SubscriptionRow, str]]:
        guild_id = self._guild_id(interaction)
        mine = await self.bot.run_db(subs.my_subscriptions, interaction.user.id, guild_id)
        return [(d.subscription, describe(d.subscription, d.title, d.feed_name)) for d in mine]

    @app_commands.command(
        name="subscriptions", description="List my reminders, with buttons to remove them"
    )
    @app_commands.describe(
        going_reminders="Whether pressing “I'm going” also sets a reminder (on by default)"
    )
    @app_commands.choices(
        going_reminders=[
            app_commands.Choice(name="on", value="on"),
            app_commands.Choice(name="off", value="off"),
        ]
    )
    async def subscriptions(
        self,
        interaction: discord.Interaction,
        going_reminders: app_commands.Choice[str] | None = None,
    ) -> None:
        note = ""
        if going_reminders is not None:
            on = going_reminders.value == "on"
            await self.bot.run_db(
                attendance.set_going_reminders, self._guild_id(interaction), interaction.user.id, on
            )
            note = (
                "Pressing **I'm going** now also sets a "
                f"{format_duration(DEFAULT_OFFSET)} DM reminder.\n"
                if on
                else "Pressing **I'm going** no longer sets a reminder (the ones set stay).\n"
            )
        mine = await self._mine(interaction)
        if not mine:
            await self._reply(
                interaction,
                note + "You have no reminders. Press **Remind me** on an announcement, or use "
                "`/remind` or `/subscribe`.",
            )
            return
        shown = mine[:20]
        lines = [f"**{i}.** {text}" for i, (_, text) in enumerate(shown, 1)]
        if len(mine) > len(shown):
            lines.append(f"… and {len(mine) - len(shown)} more (use `/unsubscribe`).")
        view = discord.ui.View(timeout=None)
        for i, (sub, _) in enumerate(shown, 1):
            view.add_item(RemoveSubscriptionButton(sub.id, f"Remove {i}"))
        await self._reply(interaction, note + "Your reminders:\n" + "\n".join(lines), view=view)

    @app_commands.command(name="unsubscribe", description="Stop one of my reminders, or all")
    @app_commands.describe(
        subscription="Which one (start typing), or “all” (which also ends every “I'm going”)"
    )
    async def unsubscribe(self, interaction: discord.Interaction, subscription: str) -> None:
        guild_id = self._guild_id(interaction)
        now = self.bot.clock.now()
        if subscription.strip().casefold() == "all":
            count = await self.bot.run_db(
                subs.unsubscribe_all, interaction.user.id, guild_id, now=now
            )
            going = await self.bot.run_db(
                attendance.leave_all, interaction.user.id, guild_id, now=now
            )
            if going and self.bot.going is not None:
                self.bot.going.wake()
            text = f"Removed {count} subscription(s)."
            if going:
                text += f" You are no longer going to {going} talk(s)."
            await self._reply(interaction, text)
            return
        try:
            sub_id = int(subscription)
        except ValueError:
            raise UserFacingError("Pick a subscription from the list (or type `all`).") from None
        removed = await self.bot.run_db(subs.unsubscribe, sub_id, interaction.user.id, now=now)
        if not removed:
            raise UserFacingError("You have no such subscription; see `/subscriptions`.")
        await self._reply(interaction, "Removed; you won't get those reminders.")

    @unsubscribe.autocomplete("subscription")
    async def _subscription_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        choices = [app_commands.Choice(name="all of my subscriptions", value="all")]
        for sub, text in await self._mine(interaction):
            plain = text.replace("**", "")
            if current.casefold() in plain.casefold():
                choices.append(app_commands.Choice(name=plain[:100], value=str(sub.id)))
        return choices[:25]


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Reminders(cast("SeminarBot", bot)))
