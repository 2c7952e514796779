"""Where each key of a TOML document sits, so a config error can name the line of its value.

``tomllib`` returns plain dicts without positions. This scanner walks the text once and maps
every key path (``("feeds", 1, "channel_id")``: the second ``[[feeds]]`` table's key) and every
table header to its 1-based line. It follows strings, comments and multi-line arrays only as far
as needed to tell a real key or header from text that merely looks like one; the text has
already been parsed by ``tomllib``, so it is known to be valid TOML.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

KeyPath = tuple[str | int, ...]

_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_PART}(?:[ \t]*\.[ \t]*{_PART})*"
_HEADER = re.compile(rf"^[ \t]*(\[\[?)[ \t]*({_DOTTED})[ \t]*\]")
_ASSIGN = re.compile(rf"^[ \t]*({_DOTTED})[ \t]*=")


def _key_parts(dotted: str) -> tuple[str, ...]:
    if '"' not in dotted and "'" not in dotted:
        return tuple(part.strip() for part in dotted.split("."))
    # Quoted keys may hold dots and escapes: let the TOML parser read them.
    parts: list[str] = []
    node: Any = tomllib.loads(f"{dotted} = 0")
    while isinstance(node, dict):
        ((key, node),) = node.items()
        parts.append(key)
    return tuple(parts)


class _Scanner:
    def __init__(self) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.array_counts: dict[KeyPath, int] = {}
        self.table: KeyPath = ()
        self.depth = 0  # open [ and { of a value that spans lines
        self.closing: str | None = None  # the delimiter of an open multi-line string

    def resolve(self, parts: tuple[str, ...]) -> list[str | int]:
        """A header's path, with every array-of-tables prefix pointing at its latest entry."""
        path: list[str | int] = []
        for part in parts:
            path.append(part)
            count = self.array_counts.get(tuple(path))
            if count:
                path.append(count - 1)
        return path

    def header(self, double: bool, parts: tuple[str, ...], number: int) -> None:
        if double:
            prefix = (*self.resolve(parts[:-1]), parts[-1])
            index = self.array_counts.get(prefix, 0)
            self.array_counts[prefix] = index + 1
            self.table = (*prefix, index)
        else:
            self.table = tuple(self.resolve(parts))
        self.lines.setdefault(self.table, number)

    def assignment(self, parts: tuple[str, ...], number: int) -> None:
        for end in range(1, len(parts) + 1):
            self.lines.setdefault((*self.table, *parts[:end]), number)

    def skip_value(self, text: str) -> None:
        """Track strings, comments and brackets in a value (or a line of a multi-line one)."""
        i = 0
        while i < len(text):
            if self.closing is not None:
                end = text.find(self.closing, i)
                if end < 0:
                    return
                i = end + 3
                self.closing = None
                continue
            ch = text[i]
            if ch == "#":
                return
            if text.startswith(('"""', "'''"), i):
                self.closing = text[i : i + 3]
                i += 3
            elif ch == '"':
                i += 1
                while i < len(text) and text[i] != '"':
                    i += 2 if text[i] == "\\" else 1
                i += 1
            elif ch == "'":
                end = text.find("'", i + 1)
                i = len(text) if end < 0 else end + 1
            else:
                if ch in "[{":
                    self.depth += 1
                elif ch in "]}":
                    self.depth = max(0, self.depth - 1)
                i += 1

    def line(self, text: str, number: int) -> None:
        if self.closing is not None or self.depth:
            self.skip_value(text)
            return
        header = _HEADER.match(text)
        if header:
            self.header(header.group(1) == "[[", _key_parts(header.group(2)), number)
            return
        assign = _ASSIGN.match(text)
        if assign:
            self.assignment(_key_parts(assign.group(1)), number)
            self.skip_value(text[assign.end() :])


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path and table path of valid TOML ``text`` to the line it starts on."""
    scanner = _Scanner()
    for number, line in enumerate(text.splitlines(), start=1):
        scanner.line(line, number)
    return scanner.lines
