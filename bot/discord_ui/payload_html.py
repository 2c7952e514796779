"""Discord message payloads (content, embeds, components) drawn as static HTML.

Only what the bot's messages use is drawn: the markdown subset Discord renders in messages and
embeds (bold, italic, strike-through, masked and bare links, backslash escapes), timestamps
``<t:…>`` written in one zone, embed title/description/fields/footer, buttons and menus.
Everything from the payload is HTML-escaped; nothing on the page runs or loads anything.
Opening the page at ``#<section id>`` shows that one message alone (for screenshots).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

Payload = dict[str, Any]

_INLINE = re.compile(
    r"\\(?P<esc>[^\w\s])"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|~~(?P<strike>.+?)~~"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*]*?)\*(?![\w*])"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<target>https?://[^\s)]+)\)"
    r"|<t:(?P<ts>-?\d{1,12})(?::(?P<style>[tTdDfFR]))?>"
    r"|(?P<url>https?://[^\s<>]+[^\s<>.,;:!?)\]])",
    re.S,
)


def _link(href: str, label: str) -> str:
    return f'<a href="{html.escape(href, quote=True)}">{label}</a>'


def relative(moment: datetime, now: datetime) -> str:
    """Discord's ``<t:…:R>``: "in 6 days", "2 hours ago"."""
    seconds = (moment - now).total_seconds()
    ahead = seconds >= 0
    seconds = abs(seconds)
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ):
        if seconds >= size:
            n = round(seconds / size)
            text = f"{n} {unit}{'' if n == 1 else 's'}"
            break
    else:
        text = "a few seconds"
    return f"in {text}" if ahead else f"{text} ago"


def timestamp(epoch: int, style: str, *, now: datetime, zone: ZoneInfo) -> str:
    """A ``<t:epoch:style>`` token as a reader in ``zone`` would see it (24-hour clock)."""
    moment = datetime.fromtimestamp(epoch, UTC).astimezone(zone)
    if style == "R":
        return relative(moment, now)
    day = f"{moment.day} {moment:%B %Y}"
    formats = {
        "t": f"{moment:%H:%M}",
        "T": f"{moment:%H:%M:%S}",
        "d": f"{moment:%d/%m/%Y}",
        "D": day,
        "f": f"{day} {moment:%H:%M}",
        "F": f"{moment:%A}, {day} {moment:%H:%M}",
    }
    return formats.get(style, formats["f"])


def markdown(text: str, *, now: datetime, zone: ZoneInfo) -> str:
    """Discord's message markdown subset as HTML; line breaks kept."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        position = match.end()
        groups = match.groupdict()
        if groups["esc"] is not None:
            out.append(html.escape(groups["esc"]))
        elif groups["bold"] is not None:
            out.append(f"<strong>{markdown(groups['bold'], now=now, zone=zone)}</strong>")
        elif groups["strike"] is not None:
            out.append(f"<s>{markdown(groups['strike'], now=now, zone=zone)}</s>")
        elif groups["em"] is not None:
            out.append(f"<em>{markdown(groups['em'], now=now, zone=zone)}</em>")
        elif groups["label"] is not None:
            label = markdown(groups["label"], now=now, zone=zone)
            out.append(_link(groups["target"], label))
        elif groups["ts"] is not None:
            shown = timestamp(int(groups["ts"]), groups["style"] or "f", now=now, zone=zone)
            out.append(f'<span class="ts">{html.escape(shown)}</span>')
        else:
            out.append(_link(groups["url"], html.escape(groups["url"])))
    out.append(html.escape(text[position:]))
    return "".join(out).replace("\n", "<br>")


def embed_html(embed: Payload, *, now: datetime, zone: ZoneInfo) -> str:
    def md(value: str) -> str:
        return markdown(value, now=now, zone=zone)

    colour = f"#{int(embed.get('color') or 0x1E1F22):06x}"
    parts: list[str] = []
    author = embed.get("author") or {}
    if author.get("name"):
        parts.append(f'<div class="author">{html.escape(author["name"])}</div>')
    if embed.get("title"):
        title = html.escape(embed["title"])
        url = embed.get("url")
        parts.append(f'<div class="title">{_link(url, title) if url else title}</div>')
    if embed.get("description"):
        parts.append(f'<div class="description">{md(embed["description"])}</div>')
    fields = embed.get("fields") or []
    if fields:
        cells = []
        for field in fields:
            inline = " inline" if field.get("inline") else ""
            cells.append(
                f'<div class="field{inline}"><div class="name">{md(field.get("name", ""))}'
                f'</div><div class="value">{md(field.get("value", ""))}</div></div>'
            )
        parts.append(f'<div class="fields">{"".join(cells)}</div>')
    footer = embed.get("footer") or {}
    if footer.get("text"):
        parts.append(f'<div class="footer">{html.escape(footer["text"])}</div>')
    return f'<div class="embed" style="border-left-color:{colour}">{"".join(parts)}</div>'


def components_html(rows: Sequence[Payload]) -> str:
    drawn = []
    for row in rows:
        items = []
        for item in row.get("components", []):
            if item.get("type") == 2:
                emoji = (item.get("emoji") or {}).get("name") or ""
                label = " ".join(p for p in (emoji, item.get("label") or "") if p)
                items.append(f'<span class="button">{html.escape(label)}</span>')
            elif item.get("type") == 3:
                options = "".join(
                    f"<li>{html.escape(o.get('label', ''))}"
                    + (
                        f"<small>{html.escape(o['description'])}</small>"
                        if o.get("description")
                        else ""
                    )
                    + "</li>"
                    for o in item.get("options", [])
                )
                placeholder = html.escape(item.get("placeholder") or "Make a selection")
                items.append(
                    f'<div class="select"><div class="placeholder">{placeholder}'
                    f'<span class="chevron">⌄</span></div><ul>{options}</ul></div>'
                )
        drawn.append(f'<div class="row">{"".join(items)}</div>')
    return "".join(drawn)


def message_html(payload: Payload, *, now: datetime, zone: ZoneInfo) -> str:
    content = payload.get("content") or ""
    body = []
    if content:
        body.append(f'<div class="content">{markdown(content, now=now, zone=zone)}</div>')
    body += [embed_html(e, now=now, zone=zone) for e in payload.get("embeds", [])]
    body.append(components_html(payload.get("components", [])))
    return (
        '<div class="message"><div class="avatar">S</div><div class="body">'
        f'<div class="header"><span class="bot-name">Seminars</span><span class="tag">APP</span>'
        f'<span class="when">Today at {now.astimezone(zone):%H:%M}</span></div>'
        f"{''.join(body)}</div></div>"
    )


def feed_section(
    feed: str, messages: Sequence[tuple[str, str, Payload, datetime]], *, zone: ZoneInfo
) -> str:
    """One feed's messages: (caption, anchor id, payload, when it is sent) each."""
    drawn = "".join(
        f'<section id="{html.escape(anchor, quote=True)}"><h2>{html.escape(caption)}</h2>'
        f"{message_html(payload, now=sent, zone=zone)}</section>"
        for caption, anchor, payload, sent in messages
    )
    return f"<article><h1>Feed {html.escape(feed)}</h1>{drawn}</article>"


