"""Discord's message limits, measured as Discord counts them, and how to fit a message in them.

Discord refuses a whole message (400, code 50035) when one limit is exceeded, and a refused
digest would take every announcement in it down with it. So each message is measured before it
is sent. Everything here works on the JSON payload (embed and component dicts, as discord.py
sends them): it measures whatever a card looks like instead of assuming a layout.

Lengths are counted in characters of the raw strings. Discord trims whitespace before counting
the embed total, so the raw count is an upper bound: what fits here fits there.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
#: Title + description + field names and values + footer text + author name, over ALL embeds.
EMBED_TOTAL_LIMIT = 6000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
ACTION_ROWS = 5
ROW_BUTTONS = 5
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
LINK_URL_LIMIT = 512
SELECT_OPTIONS = 25
SELECT_OPTION_TEXT_LIMIT = 100
SELECT_PLACEHOLDER_LIMIT = 150
_SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
ELLIPSIS = "…"

Payload = Mapping[str, Any]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _fields(embed: Payload) -> list[Mapping[str, Any]]:
    fields = embed.get("fields")
    return [f for f in fields if isinstance(f, Mapping)] if isinstance(fields, list) else []


def _sub(embed: Payload, key: str, text_key: str) -> str:
    part = embed.get(key)
    return _text(part.get(text_key)) if isinstance(part, Mapping) else ""


def embed_size(embed: Payload) -> int:
    """Characters this embed adds to its message's 6,000-character total."""
    return (
        len(_text(embed.get("title")))
        + len(_text(embed.get("description")))
        + sum(len(_text(f.get("name"))) + len(_text(f.get("value"))) for f in _fields(embed))
        + len(_sub(embed, "footer", "text"))
        + len(_sub(embed, "author", "name"))
    )


def _too_long(problems: list[str], path: str, text: str, limit: int) -> None:
    if len(text) > limit:
        problems.append(f"{path}: {len(text)} characters, limit {limit}")


def embed_problems(embed: Payload, path: str = "embed") -> list[str]:
    """Every per-embed limit this embed breaks (the message total is checked separately)."""
    problems: list[str] = []
    _too_long(problems, f"{path}.title", _text(embed.get("title")), TITLE_LIMIT)
    _too_long(problems, f"{path}.description", _text(embed.get("description")), DESCRIPTION_LIMIT)
    fields = _fields(embed)
    if len(fields) > FIELDS_PER_EMBED:
        problems.append(f"{path}.fields: {len(fields)} fields, limit {FIELDS_PER_EMBED}")
    for index, field in enumerate(fields):
        name, value = _text(field.get("name")), _text(field.get("value"))
        if not name.strip() or not value.strip():
            problems.append(f"{path}.fields.{index}: name and value are both required")
        _too_long(problems, f"{path}.fields.{index}.name", name, FIELD_NAME_LIMIT)
        _too_long(problems, f"{path}.fields.{index}.value", value, FIELD_VALUE_LIMIT)
    _too_long(problems, f"{path}.footer.text", _sub(embed, "footer", "text"), FOOTER_LIMIT)
    _too_long(problems, f"{path}.author.name", _sub(embed, "author", "name"), AUTHOR_LIMIT)
    return problems


def component_problems(rows: Any) -> list[str]:
    """Every limit of classic (action row) components this list breaks."""
    if not rows:
        return []
    if not isinstance(rows, list):
        return ["components: not a list"]
    problems: list[str] = []
    if len(rows) > ACTION_ROWS:
        problems.append(f"components: {len(rows)} rows, limit {ACTION_ROWS}")
    seen: set[str] = set()
    for r, row in enumerate(rows):
        children = row.get("components") if isinstance(row, Mapping) else None
        if not isinstance(children, list) or not children:
            problems.append(f"components.{r}: an action row needs components")
            continue
        selects = [c for c in children if isinstance(c, Mapping) and c.get("type") in _SELECT_TYPES]
        if len(children) > ROW_BUTTONS or (selects and len(children) > 1):
            problems.append(f"components.{r}: too wide ({len(children)} items)")
        for c, child in enumerate(children):
            if isinstance(child, Mapping):
                _child_problems(problems, f"components.{r}.{c}", child, seen)
    return problems


