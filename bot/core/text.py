"""Turn untrusted calendar text into plain, bounded, display-safe strings.

Feed text is normalised once at parse time so every later layer (diff hashes, embeds, scheduled
events) sees the same clean value: no control or bidi characters that could spoof a message, no
HTML markup from Google/Outlook descriptions, no entities from WordPress, and a hard length cap.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

ELLIPSIS = "…"

# C0 controls except \n and \t (tabs become spaces below), DEL, C1 controls, bidi embeddings,
# overrides and isolates, LRM/RLM/ALM marks, zero-width characters and the BOM.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u180e]"
)
_BLANK_RUN = re.compile(r"\n[ \t]*(?:\n[ \t]*)+\n")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_INLINE_SPACE = re.compile(r"\s+")
_HTML_HINT = re.compile(
    r"<(?:/?(?:p|br|div|span|a|b|i|u|em|strong|ul|ol|li|table|tr|td|th|tbody|thead|h[1-6]|"
    r"html|body|head|img|font|blockquote|pre|code|hr|center|sup|sub|small|style|script)\b"
    r"[^<>]*|!--[\s\S]*?--)>",
    re.IGNORECASE,
)
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "pre", "hr", "section", "article", "header", "footer", "dd", "dt",
    }
)  # fmt: skip
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})


class _TextExtractor(HTMLParser):
    """Collect text content, turning block boundaries and <br> into line breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def looks_like_html(value: str) -> bool:
    """True when the text carries real markup (not just a stray '<' in prose)."""
    return _HTML_HINT.search(value) is not None


def html_to_text(value: str) -> str:
    """Strip tags, keep line breaks for <br>/<p>/lists, decode entities."""
    parser = _TextExtractor()
    try:
        parser.feed(value)
        parser.close()
    except Exception:  # HTMLParser is lenient; never let odd markup sink a feed
        return html.unescape(re.sub(r"<[^>]*>", " ", value))
    return "".join(parser.parts)


def strip_invisible(value: str) -> str:
    """Remove controls, bidi overrides and zero-width characters; tabs become spaces."""
    return _INVISIBLE.sub("", value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))


def truncate(value: str, max_length: int) -> str:
    """Cap ``value`` at ``max_length`` characters, marking the cut with an ellipsis."""
    if max_length <= 0:
        return ""
    if len(value) <= max_length:
        return value
    return value[: max_length - 1].rstrip() + ELLIPSIS


def clean_text(value: str, max_length: int) -> str:
    """Multi-line text (descriptions): decoded, de-HTMLed, safe, blank lines collapsed, capped."""
    if not value:
        return ""
    # A hostile body can carry megabytes in one property; nothing past a generous multiple of the
    # cap can survive truncation, so don't spend time on it.
    value = value[: max(max_length * 4, 1024)]
    text = html_to_text(value) if looks_like_html(value) else html.unescape(value)
    text = strip_invisible(text).replace("\xa0", " ")
    text = _TRAILING_SPACE.sub("\n", text)
    text = _BLANK_RUN.sub("\n\n", text)
    return truncate(text.strip(), max_length)


def clean_line(value: str, max_length: int) -> str:
    """Single-line text (summary, location, names): like clean_text, all whitespace collapsed."""
    if not value:
        return ""
    value = value[: max(max_length * 4, 1024)]
    text = html_to_text(value) if looks_like_html(value) else html.unescape(value)
    text = _INLINE_SPACE.sub(" ", strip_invisible(text)).strip()
    return truncate(text, max_length)


_URL_OK = re.compile(r"^https?://[^\s<>\"]+$", re.IGNORECASE)


def clean_url(value: str, max_length: int = 2048) -> str:
    """An http(s) URL safe to link, else "" (a truncated URL would be a broken link)."""
    url = strip_invisible(value).strip()
    if not url or len(url) > max_length or not _URL_OK.match(url):
        return ""
    return url


# --- making text inert for Discord ----------------------------------------------------------
#
# Discord renders markdown in embeds and message content. Feed text must be shown literally:
# no pings, no formatting and above all no masked links (``[Join on Zoom](https://phish)``
# shows the words, hides the address). Escaping is done character by character, never with a
# pattern spanning a whole link: a greedy ``\[.+\]\(.+\)`` escapes only the first bracket of a
# line and leaves every later link live.

#: Plain addresses stay clickable and unaltered (an escape inside would break the link); they
#: stop at brackets so one can never carry a "](" past the escaping below.
_PLAIN_URL = r"(?P<url>https?://[^\s<>\[\]]+)"
#: "(" right after "]" is what turns brackets into a masked link; "\(" is shown as "(".
_LINK_PAREN = r"(?P<paren>(?<=\])\()"
#: Characters that format wherever they stand; "\" itself first, so input escapes stay text.
_FORMATTING = r"(?P<char>[\\*_~|`\[\]])"
#: Block syntax that only counts at a line start: headings, subtext, quotes, list items.
_LINE_START = r"(?P<block>^[ \t]*[#>+-])"
_INERT = re.compile("|".join((_PLAIN_URL, _LINK_PAREN, _FORMATTING, _LINE_START)), re.MULTILINE)
_MENTION = re.compile(r"@(everyone|here|[!&]?\d{15,21})")
#: Channel links <#id>, slash links </cmd:id>, timestamps <t:…>, custom emoji <:name:id>.
_DISCORD_TOKENS = re.compile(r"<(?=[#@/:]|t:|a?:\w+:)")


def _escape(match: re.Match[str]) -> str:
    url = match.group("url")
    if url is not None:
        return url
    block = match.group("block")
    if block is not None:
        indent = block[: len(block) - len(block.lstrip(" \t"))]
        return f"{indent}\\{block[len(indent) :]}"
    return "\\" + match.group(0)


#: "1. item" is a list item; escaping the dot keeps the number as plain text.
_ORDERED_ITEM = re.compile(r"(?m)^([ \t]*\d+)([.)])(?=\s)")


def inert(text: str) -> str:
    """Feed text as Discord will show it literally: no pings, links or formatting.

    The result never contains "](" (so no masked link, however the brackets nest or are
    escaped in the input), every "[" and "]" is escaped, and mentions cannot ping.
    """
    if not text:
        return text
    text = _INERT.sub(_escape, text)
    text = _ORDERED_ITEM.sub(r"\1\\\2", text)
    text = _MENTION.sub("@\u200b\\1", text)
    return _DISCORD_TOKENS.sub("<\u200b", text)
