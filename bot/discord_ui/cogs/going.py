""" "I'm going": the button on every announcement, the admins' "Who's going" list, and the
card editor that shows the count.

A click toggles the member's attendance and answers privately at once; the card's count is
updated by ``GoingCardEditor`` a moment later, debounced. Going also sets the member's
reminder through the reminder worker, as "Remind me" does (``/subscriptions
going_reminders: off`` turns that off).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

import discord
from discord.ext import commands

from bot.core.discord_limits import CONTENT_LIMIT
from bot.core.durations import format_duration
from bot.discord_ui import message_fit
from bot.discord_ui.checks import is_admin
from bot.discord_ui.cogs.reminders import DEFAULT_OFFSET
from bot.discord_ui.embeds import inert, unix
from bot.discord_ui.going_cards import GoingCardEditor
from bot.discord_ui.going_views import GoingButton, WhoIsGoingButton
from bot.service import attendance
from bot.service.attendance import Toggled
from bot.service.poller import PollOutcome

if TYPE_CHECKING:
    from bot.discord_ui.client import SeminarBot

log = logging.getLogger(__name__)

NOT_ADMIN_LIST = "Only server admins (Manage Server, or the bot's admin role) can see who is going."


def going_text(result: Toggled) -> str:
    """The clicker's private answer."""
    if not result.going:
        text = f"Removed: you're not going to **{inert(result.title)}** ({result.count} going)."
        if result.reminder_removed:
            text += " The reminder that came with it is removed too."
        return text
    text = f"You're going to **{inert(result.title)}** — {result.count} going."
    if result.reminder_due is not None:
        text += (
            f" I'll remind you by DM {format_duration(DEFAULT_OFFSET)} before "
            f"(<t:{unix(result.reminder_due)}:R>); `/subscriptions going_reminders: off` "
            "stops that for the next talks."
        )
    return text + " Press again to undo."


def attendee_list(title: str, user_ids: list[int], limit: int = CONTENT_LIMIT) -> str:
    """``**Title** — N going:`` and their mentions (rendered as names, pinging no one), cut
    with "… and K more" to fit one message."""
    head = f"**{inert(title)}** — {len(user_ids)} going"
    if not user_ids:
        return head + "."
    text = head + ":\n"
    for shown, user_id in enumerate(user_ids):
        rest = len(user_ids) - shown
        entry = f"<@{user_id}>" + (", " if rest > 1 else "")
        tail = f"… and {rest} more"
        if len(text) + len(entry) + len(tail) + 2 > limit and rest > 1:
            return text + tail
        text += entry
    return text


class Going(commands.Cog, name="Going"):
    def __init__(self, bot: SeminarBot) -> None:
        assert bot.db is not None, "extensions load after the database is open"
        self.bot = bot
        self.editor = GoingCardEditor(
            bot, db=bot.db, db_thread=bot.db_thread, clock=bot.clock, rest_pacer=bot.rest_pacer
        )

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(GoingButton, WhoIsGoingButton)
        self.bot.going = self.editor
        self.bot.after_poll_hooks.append(self._after_poll)
        self.bot.spawn(self.editor.run_forever(), name="going-cards")

    async def cog_unload(self) -> None:
        await self.editor.stop()
        if self._after_poll in self.bot.after_poll_hooks:
            self.bot.after_poll_hooks.remove(self._after_poll)
        self.bot.going = None

    async def _after_poll(self, feed_id: int, outcome: PollOutcome) -> None:
        # A cancellation ends attendance (the reminder planner records it): show the count.
        self.editor.wake()

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(
            message_fit.fit_content(text),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def going_from_button(
        self, interaction: discord.Interaction, announcement_id: str
    ) -> None:
        if interaction.guild_id is None:
            await self._reply(interaction, "Use this in the server whose seminars you follow.")
            return
        try:
            result = await self.bot.run_db(
                attendance.toggle,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                announcement_id=announcement_id,
                offset=DEFAULT_OFFSET,
                now=self.bot.clock.now(),
                default_timezone=self.bot.config.timezone,
            )
        except attendance.UnknownEvent:
            await self._reply(interaction, "I don't know that talk any more.")
            return
        except attendance.EventCancelled as exc:
            await self._reply(interaction, f"**{inert(exc.title)}** was cancelled.")
            return
        except attendance.Started as exc:
            await self._reply(interaction, f"**{inert(exc.title)}** has already started.")
            return
        self.editor.wake()
        await self._reply(interaction, going_text(result))
        await self._follow_reminder(interaction, result)

    async def _follow_reminder(self, interaction: discord.Interaction, result: Toggled) -> None:
        """Plan the reminder going set (as "Remind me" does), opening the DM channel ahead."""
        worker = self.bot.reminders
        if worker is None or result.reminder_due is None or interaction.guild_id is None:
            return
        worker.hint_users.discard(interaction.user.id)
        self.bot.spawn(
            worker.prepare_dm(interaction.user, interaction.guild_id),
            name=f"going:dm:{interaction.user.id}",
        )
        await worker.plan_feed(result.feed_id)

    async def who_from_button(self, interaction: discord.Interaction, announcement_id: str) -> None:
        if not is_admin(interaction, self.bot.config.discord.admin_role_id):
            await self._reply(interaction, NOT_ADMIN_LIST)
            return
        assert interaction.guild_id is not None  # is_admin needs a server
        try:
            who = await self.bot.run_db(
                attendance.who_is_going, interaction.guild_id, announcement_id
            )
        except attendance.UnknownEvent:
            await self._reply(interaction, "I don't know that talk any more.")
            return
        await self._reply(interaction, attendee_list(who.title, who.user_ids))


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Going(cast("SeminarBot", bot)))