def _child_problems(
    problems: list[str], cpath: str, child: Mapping[str, Any], seen: set[str]
) -> None:
    """One button or select: its custom_id (unique in the message), texts and options."""
    custom_id = child.get("custom_id")
    if custom_id is not None:
        if not 1 <= len(_text(custom_id)) <= CUSTOM_ID_LIMIT:
            problems.append(f"{cpath}.custom_id: must be 1-{CUSTOM_ID_LIMIT} characters")
        elif custom_id in seen:
            problems.append(f"{cpath}.custom_id: duplicated")
        seen.add(_text(custom_id))
    _too_long(problems, f"{cpath}.label", _text(child.get("label")), BUTTON_LABEL_LIMIT)
    _too_long(problems, f"{cpath}.url", _text(child.get("url")), LINK_URL_LIMIT)
    _too_long(
        problems,
        f"{cpath}.placeholder",
        _text(child.get("placeholder")),
        SELECT_PLACEHOLDER_LIMIT,
    )
    options = child.get("options")
    if isinstance(options, list):
        if len(options) > SELECT_OPTIONS:
            problems.append(f"{cpath}.options: {len(options)}, limit {SELECT_OPTIONS}")
        for o, option in enumerate(o for o in options if isinstance(o, Mapping)):
            for key in ("label", "value", "description"):
                _too_long(
                    problems,
                    f"{cpath}.options.{o}.{key}",
                    _text(option.get(key)),
                    SELECT_OPTION_TEXT_LIMIT,
                )


def message_problems(payload: Payload) -> list[str]:
    """Every Discord limit this message payload breaks; empty when Discord would accept it."""
    problems: list[str] = []
    _too_long(problems, "content", _text(payload.get("content")), CONTENT_LIMIT)
    embeds = [e for e in payload.get("embeds") or [] if isinstance(e, Mapping)]
    if len(embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"embeds: {len(embeds)} embeds, limit {EMBEDS_PER_MESSAGE}")
    for index, embed in enumerate(embeds):
        problems += embed_problems(embed, f"embeds.{index}")
    total = sum(embed_size(e) for e in embeds)
    if total > EMBED_TOTAL_LIMIT:
        problems.append(f"embeds: {total} characters in all, limit {EMBED_TOTAL_LIMIT}")
    problems += component_problems(payload.get("components"))
    return problems


def fits(payload: Payload) -> bool:
    return not message_problems(payload)


# --- making a message fit ---------------------------------------------------------------------


