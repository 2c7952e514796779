"""Bring a UTF-16 or UTF-32 feed body to UTF-8 before anything looks for calendar lines.

RFC 5545 says UTF-8, and every later stage (the calendar check, the byte-level splitter of the
incremental poll, the tolerant line scanner) works on ASCII-compatible bytes. Some Windows
exporters write UTF-16 anyway, with or without a byte order mark; such a body would look like
"no BEGIN:VCALENDAR". The encoding is known from the BOM, or else from where the NUL bytes of
the ASCII structure fall.
"""

from __future__ import annotations

__all__ = ["to_utf8"]

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_SAMPLE = 4096
#: Share of NULs where the wide encoding puts them, and at most elsewhere.
_NUL_SIDE = 0.5
_OTHER_SIDE = 0.05


def _nul_shares(sample: bytes) -> list[float]:
    """The share of NUL bytes at each position modulo 4."""
    usable = len(sample) - len(sample) % 4
    counts = [0, 0, 0, 0]
    for index in range(usable):
        if sample[index] == 0:
            counts[index % 4] += 1
    quarter = max(usable // 4, 1)
    return [count / quarter for count in counts]


def _sniff(body: bytes) -> str | None:
    sample = body[:_SAMPLE]
    if b"\x00" not in sample or len(sample) < 8:
        return None
    z = _nul_shares(sample)

    def wide(nul: list[float], other: list[float]) -> bool:
        return min(nul) >= _NUL_SIDE and max(other) <= _OTHER_SIDE

    if wide([z[1], z[2], z[3]], [z[0]]):
        return "utf-32-le"
    if wide([z[0], z[1], z[2]], [z[3]]):
        return "utf-32-be"
    if wide([z[1], z[3]], [z[0], z[2]]):
        return "utf-16-le"
    if wide([z[0], z[2]], [z[1], z[3]]):
        return "utf-16-be"
    return None


def to_utf8(body: bytes) -> bytes:
    """``body`` itself unless it is UTF-16/32, which comes back as UTF-8 (BOM dropped)."""
    encoding = None
    for bom, name in _BOMS:
        if body.startswith(bom):
            encoding, body = name, body[len(bom) :]
            break
    else:
        encoding = _sniff(body)
    if encoding is None:
        return body
    return body.decode(encoding, errors="replace").encode("utf-8")
