"""Find the calendar behind what an admin pastes: a feed link, an events page, a Google link.

Pure: given a URL (and, when the URL turned out to be a web page, its HTML), list candidate
feed addresses in the order worth trying, each with a short note saying how it was found.
Every candidate still goes through the SSRF guard before it is fetched.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, unquote, urljoin, urlsplit, urlunsplit

GOOGLE_HOSTS = ("calendar.google.com", "www.google.com")
MAX_CANDIDATES = 4
#: Only the start of a page is scanned (the <head> holds the alternate link).
MAX_HTML_CHARS = 512 * 1024


@dataclass(frozen=True, slots=True)
class Candidate:
    url: str
    #: How it was found, shown to the admin ("the page's calendar link", …).
    how: str


def google_ical_address(calendar_id: str) -> str:
    encoded = quote(calendar_id, safe="@.")
    return f"https://calendar.google.com/calendar/ical/{encoded}/public/basic.ics"


def _decode_cid(cid: str) -> str:
    """Share links carry the calendar id base64-encoded (without padding); ids contain '@'."""
    if "@" in cid:
        return cid
    try:
        decoded = base64.urlsafe_b64decode(cid + "=" * (-len(cid) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return cid
    return decoded if "@" in decoded else cid


def google_calendar_feed(url: str) -> str | None:
    """The public iCal address of a Google Calendar embed/share link, None if not one."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.hostname not in GOOGLE_HOSTS or not parts.path.startswith("/calendar"):
        return None
    if "/ical/" in parts.path:
        return None  # already the feed itself
    query = parse_qs(parts.query)
    for key in ("src", "cid"):
        values = query.get(key)
        if values and values[0].strip():
            return google_ical_address(_decode_cid(unquote(values[0].strip())))
    return None


def with_ical_param(url: str) -> str:
    """The Events Calendar (WordPress) serves any events page's list as iCal with ?ical=1."""
    parts = urlsplit(url)
    query = parts.query
    if "ical=1" in query.split("&"):
        return url
    query = f"{query}&ical=1" if query else "ical=1"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def initial_candidates(url: str) -> list[Candidate]:
    """What to try before fetching anything: a Google link's feed, else the link itself."""
    google = google_calendar_feed(url)
    if google is not None:
        return [Candidate(google, "the public iCal address of that Google Calendar")]
    return [Candidate(url.strip(), "the link itself")]


class _LinkScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.alternates: list[str] = []
        self.calendar_links: list[str] = []
        self.google: list[str] = []
        self.events_calendar = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        href = values.get("href", "").strip()
        if tag == "link":
            rels = values.get("rel", "").lower().split()
            kind = values.get("type", "").lower()
            if "alternate" in rels and kind.startswith("text/calendar") and href:
                self.alternates.append(href)
        elif tag == "a" and href:
            lower = href.lower()
            is_feed = lower.startswith("webcal://") or urlsplit(lower).path.endswith(".ics")
            if is_feed or "ical=1" in lower:
                self.calendar_links.append(href)
        elif tag == "iframe":
            src = values.get("src", "")
            if google_calendar_feed(src):
                self.google.append(src)
        classes = values.get("class", "")
        if "tribe-events" in classes or "tribe-common" in classes:
            self.events_calendar = True


def _absolute(href: str, base_url: str) -> str:
    href = href.strip()
    if href.lower().startswith("webcal://"):
        return "https://" + href[len("webcal://") :]
    return urljoin(base_url, href)


def candidates_from_html(html: str, base_url: str) -> list[Candidate]:
    """Calendar addresses a web page advertises, best first, without duplicates."""
    scanner = _LinkScanner()
    try:
        scanner.feed(html[:MAX_HTML_CHARS])
        scanner.close()
    except (AssertionError, ValueError):  # pathological markup: use what was found so far
        pass
    found: list[Candidate] = []
    for href in scanner.alternates:
        found.append(Candidate(_absolute(href, base_url), "the calendar link the page advertises"))
    for src in scanner.google:
        feed = google_calendar_feed(src)
        if feed:
            found.append(Candidate(feed, "the Google Calendar embedded in the page"))
    for href in scanner.calendar_links:
        found.append(Candidate(_absolute(href, base_url), "a calendar link on the page"))
    lowered = html[:MAX_HTML_CHARS].lower()
    if scanner.events_calendar or "the events calendar" in lowered:
        found.append(Candidate(with_ical_param(base_url), "the page's Events Calendar export"))
    unique: list[Candidate] = []
    seen: set[str] = set()
    for candidate in found:
        if candidate.url.startswith(("http://", "https://")) and candidate.url not in seen:
            seen.add(candidate.url)
            unique.append(candidate)
    return unique[:MAX_CANDIDATES]
