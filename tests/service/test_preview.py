"""The dry run, end to end: real CLI, real engine, feeds served by a real HTTP server."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bench.feedgen import Talk, render_feed
from bot.cli import main
from tests.feedserver import FeedServer


async def run_cli(*args: str) -> int:
    """The CLI owns its event loop, so run it in a thread beside the test's server loop."""
    return await asyncio.to_thread(main, list(args))


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TALK_A = Talk(
    post_id=501,
    start=datetime(2026, 12, 3, 15, 0, tzinfo=UTC),
    speaker="Grace Hopper",
    affiliation="Yale University",
    title="Compilers for everyone",
)
TALK_B = Talk(
    post_id=502,
    start=datetime(2026, 12, 4, 15, 0, tzinfo=UTC),
    speaker="Alan Turing",
    affiliation="University of Manchester",
    title="Computable numbers",
)


def test_bare_preview_shows_the_sample_seminar(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview"]) == 0
    out, err = capsys.readouterr()
    assert "ANNOUNCE" in out
    assert "Why Deep Learning Works: Traditional and Heavy-Tailed Implicit" in out
    assert (
        "Michael Mahoney · ICSI and Department of Statistics, University of California at Berkeley"
        in out
    )
    assert "Tue 5 Nov 2019, 10:45–11:45 EST (America/New_York)" in out
    assert "Hackerman Hall B-17" in out
    assert "https://www.cs.jhu.edu/event/cs-seminar-michael-mahoney" in out
    assert "week before its talk" in err


def test_sample_as_json_has_the_documented_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    action = json.loads(lines[0])
    assert action["action"] == "announce"
    assert action["feed"] == "sample"
    assert action["uid"] == "1962355-1572950700-1572954300@www.cs.jhu.edu"
    assert action["start"] == "2019-11-05T10:45:00-05:00"
    assert action["speaker"] == "Michael Mahoney"
    assert action["location"] == "Hackerman Hall B-17"


def test_sample_long_after_its_talk_announces_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--now", "2026-01-01T00:00Z", "--json"]) == 0
    assert capsys.readouterr().out == ""


async def test_successive_versions_print_only_what_changed(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "preview.db")
    now = NOW.isoformat()
    feed_server.body = render_feed([TALK_A, TALK_B])
    assert await run_cli("preview", feed_server.url, "--db", db, "--now", now, "--json") == 0
    first = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(a["action"], a["speaker"]) for a in first] == [
        ("announce", "Grace Hopper"),
        ("announce", "Alan Turing"),
    ]

    # Unchanged apart from the export stamp: nothing to do.
    feed_server.body = render_feed([TALK_A, TALK_B], stamp=NOW)
    assert await run_cli("preview", feed_server.url, "--db", db, "--now", now, "--json") == 0
    assert capsys.readouterr().out == ""

    # Talk B moves by two hours (The Events Calendar changes its UID); talk A changes room.
    moved_b = TALK_B.moved(TALK_B.start + timedelta(hours=2))
    feed_server.body = render_feed([replace(TALK_A, room="Malone Hall 228"), moved_b])
    later = (NOW + timedelta(minutes=15)).isoformat()
    assert await run_cli("preview", feed_server.url, "--db", db, "--now", later, "--json") == 0
    changes = {a["action"]: a for a in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(changes) == {"update", "reschedule"}
    assert changes["update"]["location"] == "Malone Hall 228"
    assert changes["update"]["old"]["location"] == "Hackerman Hall B-17"
    assert changes["reschedule"]["old"]["uid"] == TALK_B.uid
    assert changes["reschedule"]["new"]["uid"] == moved_b.uid
    assert changes["reschedule"]["old"]["start"] == "2026-12-04T10:00:00-05:00"
    assert changes["reschedule"]["new"]["start"] == "2026-12-04T12:00:00-05:00"


@pytest.mark.parametrize(
    ("status", "body", "content_type", "reason"),
    [
        (500, b"oops", "text/plain", "http_error"),
        (
            200,
            b"<!doctype html><html><body>Just a moment...</body></html>",
            "text/html",
            "not_a_calendar",
        ),
        (200, b"", "text/calendar", "empty_body"),
        (
            200,
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x",
            "text/calendar",
            "truncated",
        ),
    ],
)
async def test_failed_fetch_prints_reason_and_no_actions(
    feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str],
    status: int,
    body: bytes,
    content_type: str,
    reason: str,
) -> None:
    feed_server.status, feed_server.body, feed_server.content_type = status, body, content_type
    assert await run_cli("preview", feed_server.url, "--now", NOW.isoformat()) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"({reason})" in err