def page(sections: Sequence[str], *, now: datetime) -> str:
    body = "".join(sections) or '<p class="empty">No events to show.</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>seminar-bot cards</title><style>{STYLE}</style></head><body>"
        f'<p class="note">What seminar-bot would post, as of {now:%Y-%m-%d %H:%M} UTC. '
        "Times are shown in the feed's zone; Discord shows each reader their own.</p>"
        f"{body}</body></html>\n"
    )


STYLE = """
body{margin:0;padding:16px;background:#313338;color:#dbdee1;
  font:15px/1.375 "Noto Sans","Helvetica Neue",Helvetica,Arial,sans-serif;max-width:560px}
h1{font-size:18px;color:#f2f3f5;margin:8px 0}
h2{font-size:12px;text-transform:uppercase;letter-spacing:.02em;color:#949ba4;margin:20px 0 6px}
.note,.empty{color:#949ba4;font-size:13px}
section{padding:0 0 8px}
a{color:#00a8fc;text-decoration:none}
.message{display:flex;gap:14px;padding:4px 0}
.avatar{flex:none;width:40px;height:40px;border-radius:50%;background:#5865f2;color:#fff;
  display:flex;align-items:center;justify-content:center;font-weight:700}
.body{min-width:0;flex:1}
.header{display:flex;align-items:baseline;gap:6px}
.bot-name{color:#f2f3f5;font-weight:600}
.tag{background:#5865f2;color:#fff;font-size:10px;font-weight:600;padding:0 4px;border-radius:3px}
.when{color:#949ba4;font-size:12px}
.content{margin:2px 0;overflow-wrap:anywhere}
.embed{background:#2b2d31;border-left:4px solid;border-radius:4px;padding:8px 16px 16px 12px;
  margin:4px 0;max-width:432px;display:grid;gap:8px;overflow-wrap:anywhere}
.author{font-size:14px;font-weight:600;color:#f2f3f5;margin-top:8px}
.title{font-size:16px;font-weight:600;color:#f2f3f5;margin-top:8px}
.description,.value{font-size:14px}
.fields{display:flex;flex-wrap:wrap;gap:8px 16px}
.field{flex:1 0 100%}
.field.inline{flex:1 0 28%}
.name{font-size:14px;font-weight:600;color:#f2f3f5;margin-bottom:2px}
.footer{font-size:12px;color:#b5bac1}
.ts{background:rgba(78,80,88,.48);border-radius:3px;padding:0 2px}
.row{display:flex;flex-wrap:wrap;gap:8px;margin:6px 0}
.button{background:#4e5058;color:#fff;border-radius:3px;padding:4px 16px;font-size:14px;
  font-weight:500;line-height:24px}
.select{background:#1e1f22;border-radius:4px;width:100%;max-width:400px;font-size:14px}
.placeholder{padding:8px 12px;color:#949ba4;display:flex;justify-content:space-between}
.select ul{margin:0;padding:0 12px 8px;list-style:none;color:#dbdee1}
.select li{padding:3px 0;border-top:1px solid #2b2d31}
.select small{display:block;color:#949ba4;font-size:12px}
body:has(section:target) :is(.note,h1,section:not(:target)){display:none}
body:has(section:target) h2{margin-top:0}
"""
