"""Every message the bot builds is measured against Discord's limits before it is sent.

The measuring is pure (``bot.core.discord_limits``); this is the discord.py side of it: embeds
and views in, embeds that fit out. A message that can be split (a digest) is split by the
caller; here, for a message that cannot, the text that overflows is cut as the last resort, and
that is logged, since it means a card was built bigger than Discord allows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, overload

import discord

from bot.core import discord_limits

log = logging.getLogger(__name__)


def embed_dicts(embeds: Sequence[discord.Embed]) -> list[dict[str, Any]]:
    return [dict(e.to_dict()) for e in embeds]


def fit_embeds(embeds: Sequence[discord.Embed], *, what: str = "message") -> list[discord.Embed]:
    """The embeds of one message within every limit, untouched when they already fit."""
    payload = embed_dicts(embeds)
    if len(payload) <= discord_limits.EMBEDS_PER_MESSAGE and discord_limits.fits(
        {"embeds": payload}
    ):
        return list(embeds)
    problems = discord_limits.message_problems({"embeds": payload})
    log.warning("%s too big for Discord, cutting it to fit: %s", what, "; ".join(problems[:5]))
    return [discord.Embed.from_dict(e) for e in discord_limits.fit_embeds(payload)]


def fit_embed(embed: discord.Embed, *, what: str = "message") -> discord.Embed:
    return fit_embeds([embed], what=what)[0]


def shrink_embed(embed: discord.Embed, budget: int) -> discord.Embed:
    """One embed cut to ``budget`` characters in all (a lone card Discord still refused)."""
    return discord.Embed.from_dict(discord_limits.shrink_embed(embed.to_dict(), budget))


@overload
def fit_content(content: str, *, what: str = ...) -> str: ...
@overload
def fit_content(content: None, *, what: str = ...) -> None: ...
def fit_content(content: str | None, *, what: str = "message") -> str | None:
    if content is None or len(content) <= discord_limits.CONTENT_LIMIT:
        return content
    log.warning("%s text has %d characters, cutting it to fit", what, len(content))
    return discord_limits.fit_content(content)


def fit_view(view: discord.ui.View | None, *, what: str = "message") -> discord.ui.View | None:
    """The view, or None when its components break a limit: a message without its buttons
    is better than a message Discord refuses."""
    if view is None:
        return None
    problems = discord_limits.component_problems(view.to_components())
    if not problems:
        return view
    log.error("%s controls break Discord's limits, sent without them: %s", what, problems[:5])
    return None


def size_of(embed: discord.Embed) -> int:
    return discord_limits.embed_size(embed.to_dict())


def pack(embeds: Sequence[discord.Embed]) -> list[list[int]]:
    """Consecutive embeds grouped into as few messages as Discord accepts."""
    return discord_limits.pack_embeds(embed_dicts(embeds))
