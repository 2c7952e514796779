"""What admins paste → which calendar address the bot tries."""

from __future__ import annotations

import base64

from bot.core import discovery

CAL_ID = "c_abc123@group.calendar.google.com"
ICAL = (
    "https://calendar.google.com/calendar/ical/c_abc123@group.calendar.google.com/public/basic.ics"
)


def test_google_embed_and_share_links_become_the_public_ical_address() -> None:
    embed = f"https://calendar.google.com/calendar/embed?src={CAL_ID}&ctz=America%2FNew_York"
    assert discovery.google_calendar_feed(embed) == ICAL
    cid = base64.urlsafe_b64encode(CAL_ID.encode()).decode().rstrip("=")
    assert (
        discovery.google_calendar_feed(f"https://calendar.google.com/calendar/u/0?cid={cid}")
        == ICAL
    )
    assert discovery.google_calendar_feed(ICAL) is None
    assert discovery.google_calendar_feed("https://example.edu/calendar?src=x") is None
    (first,) = discovery.initial_candidates(embed)
    assert first.url == ICAL and "Google" in first.how


def test_plain_links_are_tried_as_they_are() -> None:
    (only,) = discovery.initial_candidates(" https://example.edu/feed.ics ")
    assert only.url == "https://example.edu/feed.ics"


def test_page_advertising_its_calendar() -> None:
    html = """<html><head>
    <link type="text/calendar" rel="alternate" href="/events/?ical=1" title="iCal Feed">
    </head><body><a href="webcal://example.edu/cal.ics">Subscribe</a>
    <a href="/about">About</a></body></html>"""
    found = discovery.candidates_from_html(html, "https://example.edu/events/list/")
    assert [c.url for c in found] == [
        "https://example.edu/events/?ical=1",
        "https://example.edu/cal.ics",
    ]
    assert "advertises" in found[0].how


def test_events_calendar_site_without_a_link_gets_ical_param() -> None:
    html = '<html><body><div class="tribe-events-view">…</div></body></html>'
    (found,) = discovery.candidates_from_html(html, "https://example.edu/events/?page=2")
    assert found.url == "https://example.edu/events/?page=2&ical=1"
    assert discovery.with_ical_param(found.url) == found.url


def test_embedded_google_calendar_and_junk() -> None:
    html = f'<iframe src="https://calendar.google.com/calendar/embed?src={CAL_ID}"></iframe>'
    assert [c.url for c in discovery.candidates_from_html(html, "https://x.edu/")] == [ICAL]
    assert (
        discovery.candidates_from_html("<a href='javascript:alert(1)'>x</a><<<>", "https://x.edu/")
        == []
    )
    many = "".join(f'<a href="/c{i}.ics">c</a>' for i in range(20))
    assert len(discovery.candidates_from_html(many, "https://x.edu/")) == discovery.MAX_CANDIDATES
