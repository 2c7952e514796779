"""Persistent controls: "Remind me" on every announcement (beside "I'm going", see
``going_views``), a "Remind me about…" menu on digests, and "Remove" in /subscriptions.

They are ``DynamicItem``s: the state lives in the message itself (``remind:<announcement id>``,
``unsub:<subscription id>``, or the menu's option values), so they keep working after a restart
without storing views. The callbacks hand over to the reminders cog, which owns the logic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import discord

from bot.core.models import Action, ActionKind
from bot.core.render import byline
from bot.discord_ui.going_views import GoingButton

REMIND_PREFIX = "remind:"
REMIND_PICK_PREFIX = "remindpick:"
UNSUB_PREFIX = "unsub:"
#: Discord's limits on a select menu option (label, value, description).
OPTION_TEXT_LIMIT = 100


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


class RemindPickSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"remindpick:(?P<tag>[A-Za-z0-9_-]{1,80})",
):
    """A digest's menu: each option's value is an announcement id, as on a "Remind me" button."""

    def __init__(self, tag: str, options: list[discord.SelectOption] | None = None) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=f"{REMIND_PICK_PREFIX}{tag}",
                placeholder="⏰ Remind me about…",
                min_values=1,
                max_values=1,
                options=options or [],
            )
        )
        self.tag = tag

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RemindPickSelect:
        options = list(item.options) if isinstance(item, discord.ui.Select) else []
        return cls(match["tag"], options)

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = _handler(interaction)
        if handler is None:
            await _unavailable(interaction)
            return
        picked = [v for v in self.item.values if _ANNOUNCEMENT_ID.fullmatch(v)]
        if not picked:
            await interaction.response.send_message(
                "That talk is no longer in this list.", ephemeral=True
            )
            return
        await handler.remind_from_button(interaction, picked[0])


_ANNOUNCEMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,90}")


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


def remind_view(announcement_id: str, going: int = 0) -> discord.ui.View:
    """A card's controls: "Remind me" and "I'm going" (whose label carries the count)."""
    view = discord.ui.View(timeout=None)
    view.add_item(RemindMeButton(announcement_id))
    view.add_item(GoingButton(announcement_id, going))
    return view


def reminder_view_factory(action: Action, announcement_id: str) -> discord.ui.View | None:
    """The delivery worker's hook: every posted announcement card gets "Remind me" and
    "I'm going" buttons."""
    if not announcement_id or action.kind is ActionKind.CANCEL or action.occurrence.cancelled:
        return None
    return remind_view(announcement_id)


def _clip(text: str, limit: int = OPTION_TEXT_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def digest_reminder_view(entries: Sequence[tuple[Action, str]], tag: str) -> discord.ui.View | None:
    """The delivery worker's hook for digests: one menu naming every talk that can be followed.

    ``entries`` pairs each card's action with its announcement id, in the order of the cards.
    """
    options = [
        discord.SelectOption(
            label=_clip(f"{number}. {action.occurrence.title}"),
            value=announcement_id,
            description=_clip(byline(action.occurrence)) or None,
        )
        for number, (action, announcement_id) in enumerate(entries, start=1)
        if _ANNOUNCEMENT_ID.fullmatch(announcement_id)
        and action.kind is not ActionKind.CANCEL
        and not action.occurrence.cancelled
    ][:25]
    if not options:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(RemindPickSelect(tag, options))
    return view