def pack_embeds(
    embeds: Sequence[Payload],
    *,
    per_message: int = EMBEDS_PER_MESSAGE,
    total: int = EMBED_TOTAL_LIMIT,
) -> list[list[int]]:
    """Split embeds, in order, into as few messages as fit: ≤ ``per_message`` embeds and ≤
    ``total`` characters each. Returns index groups; an embed over ``total`` on its own gets a
    group of its own (the caller shrinks it: the only case where text is cut)."""
    per_message = max(1, min(per_message, EMBEDS_PER_MESSAGE))
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for index, embed in enumerate(embeds):
        size = embed_size(embed)
        if current and (len(current) >= per_message or used + size > total):
            groups.append(current)
            current, used = [], 0
        current.append(index)
        used += size
    if current:
        groups.append(current)
    return groups


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def _cut_keeping_end(text: str, limit: int) -> str:
    """Cut from the front: a footer ends with the reference marker crash recovery looks for."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return ELLIPSIS + text[len(text) - limit + 1 :].lstrip()


def clamp_embed(embed: Payload) -> dict[str, Any]:
    """A copy within every per-embed limit (≤ 25 fields, each part cut to its own limit)."""
    out: dict[str, Any] = copy.deepcopy(dict(embed))
    for key, limit in (("title", TITLE_LIMIT), ("description", DESCRIPTION_LIMIT)):
        if isinstance(out.get(key), str):
            out[key] = _cut(out[key], limit)
    if isinstance(out.get("fields"), list):
        fields = []
        for field in _fields(out)[:FIELDS_PER_EMBED]:
            name = _cut(_text(field.get("name")), FIELD_NAME_LIMIT)
            value = _cut(_text(field.get("value")), FIELD_VALUE_LIMIT)
            if name.strip() and value.strip():
                fields.append({**field, "name": name, "value": value})
        out["fields"] = fields
    if isinstance(out.get("footer"), dict) and isinstance(out["footer"].get("text"), str):
        out["footer"]["text"] = _cut_keeping_end(out["footer"]["text"], FOOTER_LIMIT)
    if isinstance(out.get("author"), dict) and isinstance(out["author"].get("name"), str):
        out["author"]["name"] = _cut(out["author"]["name"], AUTHOR_LIMIT)
    return out


def shrink_embed(embed: Payload, budget: int = EMBED_TOTAL_LIMIT) -> dict[str, Any]:
    """A copy within every per-embed limit and at most ``budget`` characters in all.

    The last resort for one card too big for a message of its own. What goes first is what
    readers miss least: the description, then the longest field values, then the footer's
    start (its end is the reference marker), the author and, only if nothing else is left, the
    title.
    """
    out = clamp_embed(embed)
    budget = max(budget, 0)
    for _ in range(4 + 2 * FIELDS_PER_EMBED):  # bounded: each step removes or cuts one part
        excess = embed_size(out) - budget
        if excess <= 0:
            return out
        description = _text(out.get("description"))
        fields = _fields(out)
        if description:
            out["description"] = _cut(description, len(description) - excess)
            if len(_text(out["description"])) <= 1:
                del out["description"]
            continue
        if fields:
            longest = max(range(len(fields)), key=lambda i: len(_text(fields[i].get("value"))))
            value = _text(fields[longest].get("value"))
            keep = len(value) - excess
            if keep >= 20:
                fields[longest] = {**fields[longest], "value": _cut(value, keep)}
            else:
                del fields[longest]
            out["fields"] = fields
            continue
        footer = _sub(out, "footer", "text")
        if footer:
            out["footer"]["text"] = _cut_keeping_end(footer, len(footer) - excess)
            if not out["footer"]["text"]:
                del out["footer"]
            continue
        if _sub(out, "author", "name"):
            del out["author"]
            continue
        title = _text(out.get("title"))
        out["title"] = _cut(title, len(title) - excess) or ELLIPSIS
        if embed_size(out) > budget:
            del out["title"]
    return out


def fit_embeds(
    embeds: Sequence[Payload], *, total: int = EMBED_TOTAL_LIMIT
) -> list[dict[str, Any]]:
    """Embeds of ONE message made to fit, for a message that cannot be split (an edit, a
    command answer): per-embed limits first, then the shared total, by cutting only the
    largest embeds down to one common size (small ones are left whole)."""
    out = [clamp_embed(e) for e in embeds[:EMBEDS_PER_MESSAGE]]
    sizes = [embed_size(e) for e in out]
    if sum(sizes) <= total:
        return out
    cap = _common_cap(sizes, total)
    return [shrink_embed(e, cap) if size > cap else e for e, size in zip(out, sizes, strict=True)]


def _common_cap(sizes: Sequence[int], total: int) -> int:
    """The largest size ``cap`` with ``sum(min(size, cap)) <= total``."""
    remaining, count = total, len(sizes)
    for index, size in enumerate(sorted(sizes)):
        share = remaining // (count - index)
        if size > share:
            return share
        remaining -= size
    return max(sizes, default=0)


def fit_content(content: str) -> str:
    return _cut(content, CONTENT_LIMIT)
