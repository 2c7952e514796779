"""Who may run admin commands: Manage Server, or the operator's configured admin role.

Discord hides ``default_permissions`` commands from members, but servers can override that
and the setting is only a default, so every admin command is checked again at run time.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord_ui.tree import UserFacingError

NOT_ADMIN = "Only server admins (Manage Server, or the bot's admin role) can manage feeds."


def is_admin(interaction: discord.Interaction, admin_role_id: int | None) -> bool:
    if interaction.guild is None:
        return False
    if interaction.permissions.manage_guild or interaction.permissions.administrator:
        return True
    user = interaction.user
    if admin_role_id and isinstance(user, discord.Member):
        return any(role.id == admin_role_id for role in user.roles)
    return False


def guild_id_of(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise UserFacingError("Use this command in a server, not in direct messages.")
    return interaction.guild_id


class AdminGroup(app_commands.Group):
    """A command group whose every command (and autocomplete) is refused to non-admins."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        config = getattr(interaction.client, "config", None)
        role = config.discord.admin_role_id if config is not None else None
        if not is_admin(interaction, role):
            raise UserFacingError(NOT_ADMIN)
        return True