async def test_a_failed_poll_changes_nothing_stored(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "preview.db")
    feed_server.body = render_feed([TALK_A, TALK_B])
    assert await run_cli("preview", feed_server.url, "--db", db, "--now", NOW.isoformat()) == 0
    capsys.readouterr()
    feed_server.status = 503
    assert await run_cli("preview", feed_server.url, "--db", db, "--now", NOW.isoformat()) == 1
    feed_server.status = 200
    later = (NOW + timedelta(hours=2)).isoformat()
    assert await run_cli("preview", feed_server.url, "--db", db, "--now", later, "--json") == 0
    assert capsys.readouterr().out == ""


def test_bad_now_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["preview", "--now", "yesterday"])
    assert info.value.code == 2
    assert "is not an ISO-8601 time" in capsys.readouterr().err


def test_check_config_refuses_the_unedited_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its feed has channel 0 and server 0: it would poll forever and never post."""
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    assert main(["check-config", "--config", str(example)]) == 2
    captured = capsys.readouterr()
    assert "OK" not in captured.out
    assert "feeds[0].channel_id: set the id of the channel" in captured.err
    assert "feeds[0].guild_id: set the id of the server" in captured.err
    edited = (
        example.read_text(encoding="utf-8")
        .replace("\nchannel_id = 0", "\nchannel_id = 123456789012345678")
        .replace("\nguild_id = 0", "\nguild_id = 876543210987654321")
    )
    (tmp_path / "config.toml").write_text(edited, encoding="utf-8")
    assert main(["check-config", "--config", str(tmp_path / "config.toml")]) == 0
    assert "OK (1 feed(s)" in capsys.readouterr().out


async def test_preview_of_a_flood_shows_one_poll_and_says_what_waits(
    feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    talks = [replace(TALK_A, post_id=600 + i, start=TALK_A.start + timedelta(hours=i))
             for i in range(14)]  # fmt: skip
    feed_server.body = render_feed(talks)
    assert await run_cli("preview", feed_server.url, "--now", NOW.isoformat(), "--json") == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 10
    assert "4 more announcement(s) held back by the per-poll limit" in err


async def test_local_files_with_a_long_common_name_keep_separate_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "preview.db")
    now = NOW.isoformat()
    stem = "department-of-computer-science-seminar-series"  # far beyond 32 characters
    first, second = tmp_path / f"{stem}-fall.ics", tmp_path / f"{stem}-spring.ics"
    first.write_bytes(render_feed([TALK_A]))
    second.write_bytes(render_feed([TALK_B]))

    async def speakers(path: Path) -> list[tuple[str, str]]:
        assert await run_cli("preview", str(path), "--db", db, "--now", now, "--json") == 0
        return [
            (a["action"], a["speaker"])
            for a in map(json.loads, capsys.readouterr().out.splitlines())
        ]

    assert await speakers(first) == [("announce", "Grace Hopper")]
    assert await speakers(second) == [("announce", "Alan Turing")]  # nothing of the fall file
    assert await speakers(first) == []  # its own state, untouched by the spring file
    assert await speakers(second) == []


async def test_a_feed_whose_url_changes_forgets_the_old_validators(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both calendars carry the ETag "v1" (a server numbering versions per file): the old one
    must not be sent to the new address, which would answer 304 for a calendar never read."""
    bodies = {"/old.ics": render_feed([TALK_A]), "/new.ics": render_feed([TALK_B])}

    async def handle(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        body = bodies[request.path]
        return web.Response(body=body, content_type="text/calendar", headers={"ETag": '"v1"'})

    app = web.Application()
    app.router.add_get("/old.ics", handle)
    app.router.add_get("/new.ics", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    db, config = str(tmp_path / "preview.db"), tmp_path / "config.toml"

    async def preview(path: str) -> list[tuple[str, str]]:
        config.write_text(
            f'[[feeds]]\nname = "seminar"\nurl = "http://127.0.0.1:{port}{path}"\n'
            "channel_id = 1234\nguild_id = 5678\n",
            encoding="utf-8",
        )
        args = ("preview", "--config", str(config), "--db", db, "--now", NOW.isoformat())
        assert await run_cli(*args, "--json") == 0
        return [
            (a["action"], a["speaker"])
            for a in map(json.loads, capsys.readouterr().out.splitlines())
        ]

    try:
        assert await preview("/old.ics") == [("announce", "Grace Hopper")]
        assert await preview("/old.ics") == []  # 304: not modified
        changes = await preview("/new.ics")
        assert ("announce", "Alan Turing") in changes
    finally:
        await runner.cleanup()
