"""Every command ends in one clear line or one redacted log record, with a documented code."""

from __future__ import annotations

import errno
import io
import json
import logging
import socket
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.boundary import run_command, storage_failure
from bot.cli import _parse_now, _resolve_now, main
from bot.errors import ConfigError, ExitCode, StartupFailure
from bot.logsetup import redact, remember_secret, setup_logging
from bot.service.health import write_health

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GAbCdE.abcdefghijklmnopqrstuvwxyz0123456789AB"
PLAIN_SECRET = "operator-secret-0123456789-abcdef"
REPO_ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture
def service_log() -> io.StringIO:
    """A buffer for the service log (``use`` points ``setup_logging``'s handler at it)."""
    return io.StringIO()


def use(stream: io.StringIO, fmt: str) -> None:
    setup_logging("INFO", fmt, secrets=(PLAIN_SECRET,))
    logging.getLogger().handlers[0].stream = stream  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_an_unexpected_error_is_logged_once_redacted_never_raw(
    service_log: io.StringIO, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    use(service_log, fmt)

    def crash() -> int:
        raise RuntimeError(f"proxy said: Authorization: Bot {TOKEN} / {PLAIN_SECRET}")

    assert run_command(crash) == ExitCode.FAILED == 1
    output = service_log.getvalue()
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""
    assert TOKEN not in output and PLAIN_SECRET not in output
    assert "unexpected error" in output and "[token]" in output
    if fmt == "json":
        (record,) = map(json.loads, output.splitlines())
        assert record["level"] == "ERROR" and "RuntimeError" in record["exception"]


def test_a_known_failure_is_one_line_with_its_exit_code(service_log: io.StringIO) -> None:
    use(service_log, "json")

    def refused() -> int:
        raise StartupFailure(
            f"Discord refused Bot {PLAIN_SECRET}", exit_code=ExitCode.DISCORD_REFUSED
        )

    assert run_command(refused) == 3
    (record,) = map(json.loads, service_log.getvalue().splitlines())
    assert record["message"] == "Discord refused Bot [token]"
    assert "exception" not in record


def test_known_failures_before_logging_print_one_redacted_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def bad_config() -> int:
        raise ConfigError(f"token file {TOKEN} unreadable")

    assert run_command(bad_config) == ExitCode.CONFIG == 2
    err = capsys.readouterr().err
    assert err == "seminar-bot: token file [token] unreadable\n"


def test_errors_in_threads_go_through_the_redacting_log(service_log: io.StringIO) -> None:
    use(service_log, "text")

    def leak() -> None:
        raise ValueError(f"echo {PLAIN_SECRET}")

    thread = threading.Thread(target=leak, name="worker")
    thread.start()
    thread.join(5)
    output = service_log.getvalue()
    assert "uncaught error in thread worker" in output
    assert PLAIN_SECRET not in output


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only; mount a writable volume"),
        (PermissionError(errno.EACCES, "Permission denied"), "writable by the bot's user"),
        (sqlite3.OperationalError("database or disk is full"), "free some disk space"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "make the file"),
    ],
)
def test_storage_errors_become_one_actionable_line(error: BaseException, expected: str) -> None:
    failure = storage_failure(error, Path("/data/seminar-bot.db"), "the database")
    assert failure is not None and failure.exit_code == ExitCode.STORAGE == 5
    assert "/data/seminar-bot.db" in str(failure) and expected in str(failure)
    assert "\n" not in str(failure)


def test_other_errors_are_not_mistaken_for_storage() -> None:
    assert storage_failure(ValueError("x"), Path("db"), "the database") is None
    assert storage_failure(OSError(errno.ECONNREFUSED, "refused"), Path("db"), "db") is None


def test_health_reads_the_file_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "health.json"
    write_health(path, now=datetime.now(UTC), gateway_connected=True, feeds=[])
    monkeypatch.setenv("SEMINAR_BOT_HEALTH_FILE", str(path))
    assert main(["health"]) == 0
    monkeypatch.delenv("SEMINAR_BOT_HEALTH_FILE")
    capsys.readouterr()
    assert main(["health"]) == 2
    assert capsys.readouterr().err == (
        "seminar-bot: no health file: pass --file or set SEMINAR_BOT_HEALTH_FILE\n"
    )


def test_now_accepts_a_plain_date_as_midnight_in_the_preview_zone() -> None:
    day = _parse_now("2026-03-01")
    assert _resolve_now(day, "America/New_York") == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert _resolve_now(day, "UTC") == datetime(2026, 3, 1, tzinfo=UTC)
    assert _parse_now("2026-03-01T09:00-05:00") == datetime(2026, 3, 1, 14, 0, tzinfo=UTC)


def test_preview_with_a_plain_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--now", "2019-10-30", "--json"]) == 0
    (action,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert action["action"] == "announce"


@pytest.mark.parametrize("command", ["run", "check-config", "health"])
def test_commands_explain_themselves(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]  # after the usage line, before the options
    assert not description.startswith("options:") and len(description.split()) > 10


def test_a_feed_error_is_printed_once() -> None:
    """Not a log line from the poller and then the same failure again as the summary."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-m", "bot", "preview", f"http://127.0.0.1:{port}/talks.ics"],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "could not be read" in done.stderr


def test_a_secret_remembered_later_is_redacted_by_every_handler(
    service_log: io.StringIO,
) -> None:
    """A one-shot command that reads the token after logging was set up (e.g. an online check)."""
    use(service_log, "text")
    remember_secret("later-secret-0123456789abcdef")
    logging.getLogger("test").error("login with later-secret-0123456789abcdef failed")
    assert "later-secret" not in service_log.getvalue()
    assert redact("x later-secret-0123456789abcdef y") == "x [token] y"
