"""``preview --html``: the messages the bot would send, drawn as Discord draws them.

Every message is built by the same functions delivery and the reminder worker call (embeds,
views, reminder texts), turned into the JSON payload discord.py would send, and only then
drawn as HTML. So the page cannot drift from what members see: a change to a card shows up
here because there is no second renderer of cards, only of Discord's payload format.

The page is self-contained (inline CSS, no scripts, no fetched fonts or images), so it can be
opened offline, mailed, or screenshotted by a headless browser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import discord

from bot.config import FeedSettings
from bot.core.models import Action, ActionKind, Occurrence, ParsedFeed, sort_key
from bot.core.render import zone_of
from bot.core.templates import CardTemplates
from bot.discord_ui.delivery import DIGEST_THRESHOLD
from bot.discord_ui.embeds import (
    announcement_embed,
    compact_embed,
    digest_heading,
    headline_text,
    reference_marker,
)
from bot.discord_ui.payload_html import Payload, feed_section, page
from bot.discord_ui.reminder_texts import render_reminder
from bot.discord_ui.reminder_views import digest_reminder_view, reminder_view_factory
from bot.service.feeds import card_style
from bot.service.records import ReminderRow, ReminderState

REMINDER_OFFSET = timedelta(minutes=15)


@dataclass(frozen=True)
class Sample:
    """One message as the bot would send it, with a caption for the page."""

    caption: str
    payload: Payload
    #: A stable id for the section, so a screenshot or a test can pick one card.
    anchor: str
    #: When it would be sent, for relative times ("in 15 minutes"); None: the preview's now.
    sent_at: datetime | None = None


def _payload(
    content: str | None = None,
    embeds: Sequence[discord.Embed] = (),
    view: discord.ui.View | None = None,
) -> Payload:
    """The body discord.py would POST for ``channel.send(content, embeds, view)``."""
    return {
        "content": content or "",
        "embeds": [e.to_dict() for e in embeds],
        "components": view.to_components() if view is not None else [],
    }


def _talks(parsed: ParsedFeed, actions: Sequence[Action], now: datetime) -> list[Occurrence]:
    """Announced talks first, then upcoming ones, then the rest: the likeliest to be posted."""
    announced = [a.occurrence for a in actions if a.kind is ActionKind.ANNOUNCE]
    seen = {o.key for o in announced}
    rest = sorted(
        (o for o in parsed.occurrences if o.key not in seen),
        key=lambda o: (sort_key(o.start) < now, sort_key(o.start)),
    )
    return announced + rest


def sample_messages(
    feed: str,
    parsed: ParsedFeed,
    actions: Sequence[Action],
    *,
    now: datetime,
    templates: CardTemplates | None = None,
    zone: str = "UTC",
) -> list[Sample]:
    """Announcement, digest, reminder, rescheduled and cancelled messages for one feed,
    with the feed's card templates (``zone`` writes their times) as delivery uses them."""
    talks = _talks(parsed, actions, now)
    if not talks:
        return []
    talk = talks[0]
    announce = Action(kind=ActionKind.ANNOUNCE, feed=feed, occurrence=talk)
    # Stable between runs, so two pages of the same feed differ only where the cards do.
    aid = "preview-" + hashlib.sha256(talk.key.to_string().encode()).hexdigest()[:10]
    samples = [
        Sample(
            "Announcement (posted in the feed's channel)",
            _payload(
                embeds=[
                    announcement_embed(
                        announce,
                        marker=reference_marker(f"{feed}:{aid}"),
                        templates=templates,
                        zone=zone,
                    )
                ],
                view=reminder_view_factory(announce, aid),
            ),
            "announcement",
        )
    ]

    digest = [Action(kind=ActionKind.ANNOUNCE, feed=feed, occurrence=o) for o in talks[:10]]
    caption = f"Digest ({DIGEST_THRESHOLD} or more new talks at once)"
    if len(digest) < DIGEST_THRESHOLD:
        caption += f"; this feed has {len(talks)} talk(s), repeated to show the layout"
    while len(digest) < DIGEST_THRESHOLD:
        digest.append(digest[len(digest) % len(talks)])
    entries = [(a, f"preview-d{i}") for i, a in enumerate(digest)]
    samples.append(
        Sample(
            caption,
            _payload(
                digest_heading(len(digest)),
                [
                    compact_embed(
                        a, marker=reference_marker(f"{feed}:d{i}"), templates=templates, zone=zone
                    )
                    for i, a in enumerate(digest)
                ],
                digest_reminder_view(entries, "dg0"),
            ),
            "digest",
        )
    )

    content, embed = render_reminder(
        _reminder_row(talk, aid), talk, late=False, jump_url="https://discord.com/channels/0/0/0"
    )
    samples.append(
        Sample(
            "Reminder (a member's DM, or the channel)",
            _payload(content, [embed]),
            "reminder",
            sort_key(talk.start) - REMINDER_OFFSET,
        )
    )

    moved = _moved(talk)
    reschedule = Action(kind=ActionKind.RESCHEDULE, feed=feed, occurrence=moved, previous=talk)
    samples.append(
        Sample(
            "Rescheduled (the announcement is edited; one short line follows it)",
            _payload(
                embeds=[
                    announcement_embed(
                        reschedule, marker=reference_marker(aid), templates=templates, zone=zone
                    )
                ]
            ),
            "rescheduled",
        )
    )
    line = headline_text(reschedule)
    samples.append(Sample("Follow-up line", _payload(line), "rescheduled-line"))

    cancelled = replace(talk, status="CANCELLED")
    cancel = Action(kind=ActionKind.CANCEL, feed=feed, occurrence=cancelled, previous=talk)
    samples.append(
        Sample(
            "Cancelled (the announcement is edited; one short line follows it)",
            _payload(
                embeds=[
                    announcement_embed(
                        cancel, marker=reference_marker(aid), templates=templates, zone=zone
                    )
                ]
            ),
            "cancelled",
        )
    )
    samples.append(Sample("Follow-up line", _payload(headline_text(cancel)), "cancelled-line"))
    return samples


