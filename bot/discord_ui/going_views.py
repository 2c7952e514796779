"""Persistent "I'm going" controls: the button on every announcement card (its label carries
the count) and the admins' "Who's going" button on ``/seminars show``.

Like "Remind me", they are ``DynamicItem``s whose state is in the custom id
(``going:<announcement id>``, ``whogoing:<announcement id>``), so they work after a restart
without stored views. The callbacks hand over to the going cog, which owns the logic.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord

from bot.core.attendance import going_label

GOING_PREFIX = "going:"
WHO_PREFIX = "whogoing:"


class GoingHandler(Protocol):
    async def going_from_button(
        self, interaction: discord.Interaction, announcement_id: str
    ) -> None: ...

    async def who_from_button(
        self, interaction: discord.Interaction, announcement_id: str
    ) -> None: ...


def _handler(interaction: discord.Interaction) -> GoingHandler | None:
    client: Any = interaction.client
    get_cog = getattr(client, "get_cog", None)
    cog = get_cog("Going") if get_cog is not None else None
    return cog if cog is not None and hasattr(cog, "going_from_button") else None


async def _unavailable(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(
        "“I'm going” is not available right now; try again in a minute.", ephemeral=True
    )


class GoingButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"going:(?P<aid>[A-Za-z0-9_-]{1,90})",
):
    def __init__(self, announcement_id: str, count: int = 0) -> None:
        super().__init__(
            discord.ui.Button(
                label=going_label(count),
                emoji="🙋",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{GOING_PREFIX}{announcement_id}",
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
    ) -> GoingButton:
        return cls(match["aid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = _handler(interaction)
        if handler is None:
            await _unavailable(interaction)
            return
        await handler.going_from_button(interaction, self.announcement_id)


class WhoIsGoingButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"whogoing:(?P<aid>[A-Za-z0-9_-]{1,90})",
):
    """Shown to admins only; the press is checked again (anyone could see a shared answer)."""

    def __init__(self, announcement_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Who's going",
                emoji="📋",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{WHO_PREFIX}{announcement_id}",
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
    ) -> WhoIsGoingButton:
        return cls(match["aid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = _handler(interaction)
        if handler is None:
            await _unavailable(interaction)
            return
        await handler.who_from_button(interaction, self.announcement_id)
