"""The app-command tree: one place for command errors and per-interaction hooks.

Every refused or failed command gets a clear ephemeral answer instead of Discord's
"The application did not respond". Hooks let features run before any command (e.g. the
reminders cog tells a member once that their DMs are closed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bot.discord_ui import message_fit

log = logging.getLogger(__name__)

InteractionHook = Callable[[discord.Interaction], Awaitable[None]]


class UserFacingError(app_commands.AppCommandError):
    """An error whose message is meant for the member who ran the command."""


class NotOurShard(app_commands.CheckFailure):
    """The interaction's server belongs to another shard process: that one answers it."""


class SeminarTree(app_commands.CommandTree[discord.Client]):
    def __init__(self, client: discord.Client, **kwargs: object) -> None:
        super().__init__(client, **kwargs)  # type: ignore[arg-type]
        self.before_hooks: list[InteractionHook] = []
        #: Whether this process serves a server (set by a sharded bot; default: all).
        self.owns_guild: Callable[[int], bool] = lambda _guild_id: True

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not self.owns_guild(interaction.guild_id or 0):
            raise NotOurShard(f"guild {interaction.guild_id} is not on this process's shards")
        for hook in self.before_hooks:
            try:
                await hook(interaction)
            except Exception:  # a hook must never block the command itself
                log.exception("interaction hook failed")
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        if isinstance(error, NotOurShard):
            log.warning("ignored an interaction: %s", error)
            return
        if isinstance(error, UserFacingError):
            text = str(error)
        elif isinstance(error, app_commands.MissingPermissions | app_commands.CheckFailure):
            text = str(error) or "You are not allowed to use this command."
        elif isinstance(
            error, app_commands.TransformerError | app_commands.CommandSignatureMismatch
        ):
            text = str(error)
        else:
            log.error(
                "command %s failed",
                interaction.command.qualified_name if interaction.command else "?",
                exc_info=original,
            )
            text = (
                "Something went wrong on my side; "
                "the bot's operator can see the details in the log."
            )
        await reply_ephemeral(interaction, text)


async def reply_ephemeral(interaction: discord.Interaction, text: str) -> None:
    """Answer or follow up, whichever is still possible, without pinging anyone."""
    allowed = discord.AllowedMentions.none()
    text = message_fit.fit_content(text)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=allowed)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=allowed)
    except discord.HTTPException as exc:
        log.warning("could not tell the user about an error: %s", exc)