def _moved(occ: Occurrence) -> Occurrence:
    shift = timedelta(days=1)
    end = occ.end + shift if occ.end is not None else None
    return replace(occ, start=occ.start + shift, end=end)


def _reminder_row(occ: Occurrence, announcement_id: str) -> ReminderRow:
    anchor = sort_key(occ.start)
    return ReminderRow(
        id=0,
        idem_key="preview",
        kind="reminder",
        feed_id=0,
        subscription_id=None,
        user_id=None,
        announcement_id=announcement_id,
        event_key=occ.key.to_string(),
        start_json="",
        anchor=anchor,
        place=occ.place,
        offset=REMINDER_OFFSET,
        target_kind="dm",
        target_id=0,
        due_at=anchor - REMINDER_OFFSET,
        state=ReminderState.PENDING,
        generation=0,
        attempts=0,
        next_attempt_at=None,
        payload={},
        late=False,
        sent_at=None,
        message_id=None,
        last_error=None,
        updated_at=anchor,
    )


def write_card_page(
    path: Path,
    feeds: Sequence[tuple[FeedSettings, ParsedFeed, Sequence[Action]]],
    *,
    now: datetime,
    default_timezone: str,
) -> int:
    """Write the page; returns how many messages it shows."""
    sections: list[str] = []
    count = 0
    for settings, parsed, actions in feeds:
        templates, card_zone = card_style(settings)
        samples = sample_messages(
            settings.name, parsed, actions, now=now, templates=templates, zone=card_zone
        )
        if not samples:
            continue
        fallback = settings.timezone or parsed.calendar_timezone or default_timezone
        zone = zone_of(parsed.occurrences[0], fallback) if parsed.occurrences else _zone(fallback)
        count += len(samples)
        drawn = [(s.caption, s.anchor, s.payload, s.sent_at or now) for s in samples]
        sections.append(feed_section(settings.name, drawn, zone=zone))
    path.write_text(page(sections, now=now), encoding="utf-8")
    return count


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
