"""The one error boundary every CLI command runs inside.

A failure we know (bad config, refused token, unwritable database, ...) ends the command with
ONE line that says what failed, why and what to do, and a documented exit code. Anything else
is a bug: it is logged once, with its traceback, through the redacting logger (so the token
never appears and ``format = "json"`` holds), and the command exits 1. Nothing is ever
printed raw by Python's default handler.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from bot.errors import ExitCode, SeminarBotError, StartupFailure
from bot.logsetup import describe_error, redact, service_logging_active, setup_cli_logging

log = logging.getLogger("seminar_bot")

#: OS errors that mean "this file or directory cannot be written here", with advice.
_STORAGE_ERRNOS: dict[int, str] = {
    errno.ENOSPC: "the disk is full; free some space",
    errno.EDQUOT: "the disk quota is exhausted; free some space",
    errno.EROFS: "the file system is read-only; mount a writable volume",
    errno.EACCES: "permission denied; make it writable by the bot's user",
    errno.EPERM: "permission denied; make it writable by the bot's user",
    errno.ENOTDIR: "a part of the path is a file, not a directory; fix the path",
    errno.EISDIR: "the path is a directory; point it at a file",
}


def storage_failure(error: BaseException, path: Path, what: str) -> StartupFailure | None:
    """The one-line explanation of a database or file error, or None if it is not one."""
    if isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS:
        advice = _STORAGE_ERRNOS[error.errno]
        return StartupFailure(
            f"cannot write {what} {path}: {error.strerror}; {advice}",
            exit_code=ExitCode.STORAGE,
        )
    if isinstance(error, sqlite3.Error):
        text = str(error)
        if "full" in text:
            advice = "free some disk space"
        elif "readonly" in text or "read-only" in text:
            advice = "make the file and its directory writable by the bot's user"
        elif "locked" in text:
            advice = "another process holds the database; stop it or use another path"
        else:
            advice = "check that the path is a writable file (Docker: the /data volume)"
        return StartupFailure(
            f"cannot use {what} {path}: SQLite says {text!r}; {advice}",
            exit_code=ExitCode.STORAGE,
        )
    return None


def report(line: str) -> None:
    """Show one failure line: in the service's log once ``run`` set it up, else on stderr."""
    if service_logging_active():
        log.error("%s", line)
    else:
        print(f"seminar-bot: {redact(line)}", file=sys.stderr)


def run_command(command: Callable[[], int]) -> int:
    """Run one command; turn every way it can end into an exit code."""
    try:
        return command()
    except SeminarBotError as failure:
        report(str(failure))
        return int(failure.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except SystemExit:
        raise
    except BaseException as error:
        setup_cli_logging()
        log.error(
            "unexpected error, please report it with this log: %s",
            describe_error(error),
            exc_info=error,
        )
        return int(ExitCode.FAILED)
