"""A discussion thread per talk: what it is called and when the bot closes it.

Discord's own auto-archive is measured from the last message (60 minutes to 7 days of
inactivity), so it cannot say "a day after the talk". The bot asks for the longest inactivity
period and archives the thread itself at :func:`archive_time`; the inactivity timer only
matters if the bot is down at that moment.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final

from bot.core.diff.model import end_of
from bot.core.models import Occurrence
from bot.core.render import speaker_names
from bot.core.text import strip_invisible

#: Discord's limit on a thread name.
NAME_LIMIT = 100
#: The longest inactivity period Discord allows (7 days): the bot archives earlier itself.
AUTO_ARCHIVE_MINUTES: Final = 10080
#: A thread stays open this long after its talk ends.
KEEP_OPEN_AFTER_END = timedelta(days=1)
ELLIPSIS = "…"

_SPACE = re.compile(r"\s+")
#: What could turn a name into a ping or a Discord link if it were ever shown as markdown.
_MENTION = re.compile(r"@(everyone|here)")
_TOKEN = re.compile(r"<(?=[#@/:]|t:|a?:\w+:)")


def thread_name(occurrence: Occurrence) -> str:
    """``Speaker — Title`` (or just the title), one line, inert, at most 100 characters."""
    title = _plain(occurrence.title) or "Talk"
    speaker = _plain(speaker_names(occurrence))
    if speaker and speaker.casefold() not in title.casefold():
        if len(speaker) > NAME_LIMIT // 2:
            speaker = _cut(speaker, NAME_LIMIT // 2)
        name = f"{speaker} — {title}"
    else:
        name = title
    return _cut(name, NAME_LIMIT)


def archive_time(occurrence: Occurrence) -> datetime:
    """When the bot archives the talk's thread: a day after the talk ends."""
    return end_of(occurrence) + KEEP_OPEN_AFTER_END


def _plain(text: str) -> str:
    text = _SPACE.sub(" ", strip_invisible(text)).strip()
    text = _MENTION.sub("@\u200b\\1", text)
    return _TOKEN.sub("<\u200b", text)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS
