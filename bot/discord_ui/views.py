"""Page buttons for long lists: one message, edited in place as the reader pages."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.discord_ui import message_fit

PAGE_TIMEOUT = 600.0


class Paginator(discord.ui.View):
    """Previous/next buttons over pre-rendered embeds (a list never needs another query)."""

    def __init__(self, pages: Sequence[discord.Embed], *, timeout: float = PAGE_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        if not pages:
            raise ValueError("nothing to page through")
        self.pages = list(pages)
        self.index = 0
        self._sync()

    def _sync(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1
        self.counter.label = f"{self.index + 1} / {len(self.pages)}"

    @property
    def current(self) -> discord.Embed:
        return self.pages[self.index]

    async def _show(self, interaction: discord.Interaction, index: int) -> None:
        self.index = max(0, min(index, len(self.pages) - 1))
        self._sync()
        await interaction.response.edit_message(embed=self.current, view=self)

    @discord.ui.button(
        label="◀ Previous", style=discord.ButtonStyle.secondary, custom_id="page:prev"
    )
    async def previous(
        self, interaction: discord.Interaction, button: discord.ui.Button[Paginator]
    ) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(
        label="1 / 1", style=discord.ButtonStyle.secondary, custom_id="page:count", disabled=True
    )
    async def counter(
        self, interaction: discord.Interaction, button: discord.ui.Button[Paginator]
    ) -> None:
        await interaction.response.defer()

    @discord.ui.button(label="Next ▶", style=discord.ButtonStyle.secondary, custom_id="page:next")
    async def next(
        self, interaction: discord.Interaction, button: discord.ui.Button[Paginator]
    ) -> None:
        await self._show(interaction, self.index + 1)


async def send_pages(
    interaction: discord.Interaction, pages: Sequence[discord.Embed], *, ephemeral: bool
) -> None:
    """The first page, with buttons only when there is more than one."""
    allowed = discord.AllowedMentions.none()
    pages = [message_fit.fit_embed(page, what="a page of results") for page in pages]
    if len(pages) <= 1:
        await interaction.response.send_message(
            embed=pages[0], ephemeral=ephemeral, allowed_mentions=allowed
        )
        return
    view = Paginator(pages)
    await interaction.response.send_message(
        embed=view.current, view=view, ephemeral=ephemeral, allowed_mentions=allowed
    )
