"""Persistent buttons: "Remind me" on every announcement and "Remove" in /subscriptions.

They are ``DynamicItem``s: the state lives in the custom_id (``remind:<announcement id>``,
``unsub:<subscription id>``), so they keep working after a restart without storing views. The
callbacks hand over to the reminders cog, which owns the logic.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord

from bot.core.models import Action, ActionKind

REMIND_PREFIX = "remind:"
UNSUB_PREFIX = "unsub:"


class ButtonHandler(Protocol):
    async def remind_from_button(
        self, interaction: discord.Interaction, announcement_id: str
    ) -> None: ...

    async def remove_from_button(
        self, interaction: discord.Interaction, subscription_id: int
    ) -> None: ...


def _handler(interaction: discord.Interaction) -> ButtonHandler | None:
    client: Any = interaction.client
    get_cog = getattr(client, "get_cog", None)
    cog = get_cog("Reminders") if get_cog is not None else None
    return cog if cog is not None and hasattr(cog, "remind_from_button") else None


async def _unavailable(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(
        "Reminders are not available right now; try again in a minute.", ephemeral=True
    )


class RemindMeButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"remind:(?P<aid>[A-Za-z0-9_-]{1,90})",
):
    def __init__(self, announcement_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Remind me",
                emoji="⏰",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{REMIND_PREFIX}{announcement_id}",
            )
        )
        self.announcement_id = announcement_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RemindMeButton:
        return cls(match["aid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = _handler(interaction)
        if handler is None:
            await _unavailable(interaction)
            return
        await handler.remind_from_button(interaction, self.announcement_id)


class RemoveSubscriptionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"unsub:(?P<sid>[0-9]{1,18})",
):
    def __init__(self, subscription_id: int, label: str = "Remove") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80],
                style=discord.ButtonStyle.danger,
                custom_id=f"{UNSUB_PREFIX}{subscription_id}",
            )
        )
        self.subscription_id = subscription_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RemoveSubscriptionButton:
        return cls(int(match["sid"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = _handler(interaction)
        if handler is None:
            await _unavailable(interaction)
            return
        await handler.remove_from_button(interaction, self.subscription_id)


def remind_view(announcement_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RemindMeButton(announcement_id))
    return view


def reminder_view_factory(action: Action, announcement_id: str) -> discord.ui.View | None:
    """The delivery worker's hook: every posted announcement card gets a "Remind me" button."""
    if not announcement_id or action.kind is ActionKind.CANCEL or action.occurrence.cancelled:
        return None
    return remind_view(announcement_id)
