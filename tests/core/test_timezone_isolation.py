"""One feed's custom VTIMEZONE must not decide the times of the next feed with the same TZID."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.parse import parse_feed

WINDOW = {
    "window_start": datetime(2024, 1, 1, tzinfo=UTC),
    "window_end": datetime(2025, 1, 1, tzinfo=UTC),
}


def feed(offset: str, with_vtimezone: bool) -> bytes:
    vtimezone = (
        "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\n"
        f"DTSTART:16010101T000000\r\nTZOFFSETFROM:{offset}\r\nTZOFFSETTO:{offset}\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\n"
        if with_vtimezone
        else ""
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n"
        + vtimezone
        + "BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\n"
        "DTSTART;TZID=Customized Time Zone:20240426T140000\r\n"
        "DTEND;TZID=Customized Time Zone:20240426T150000\r\nSUMMARY:x\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def test_custom_zone_of_one_feed_does_not_leak_into_the_next() -> None:
    first = parse_feed(feed("+0200", True), **WINDOW)
    assert first.occurrences[0].start == datetime(2024, 4, 26, 12, 0, tzinfo=UTC)
    second = parse_feed(feed("+0200", False), **WINDOW)
    (occ,) = second.occurrences
    assert occ.start == datetime(2024, 4, 26, 14, 0, tzinfo=UTC)
    assert occ.timezone_assumed
