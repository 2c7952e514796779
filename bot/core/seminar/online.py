"""Join links of online talks (Zoom, Meet, Teams, Webex, …) found in LOCATION or DESCRIPTION."""

from __future__ import annotations

import re

#: Hosts whose links join a meeting; a plain web page link is never taken for a place.
_MEETING_HOSTS = re.compile(
    r"^(?:[\w-]+\.)*(?:zoom\.us|zoom\.com|zoomgov\.com|meet\.google\.com|teams\.microsoft\.com|"
    r"teams\.live\.com|webex\.com|meet\.jit\.si|bigbluebutton\.org|gotomeeting\.com|"
    r"whereby\.com|bluejeans\.com|meet\.[\w.-]+|bbb\.[\w.-]+)$",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://[^\s<>\"'()\[\]]+", re.IGNORECASE)
_HOST = re.compile(r"^https?://([^/:?#]+)", re.IGNORECASE)
_TRAILING = ".,;:!?»”’"


def is_meeting_link(url: str) -> bool:
    match = _HOST.match(url)
    return match is not None and _MEETING_HOSTS.match(match.group(1)) is not None


def meeting_links(text: str) -> list[str]:
    """Meeting links in the order they appear, trailing punctuation removed."""
    found: list[str] = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if is_meeting_link(url) and url not in found:
            found.append(url)
    return found


def location_is_only_a_link(location: str) -> bool:
    text = location.strip()
    return bool(text) and _URL.fullmatch(text) is not None
