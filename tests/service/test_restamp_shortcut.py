"""A body that differs from the last one only in DTSTAMP lines is answered without the parser
child, also right after a poll that changed something (whose key is settled beside the child)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlite_utils import Database

from bench.feedgen import Talk, render_feed
from bot.core.models import ParsedFeed
from bot.core.parse import parse_feed
from bot.service.dbthread import DatabaseThread
from bot.service.incremental import parse_incrementally
from bot.store.db import open_database
from bot.store.feeds import upsert_feed
from tests.service.counting_parser import CountingParser
from tests.store.factories import T0

TALKS = [Talk(post_id=i, start=T0 + timedelta(days=i)) for i in range(1, 6)]
WINDOW = {"window_start": T0 - timedelta(days=1), "window_end": T0 + timedelta(days=60)}


@dataclass
class Rig:
    db_thread: DatabaseThread
    db: Database
    parser: CountingParser
    feed_id: int

    async def poll(self, body: bytes) -> ParsedFeed:
        return await parse_incrementally(
            self.parser, self.db_thread, self.db, self.feed_id, body, **WINDOW
        )


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    db_thread = DatabaseThread()
    async with CountingParser() as parser:
        db = db_thread.call(open_database, None)
        row = db_thread.call(
            lambda: upsert_feed(db, name="cs", url="https://cs.example.edu/?ical=1", now=T0)
        )
        yield Rig(db_thread, db, parser, row.id)
    db_thread.close()


def stamped(talks: list[Talk], minutes: int) -> bytes:
    return render_feed(talks, stamp=T0 + timedelta(minutes=minutes))


async def test_a_re_export_after_an_edit_needs_no_child(rig: Rig) -> None:
    await rig.poll(stamped(TALKS, 0))
    edited = [replace(TALKS[2], title="A new title"), *TALKS[:2], *TALKS[3:]]
    await rig.poll(stamped(edited, 15))
    assert rig.parser.calls == 2
    again = stamped(edited, 30)
    parsed = await rig.poll(again)
    assert rig.parser.calls == 2  # the edited body's key was stored: no child for its restamp
    assert parsed == parse_feed(again, **WINDOW)


async def test_a_body_stamped_with_several_values_is_still_told_apart_from_an_edit(
    rig: Rig,
) -> None:
    body = stamped(TALKS, 0)
    await rig.poll(body)
    # One event stamped apart, and its stamp line comes first: the key kept for this body is
    # still the one of the body before (stamps aside), so a plain re-export matches it.
    mixed = body.replace(b"DTSTAMP:2026", b"DTSTAMP:2025", 1)
    assert (await rig.poll(mixed)) == parse_feed(mixed, **WINDOW)
    calls = rig.parser.calls
    restamped = stamped(TALKS, 15)
    assert (await rig.poll(restamped)) == parse_feed(restamped, **WINDOW)
    assert rig.parser.calls == calls
    edited = restamped.replace(b"SUMMARY:", b"SUMMARY:Moved: ", 1)
    assert edited != restamped
    assert (await rig.poll(edited)) == parse_feed(edited, **WINDOW)
    assert rig.parser.calls == calls + 1
