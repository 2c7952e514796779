"""A large body reaches the parser child through a private file that never outlives the parse;
when no file can be written or read back, through the pipe, with the same answer."""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.feedgen import render_feed, seminar_series
from bot.core.incremental import Outcome, absorb, parse_changed
from bot.core.models import ParsedFeed
from bot.core.parse import ParseLimits, parse_feed
from bot.feeds import handoff
from bot.feeds.isolate import ParserPool

START = datetime(2026, 3, 2, tzinfo=UTC)
WINDOW = {"window_start": START, "window_end": datetime(2026, 9, 1, tzinfo=UTC)}
#: Big enough to be handed off as a file.
BODY = render_feed(seminar_series(600, first=START, recurring_share=0.1), stamp=START)


def assembled(outcome: Outcome) -> ParsedFeed | None:
    state, _, _ = absorb(None, outcome, body_hash="", settings=b"")
    assert state is not None
    return state.assemble(WINDOW["window_start"], WINDOW["window_end"], ParseLimits())


def bodies_left(directory: Path) -> list[Path]:
    return list(directory.glob("seminar-bot-body-*"))


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary files go to a directory of this test only, so leftovers can be counted."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(handoff, "_DIRECTORIES", (str(tmp_path),))
    return tmp_path


async def test_a_large_body_goes_through_a_file_that_is_gone_after_the_parse(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(BODY) >= handoff.SPILL_FROM
    handed: list[handoff.Spilled | None] = []

    write = handoff.spill

    def spill(body: bytes) -> handoff.Spilled | None:
        handed.append(write(body))
        return handed[-1]

    monkeypatch.setattr("bot.feeds.handoff.spill", spill)
    async with ParserPool() as pool:
        outcome = await pool.parse_incremental(BODY, **WINDOW)
        assert bodies_left(private_tmp) == []
    assert handed and handed[0] is not None and handed[0].size == len(BODY)
    assert outcome.full is None
    assert assembled(outcome) == parse_feed(BODY, **WINDOW)


def test_the_file_is_readable_by_its_owner_only(private_tmp: Path) -> None:
    spilled = handoff.spill(BODY)
    assert spilled is not None
    try:
        mode = stat.S_IMODE(os.stat(spilled.path).st_mode)
        assert mode & 0o077 == 0
        assert handoff.read_body(spilled) == BODY
    finally:
        handoff.remove(spilled)
    assert bodies_left(private_tmp) == []


async def test_without_a_writable_temporary_directory_the_body_goes_through_the_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    monkeypatch.setattr(handoff, "_DIRECTORIES", (str(tmp_path / "gone"), None))
    assert handoff.spill(BODY) is None
    async with ParserPool() as pool:
        outcome = await pool.parse_incremental(BODY, **WINDOW)
    assert assembled(outcome) == parse_feed(BODY, **WINDOW)


def test_a_directory_that_refuses_the_body_hands_it_to_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone, disk = tmp_path / "unmounted", tmp_path / "disk"
    disk.mkdir()
    monkeypatch.setattr(handoff, "_DIRECTORIES", (str(gone), str(disk)))
    spilled = handoff.spill(BODY)
    assert spilled is not None and Path(spilled.path).parent == disk
    assert handoff.read_body(spilled) == BODY
    handoff.remove(spilled)
    assert bodies_left(disk) == []


def test_a_file_that_cannot_be_read_back_is_refused_not_misread(private_tmp: Path) -> None:
    spilled = handoff.spill(BODY)
    assert spilled is not None
    Path(spilled.path).write_bytes(BODY[:1000])  # cut short under the child's feet
    with pytest.raises(OSError):
        handoff.read_body(spilled)
    handoff.remove(spilled)
    with pytest.raises(OSError):
        handoff.read_body(spilled)  # gone altogether


async def test_a_file_gone_before_the_child_reads_it_is_sent_again_through_the_pipe(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = handoff.spill

    def spill_then_lose(body: bytes) -> handoff.Spilled | None:
        spilled = write(body)
        handoff.remove(spilled)
        return spilled

    monkeypatch.setattr("bot.feeds.handoff.spill", spill_then_lose)
    async with ParserPool() as pool:
        outcome = await pool.parse_incremental(BODY, **WINDOW)
    expected = parse_changed(BODY, **WINDOW)
    assert outcome.order == expected.order
    assert assembled(outcome) == parse_feed(BODY, **WINDOW)


async def test_a_poll_cancelled_while_the_body_is_written_leaves_no_file(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    writing, removed = asyncio.Event(), asyncio.Event()
    go_on = threading.Event()
    write, remove = handoff.spill, handoff.remove

    def slow_spill(body: bytes) -> handoff.Spilled | None:
        loop.call_soon_threadsafe(writing.set)
        assert go_on.wait(10)
        return write(body)

    def remove_and_tell(body: handoff.Spilled | None) -> None:
        remove(body)
        removed.set()

    monkeypatch.setattr("bot.feeds.handoff.spill", slow_spill)
    monkeypatch.setattr("bot.feeds.handoff.remove", remove_and_tell)
    task = asyncio.create_task(handoff.spill_off_loop(BODY))
    await asyncio.wait_for(writing.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    go_on.set()  # the write finishes after its caller gave up
    await asyncio.wait_for(removed.wait(), 10)
    assert bodies_left(private_tmp) == []
