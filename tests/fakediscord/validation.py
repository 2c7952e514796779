"""Discord's payload limits, as pure functions returning Discord-shaped error bodies.

Kept apart from the server so the rules can be read (and unit-tested) without HTTP. Each
``validate_*`` returns ``None`` when the payload is acceptable, otherwise the JSON body Discord
would answer with (``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}`` or a
top-level code such as 50006). Field error codes are Discord's where known, plausible otherwise.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

Path = tuple[str | int, ...]
Body = dict[str, Any]

INVALID_FORM_BODY = 50035
EMPTY_MESSAGE = 50006


class ErrorTree:
    """Collects field errors by path and renders Discord's nested ``_errors`` shape."""

    def __init__(self) -> None:
        self.items: list[tuple[Path, str, str]] = []

    def add(self, path: Path, code: str, message: str) -> None:
        self.items.append((path, code, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def paths(self) -> list[str]:
        return [".".join(str(p) for p in path) for path, _, _ in self.items]

    def body(self) -> Body:
        root: dict[str, Any] = {}
        for path, code, message in self.items:
            node = root
            for part in path:
                node = node.setdefault(str(part), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return {"code": INVALID_FORM_BODY, "message": "Invalid Form Body", "errors": root}


def error_body(code: int, message: str) -> Body:
    return {"code": code, "message": message}


# --- small checks ---------------------------------------------------------------------------


def _required(tree: ErrorTree, path: Path) -> None:
    tree.add(path, "BASE_TYPE_REQUIRED", "This field is required")


def _max_len(tree: ErrorTree, path: Path, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        tree.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _bad_len(tree: ErrorTree, path: Path, value: Any, low: int, high: int) -> bool:
    """Check a string length range; return True when it was wrong."""
    if not isinstance(value, str) or not low <= len(value) <= high:
        tree.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
        return True
    return False


def _max_items(tree: ErrorTree, path: Path, value: Any, limit: int) -> None:
    if isinstance(value, list) and len(value) > limit:
        tree.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _http_url(tree: ErrorTree, path: Path, value: Any, *, allow_attachment: bool) -> None:
    if not isinstance(value, str):
        tree.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        return
    schemes = ("http://", "https://") + (("attachment://",) if allow_attachment else ())
    if not value.startswith(schemes) or len(value) <= len(value.split("//", 1)[0]) + 2:
        tree.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- messages --------------------------------------------------------------------------------

EMBED_TOTAL_LIMIT = 6000
IS_COMPONENTS_V2 = 1 << 15


def _validate_embed(tree: ErrorTree, path: Path, embed: Any) -> int:
    """Validate one embed; return its character count toward the 6000 total."""
    if not isinstance(embed, dict):
        tree.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return 0
    total = 0
    for key, limit in (("title", 256), ("description", 4096)):
        if embed.get(key) is not None:
            _max_len(tree, (*path, key), embed[key], limit)
            total += len(_text(embed[key]))
    if embed.get("url") is not None:
        _http_url(tree, (*path, "url"), embed["url"], allow_attachment=False)
    for key in ("image", "thumbnail"):
        media = embed.get(key)
        if isinstance(media, dict) and media.get("url") is not None:
            _http_url(tree, (*path, key, "url"), media["url"], allow_attachment=True)
    colour = embed.get("color")
    if colour is not None and (not isinstance(colour, int) or not 0 <= colour <= 0xFFFFFF):
        tree.add((*path, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
    footer = embed.get("footer")
    if isinstance(footer, dict):
        if not footer.get("text"):
            _required(tree, (*path, "footer", "text"))
        else:
            _max_len(tree, (*path, "footer", "text"), footer["text"], 2048)
            total += len(_text(footer["text"]))
    author = embed.get("author")
    if isinstance(author, dict):
        if not author.get("name"):
            _required(tree, (*path, "author", "name"))
        else:
            _max_len(tree, (*path, "author", "name"), author["name"], 256)
            total += len(_text(author["name"]))
    fields = embed.get("fields") or []
    _max_items(tree, (*path, "fields"), fields, 25)
    for index, field in enumerate(fields if isinstance(fields, list) else []):
        fpath = (*path, "fields", index)
        for key, limit in (("name", 256), ("value", 1024)):
            value = field.get(key) if isinstance(field, dict) else None
            if value is None or value == "":
                _required(tree, (*fpath, key))
            else:
                _max_len(tree, (*fpath, key), value, limit)
                total += len(_text(value))
    return total


def _validate_button(tree: ErrorTree, path: Path, button: dict[str, Any]) -> None:
    style = button.get("style")
    if style not in (1, 2, 3, 4, 5, 6):
        tree.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4, 5, 6).")
    if button.get("label") is not None:
        _max_len(tree, (*path, "label"), button["label"], 80)
    if style == 5:
        if not button.get("url"):
            _required(tree, (*path, "url"))
        else:
            _max_len(tree, (*path, "url"), button["url"], 512)
            _http_url(tree, (*path, "url"), button["url"], allow_attachment=False)
        if button.get("custom_id") is not None:
            tree.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "A custom id cannot be specified for link buttons",
            )
    elif style != 6 and button.get("custom_id") is None:
        _required(tree, (*path, "custom_id"))
    if button.get("url") is not None and style != 5:
        tree.add(
            (*path, "url"),
            "BUTTON_COMPONENT_URL_NOT_ALLOWED",
            "A url can only be specified for link buttons",
        )


SELECT_TYPES = (3, 5, 6, 7, 8)


def _validate_select(tree: ErrorTree, path: Path, select: dict[str, Any]) -> None:
    if select.get("custom_id") is None:
        _required(tree, (*path, "custom_id"))
    if select.get("placeholder") is not None:
        _max_len(tree, (*path, "placeholder"), select["placeholder"], 150)
    low, high = select.get("min_values", 1), select.get("max_values", 1)
    if not isinstance(low, int) or not 0 <= low <= 25:
        tree.add((*path, "min_values"), "NUMBER_TYPE_MAX", "int value should be <= 25.")
    if not isinstance(high, int) or not 1 <= high <= 25:
        tree.add((*path, "max_values"), "NUMBER_TYPE_MAX", "int value should be <= 25.")
    if select.get("type") != 3:
        return
    options = select.get("options")
    if not options:
        _required(tree, (*path, "options"))
        return
    _max_items(tree, (*path, "options"), options, 25)
    for index, option in enumerate(options):
        opath = (*path, "options", index)
        for key in ("label", "value"):
            value = option.get(key)
            if not value:
                _required(tree, (*opath, key))
            else:
                _max_len(tree, (*opath, key), value, 100)
        if option.get("description") is not None:
            _max_len(tree, (*opath, "description"), option["description"], 100)
    if isinstance(high, int) and high > len(options):
        tree.add(
            (*path, "max_values"),
            "SELECT_COMPONENT_MAX_VALUES_TOO_LARGE",
            "max_values cannot exceed the number of options",
        )


def _validate_components(tree: ErrorTree, rows: Any) -> None:
    if not isinstance(rows, list):
        return
    _max_items(tree, ("components",), rows, 5)
    seen: set[str] = set()
    for r, row in enumerate(rows):
        rpath: Path = ("components", r)
        if not isinstance(row, dict) or row.get("type") != 1:
            tree.add(
                (*rpath, "type"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "Top-level components must be action rows",
            )
            continue
        children = row.get("components") or []
        if not children:
            _required(tree, (*rpath, "components"))
        selects = [c for c in children if c.get("type") in SELECT_TYPES]
        if selects and len(children) > 1:
            tree.add(
                (*rpath, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        _max_items(tree, (*rpath, "components"), children, 5)
        for c, child in enumerate(children):
            cpath = (*rpath, "components", c)
            custom_id = child.get("custom_id")
            if custom_id is not None and not _bad_len(
                tree, (*cpath, "custom_id"), custom_id, 1, 100
            ):
                if custom_id in seen:
                    tree.add(
                        (*cpath, "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                seen.add(custom_id)
            if child.get("type") == 2:
                _validate_button(tree, cpath, child)
            elif child.get("type") in SELECT_TYPES:
                _validate_select(tree, cpath, child)
            else:
                tree.add(
                    (*cpath, "type"),
                    "UNION_TYPE_CHOICES",
                    'Value of field "type" must be one of (2, 3, 5, 6, 7, 8).',
                )


def _validate_allowed_mentions(tree: ErrorTree, mentions: Any) -> None:
    if not isinstance(mentions, dict):
        return
    path: Path = ("allowed_mentions",)
    parse = mentions.get("parse", [])
    for index, kind in enumerate(parse if isinstance(parse, list) else []):
        if kind not in ("users", "roles", "everyone"):
            tree.add(
                (*path, "parse", index),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('users', 'roles', 'everyone').",
            )
    for kind in ("users", "roles"):
        ids = mentions.get(kind)
        if ids is None:
            continue
        _max_items(tree, (*path, kind), ids, 100)
        if ids and kind in parse:
            tree.add(
                path,
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )


def validate_message(
    payload: dict[str, Any], *, files: int = 0, is_edit: bool = False
) -> Body | None:
    """Check a create (or edit, when ``is_edit``) message body against Discord's limits."""
    tree = ErrorTree()
    content = payload.get("content")
    if content is not None:
        if not isinstance(content, str):
            tree.add(("content",), "STRING_TYPE_CONVERT", "Could not interpret value as string.")
        else:
            _max_len(tree, ("content",), content, 2000)
    embeds = payload.get("embeds")
    if embeds is not None:
        _max_items(tree, ("embeds",), embeds, 10)
        total = sum(_validate_embed(tree, ("embeds", i), e) for i, e in enumerate(embeds))
        if total > EMBED_TOTAL_LIMIT:
            tree.add(
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}",
            )
    nonce = payload.get("nonce")
    if nonce is not None and len(str(nonce)) > 25:
        tree.add(("nonce",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    _validate_allowed_mentions(tree, payload.get("allowed_mentions"))
    _validate_components(tree, payload.get("components"))
    if (payload.get("flags") or 0) & IS_COMPONENTS_V2 and (content or embeds):
        tree.add(
            ("content",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using components v2",
        )
    sticker_ids = payload.get("sticker_ids")
    _max_items(tree, ("sticker_ids",), sticker_ids, 3)
    if tree:
        return tree.body()
    if not is_edit and not any(
        (
            content,
            embeds,
            payload.get("components"),
            sticker_ids,
            files,
            payload.get("attachments"),
            payload.get("poll"),
        )
    ):
        return error_body(EMPTY_MESSAGE, "Cannot send an empty message")
    return None


def message_is_empty(message: dict[str, Any]) -> bool:
    return not any(
        message.get(k) for k in ("content", "embeds", "components", "attachments", "sticker_items")
    )


# --- application commands --------------------------------------------------------------------

NAME_PUNCTUATION = frozenset("-_'")
OPTION_TYPES = range(1, 12)
SUBCOMMAND, SUBCOMMAND_GROUP = 1, 2
STRING, INTEGER, NUMBER = 3, 4, 10
MAX_SAFE_INTEGER = 2**53 - 1
COMMAND_SIZE_LIMIT = 8000


def _name_char_ok(ch: str) -> bool:
    if ch in NAME_PUNCTUATION:
        return True
    if unicodedata.category(ch)[0] in "LN":
        return True
    code = ord(ch)
    return 0x0900 <= code <= 0x097F or 0x0E00 <= code <= 0x0E7F  # Devanagari, Thai


def chat_input_name_ok(name: Any) -> bool:
    """Discord's ``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`` plus lowercase."""
    return (
        isinstance(name, str)
        and 1 <= len(name) <= 32
        and all(_name_char_ok(ch) for ch in name)
        and name == name.lower()
    )


def _check_name(tree: ErrorTree, path: Path, name: Any, *, chat_input: bool) -> None:
    if name is None:
        _required(tree, (*path, "name"))
    elif _bad_len(tree, (*path, "name"), name, 1, 32):
        return
    elif chat_input and not chat_input_name_ok(name):
        tree.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_description(tree: ErrorTree, path: Path, description: Any) -> None:
    if description is None:
        _required(tree, (*path, "description"))
    else:
        _bad_len(tree, (*path, "description"), description, 1, 100)


def _localized_len(item: dict[str, Any], key: str) -> int:
    base = len(str(item.get(key) or ""))
    localizations = item.get(f"{key}_localizations") or {}
    return max([base, *(len(str(v)) for v in localizations.values())])


def command_size(command: dict[str, Any]) -> int:
    """Characters counted toward the 8000 limit (longest localization of each string)."""

    def option_size(option: dict[str, Any]) -> int:
        size = _localized_len(option, "name") + _localized_len(option, "description")
        for choice in option.get("choices") or []:
            size += _localized_len(choice, "name") + len(str(choice.get("value", "")))
        return size + sum(option_size(o) for o in option.get("options") or [])

    return option_size(command)


def _check_choices(tree: ErrorTree, path: Path, option: dict[str, Any]) -> None:
    choices = option.get("choices")
    if choices is None:
        return
    kind = option.get("type")
    if kind not in (STRING, INTEGER, NUMBER):
        tree.add(
            (*path, "choices"),
            "APPLICATION_COMMAND_OPTION_CHOICES_NOT_ALLOWED",
            "Choices are only allowed for string, integer and number options",
        )
        return
    if option.get("autocomplete") and choices:
        tree.add(
            (*path, "autocomplete"),
            "APPLICATION_COMMAND_AUTOCOMPLETE_WITH_CHOICES",
            "Autocomplete cannot be enabled on an option with choices",
        )
    _max_items(tree, (*path, "choices"), choices, 25)
    for index, choice in enumerate(choices):
        cpath = (*path, "choices", index)
        _bad_len(tree, (*cpath, "name"), choice.get("name"), 1, 100)
        value = choice.get("value")
        if kind == STRING:
            if not isinstance(value, str):
                tree.add(
                    (*cpath, "value"), "STRING_TYPE_CONVERT", "Could not interpret value as string."
                )
            else:
                _max_len(tree, (*cpath, "value"), value, 100)
        elif kind == INTEGER and (isinstance(value, bool) or not isinstance(value, int)):
            tree.add((*cpath, "value"), "NUMBER_TYPE_COERCE", "Value is not int.")
        elif kind == NUMBER and (isinstance(value, bool) or not isinstance(value, (int, float))):
            tree.add((*cpath, "value"), "NUMBER_TYPE_COERCE", "Value is not a valid number.")


def _check_bounds(tree: ErrorTree, path: Path, option: dict[str, Any]) -> None:
    kind = option.get("type")
    if kind == STRING:
        for key, low in (("min_length", 0), ("max_length", 1)):
            value = option.get(key)
            if value is not None and (not isinstance(value, int) or not low <= value <= 6000):
                tree.add(
                    (*path, key), "NUMBER_TYPE_MAX", f"int value should be between {low} and 6000."
                )
    elif kind in (INTEGER, NUMBER):
        limit = MAX_SAFE_INTEGER if kind == INTEGER else 2**53
        for key in ("min_value", "max_value"):
            value = option.get(key)
            if value is not None and (not isinstance(value, (int, float)) or abs(value) > limit):
                tree.add((*path, key), "NUMBER_TYPE_MAX", f"Value should be within ±{limit}.")


def _check_options(tree: ErrorTree, path: Path, options: Any, *, parent: int | None) -> None:
    """Validate an options list; ``parent`` is the enclosing option type (None: the command)."""
    if options is None:
        return
    if not isinstance(options, list):
        tree.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    _max_items(tree, path, options, 25)
    names: set[str] = set()
    seen_optional = False
    kinds = {o.get("type") for o in options if isinstance(o, dict)}
    if kinds & {SUBCOMMAND, SUBCOMMAND_GROUP} and kinds - {SUBCOMMAND, SUBCOMMAND_GROUP}:
        tree.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        )
    for index, option in enumerate(options):
        opath = (*path, index)
        if not isinstance(option, dict):
            tree.add(opath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        kind = option.get("type")
        if kind not in OPTION_TYPES:
            tree.add((*opath, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, ..., 11}.")
            continue
        _check_name(tree, opath, option.get("name"), chat_input=True)
        _check_description(tree, opath, option.get("description"))
        name = option.get("name")
        if isinstance(name, str):
            if name in names:
                tree.add(
                    (*opath, "name"),
                    "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                    "Option names must be unique",
                )
            names.add(name)
        if kind in (SUBCOMMAND, SUBCOMMAND_GROUP):
            if option.get("required"):
                tree.add(
                    (*opath, "required"),
                    "APPLICATION_COMMAND_OPTION_REQUIRED_INVALID",
                    "Sub-commands cannot be required",
                )
            if kind == SUBCOMMAND_GROUP:
                if parent is not None:
                    tree.add(
                        (*opath, "type"),
                        "APPLICATION_COMMAND_SUBCOMMAND_GROUP_DEPTH_EXCEEDED",
                        "Sub-command groups can only be nested at the top level",
                    )
                children = option.get("options") or []
                if any(c.get("type") != SUBCOMMAND for c in children if isinstance(c, dict)):
                    tree.add(
                        (*opath, "options"),
                        "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                        "Sub-command groups may only contain sub-commands",
                    )
            elif parent == SUBCOMMAND:
                tree.add(
                    (*opath, "type"),
                    "APPLICATION_COMMAND_SUBCOMMAND_DEPTH_EXCEEDED",
                    "Sub-commands nest at most two levels deep",
                )
            _check_options(tree, (*opath, "options"), option.get("options"), parent=kind)
            continue
        if option.get("options"):
            tree.add(
                (*opath, "options"),
                "APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED",
                "Only sub-commands and groups may have options",
            )
        if option.get("required"):
            if seen_optional:
                tree.add(
                    (*opath, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        _check_choices(tree, opath, option)
        _check_bounds(tree, opath, option)


CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3
COMMAND_COUNT_LIMITS = {CHAT_INPUT: 100, USER_COMMAND: 15, MESSAGE_COMMAND: 15, 4: 1}


def validate_commands(payload: Any) -> Body | None:
    """Validate a bulk-overwrite body (a list of application commands)."""
    tree = ErrorTree()
    if not isinstance(payload, list):
        tree.add((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return tree.body()
    seen: set[tuple[int, str]] = set()
    counts: dict[int, int] = {}
    for index, command in enumerate(payload):
        path: Path = (index,)
        if not isinstance(command, dict):
            tree.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        kind = command.get("type", CHAT_INPUT)
        if kind not in COMMAND_COUNT_LIMITS:
            tree.add((*path, "type"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4).")
            continue
        counts[kind] = counts.get(kind, 0) + 1
        name = command.get("name")
        _check_name(tree, path, name, chat_input=kind == CHAT_INPUT)
        if isinstance(name, str):
            if (kind, name) in seen:
                tree.add(
                    (*path, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            seen.add((kind, name))
        if kind == CHAT_INPUT:
            _check_description(tree, path, command.get("description"))
            _check_options(tree, (*path, "options"), command.get("options"), parent=None)
        else:
            if command.get("description") not in (None, ""):
                tree.add(
                    (*path, "description"),
                    "APPLICATION_COMMAND_DESCRIPTION_NOT_ALLOWED",
                    "Description must be empty for user and message commands",
                )
            if command.get("options"):
                tree.add(
                    (*path, "options"),
                    "APPLICATION_COMMAND_OPTIONS_NOT_ALLOWED",
                    "User and message commands cannot have options",
                )
        if command_size(command) > COMMAND_SIZE_LIMIT:
            tree.add(
                path,
                "APPLICATION_COMMAND_TOO_LARGE",
                f"Command exceeds maximum size ({COMMAND_SIZE_LIMIT})",
            )
    for kind, count in counts.items():
        if count > COMMAND_COUNT_LIMITS[kind]:
            tree.add(
                (),
                "APPLICATION_COMMANDS_LIMIT_REACHED",
                f"Maximum number of application commands of type {kind} reached "
                f"({COMMAND_COUNT_LIMITS[kind]})",
            )
    return tree.body() if tree else None


# --- interaction callbacks ------------------------------------------------------------------


def validate_autocomplete(data: Any) -> Body | None:
    tree = ErrorTree()
    choices = data.get("choices") if isinstance(data, dict) else None
    if choices is None:
        _required(tree, ("data", "choices"))
    else:
        _max_items(tree, ("data", "choices"), choices, 25)
        for index, choice in enumerate(choices):
            _bad_len(tree, ("data", "choices", index, "name"), choice.get("name"), 1, 100)
    return tree.body() if tree else None


def validate_modal(data: Any) -> Body | None:
    tree = ErrorTree()
    if not isinstance(data, dict):
        _required(tree, ("data",))
        return tree.body()
    _bad_len(tree, ("data", "custom_id"), data.get("custom_id"), 1, 100)
    _bad_len(tree, ("data", "title"), data.get("title"), 1, 45)
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        tree.add(
            ("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    return tree.body() if tree else None


# --- scheduled events ------------------------------------------------------------------------

STAGE_INSTANCE, VOICE, EXTERNAL = 1, 2, 3
GUILD_ONLY = 2


def parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def validate_scheduled_event(
    event: dict[str, Any], *, now: datetime, check_past: bool, voice_channel_ids: set[int]
) -> Body | None:
    """Validate the *merged* event (the create body, or the stored event with a PATCH applied)."""
    tree = ErrorTree()
    name = event.get("name")
    if name is None:
        _required(tree, ("name",))
    else:
        _bad_len(tree, ("name",), name, 1, 100)
    description = event.get("description")
    if description is not None:
        _max_len(tree, ("description",), description, 1000)
    if event.get("privacy_level") is None:
        _required(tree, ("privacy_level",))
    elif event.get("privacy_level") != GUILD_ONLY:
        tree.add(("privacy_level",), "BASE_TYPE_CHOICES", "Value must be one of {2}.")
    start = parse_iso(event.get("scheduled_start_time"))
    if event.get("scheduled_start_time") is None:
        _required(tree, ("scheduled_start_time",))
    elif start is None:
        tree.add(("scheduled_start_time",), "DATE_TIME_TYPE_PARSE", "Could not parse datetime.")
    elif check_past and start < now:
        tree.add(
            ("scheduled_start_time",),
            "GUILD_SCHEDULED_EVENT_SCHEDULED_START_TIME_IN_PAST",
            "Cannot schedule event in the past.",
        )
    end = parse_iso(event.get("scheduled_end_time"))
    if event.get("scheduled_end_time") is not None and end is None:
        tree.add(("scheduled_end_time",), "DATE_TIME_TYPE_PARSE", "Could not parse datetime.")
    if start is not None and end is not None and end <= start:
        tree.add(
            ("scheduled_end_time",),
            "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
            "Cannot schedule an event to end before it starts.",
        )
    kind = event.get("entity_type")
    if kind is None:
        _required(tree, ("entity_type",))
    elif kind not in (STAGE_INSTANCE, VOICE, EXTERNAL):
        tree.add(("entity_type",), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3}.")
    elif kind == EXTERNAL:
        metadata = event.get("entity_metadata") or {}
        location = metadata.get("location") if isinstance(metadata, dict) else None
        if location is None:
            _required(tree, ("entity_metadata", "location"))
        else:
            _bad_len(tree, ("entity_metadata", "location"), location, 1, 100)
        if event.get("scheduled_end_time") is None:
            _required(tree, ("scheduled_end_time",))
        if event.get("channel_id") is not None:
            tree.add(
                ("channel_id",),
                "GUILD_SCHEDULED_EVENT_CHANNEL_NOT_ALLOWED",
                "External events cannot have a channel.",
            )
    else:
        channel_id = event.get("channel_id")
        if channel_id is None:
            _required(tree, ("channel_id",))
        elif int(channel_id) not in voice_channel_ids:
            tree.add(
                ("channel_id",), "CHANNEL_TYPE_INVALID", "Channel is not a voice or stage channel."
            )
    status = event.get("status")
    if status is not None and status not in (1, 2, 3, 4):
        tree.add(("status",), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
    return tree.body() if tree else None


#: Allowed status transitions: SCHEDULED→ACTIVE/CANCELED, ACTIVE→COMPLETED.
STATUS_TRANSITIONS = {1: {1, 2, 4}, 2: {2, 3}, 3: {3}, 4: {4}}
