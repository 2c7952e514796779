"""Domain errors. Each failure kind carries a short machine-readable ``reason``.

The reason string is what the store records for a failed poll and what admins see in
``/feeds status``; the message is the human explanation.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``seminar-bot`` process exit status means (documented in the README)."""

    OK = 0
    #: ``health``: not healthy; any command: an unexpected error (details are in the log).
    FAILED = 1
    #: Bad command line, config file or environment (e.g. no token).
    CONFIG = 2
    #: Discord refused the token or the requested intents.
    DISCORD_REFUSED = 3
    #: Discord (or the proxy in ``api_base_url``) answered an error while starting.
    DISCORD_ERROR = 4
    #: The database or the health file cannot be opened or written.
    STORAGE = 5
    #: Interrupted with Ctrl-C outside ``run``.
    INTERRUPTED = 130


class SeminarBotError(Exception):
    """Base of every error this project raises on purpose."""

    reason: str = "error"
    #: The process exit status when this error ends a command.
    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(SeminarBotError):
    """The configuration file or environment is invalid."""

    reason = "config"
    exit_code = ExitCode.CONFIG


class StartupFailure(SeminarBotError):
    """``run`` cannot start or keep going for a reason the operator must fix.

    The message is one line: what failed, why, and what to do.
    """

    reason = "startup"

    def __init__(self, message: str, *, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class FeedError(SeminarBotError):
    """A poll failed; the previous state stays untouched."""

    reason = "feed"


# --- fetching -----------------------------------------------------------------------------


class FetchError(FeedError):
    reason = "fetch"


class InvalidFeedURL(FetchError):
    """The URL is malformed, uses a forbidden scheme/port, or carries credentials."""

    reason = "invalid_url"


class ForbiddenAddress(FetchError):
    """The URL resolves to an address the SSRF guard refuses (private, loopback, ...)."""

    reason = "forbidden_address"


class FeedHTTPError(FetchError):
    """The server answered with a non-success status."""

    reason = "http_error"

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FeedTimeout(FetchError):
    reason = "timeout"


class FeedTooLarge(FetchError):
    reason = "too_large"


class TooManyRedirects(FetchError):
    reason = "too_many_redirects"


class FeedConnectionError(FetchError):
    reason = "connection_error"


class HostBusy(FetchError):
    """The feed waited too long for a free slot on its server: not polled, not failed."""

    reason = "host_busy"


class FeedFileError(FetchError):
    """A local calendar file (operator-configured) could not be read."""

    reason = "file_error"


class FeedFileNotFound(FeedFileError):
    reason = "file_not_found"


# --- parsing ------------------------------------------------------------------------------


class CalendarError(FeedError):
    """The body is not a usable calendar."""

    reason = "invalid_calendar"


class EmptyFeed(CalendarError):
    reason = "empty_body"


class NotACalendar(CalendarError):
    """An HTML page, JSON error document or other non-iCalendar body."""

    reason = "not_a_calendar"


class ParseLimitExceeded(CalendarError):
    """The calendar broke a size, time or memory cap while being parsed."""

    reason = "parse_limit"
