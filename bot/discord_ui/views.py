"""Page buttons for long lists: one message, edited in place as the reader pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import overload

import discord

from bot.discord_ui import message_fit

PAGE_TIMEOUT = 600.0


class LazyPages(Sequence[discord.Embed]):
    """``count`` pages, each rendered by ``render(index)`` and fitted to Discord's limits the
    first time it is shown, then kept (paging back does not render it again)."""

    def __init__(self, count: int, render: Callable[[int], discord.Embed]) -> None:
        self._count = count
        self._render = render
        self._built: dict[int, discord.Embed] = {}

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> discord.Embed: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[discord.Embed]: ...
    def __getitem__(self, index: int | slice) -> discord.Embed | Sequence[discord.Embed]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        if index not in self._built:
            page = self._render(index)
            self._built[index] = message_fit.fit_embed(page, what="a page of results")
        return self._built[index]


class Paginator(discord.ui.View):
    """Previous/next buttons over the pages of one answer (a list never needs another query;
    a lazy sequence of pages renders each page when it is first shown)."""

    def __init__(self, pages: Sequence[discord.Embed], *, timeout: float = PAGE_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        if not pages:
            raise ValueError("nothing to page through")
        self.pages = pages
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
    """The first page, with buttons only when there is more than one.

    Pages that are not already fitted to Discord's limits are fitted when shown.
    """
    allowed = discord.AllowedMentions.none()
    if not isinstance(pages, LazyPages):
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
