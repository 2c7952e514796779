"""The preview page draws payloads faithfully and never lets feed text become markup."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.discord_ui.payload_html import markdown, message_html

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("America/New_York")


def test_feed_text_is_escaped_and_only_web_links_are_links() -> None:
    drawn = markdown(
        '<script>alert(1)</script> [x](javascript:alert(1)) "q" \\*lit\\*', now=NOW, zone=ZONE
    )
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn
    assert 'href="javascript' not in drawn
    assert "*lit*" in drawn and "<em>" not in drawn


def test_discord_markdown_and_timestamps_are_drawn_in_the_feeds_zone() -> None:
    drawn = markdown(
        "**Bold** ~~gone~~ [Read more](https://example.edu/a?b=1) <t:1796310000:F> "
        "(<t:1796310000:R>)",
        now=NOW,
        zone=ZONE,
    )
    assert "<strong>Bold</strong>" in drawn and "<s>gone</s>" in drawn
    assert '<a href="https://example.edu/a?b=1">Read more</a>' in drawn
    assert "Thursday, 3 December 2026 10:00" in drawn and "in 2 days" in drawn


def test_a_message_shows_its_embed_fields_and_controls() -> None:
    payload = {
        "content": "",
        "embeds": [
            {
                "title": "T",
                "url": "https://example.edu/#sb-0123456789",
                "color": 0x2B6CB0,
                "fields": [{"name": "Where", "value": "Room 5", "inline": True}],
                "footer": {"text": "CS Seminar"},
            }
        ],
        "components": [
            {"type": 1, "components": [{"type": 2, "label": "Remind me", "custom_id": "remind:a"}]}
        ],
    }
    drawn = message_html(payload, now=NOW, zone=ZONE)
    assert "Room 5" in drawn and "CS Seminar" in drawn and "Remind me" in drawn
    assert "border-left-color:#2b6cb0" in drawn
    assert ">sb-0123456789<" not in drawn  # the link's fragment is never shown as text
