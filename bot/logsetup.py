"""One place that configures logging, with a filter that keeps the token out of every record."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType

_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}")


#: The secrets of the running process (the token once read), for text printed outside logging.
_known_secrets: tuple[str, ...] = ()
#: True once ``setup_logging`` configured the service's log (``run``): failures go there.
_service_logging = False


def service_logging_active() -> bool:
    return _service_logging


def remember_secret(secret: str) -> None:
    """Keep ``secret`` out of every log record and failure line from now on (e.g. the token
    a one-shot command read)."""
    global _known_secrets
    if secret and secret not in _known_secrets:
        _known_secrets = (*_known_secrets, secret)


def redact(text: str) -> str:
    """``text`` with every known secret and token-shaped string replaced."""
    return RedactSecrets().redact(text)


class RedactSecrets(logging.Filter):
    """Replace the bot token (and anything shaped like one) in messages and arguments."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        for secret in (*self._secrets, *_known_secrets):
            text = text.replace(secret, "[token]")
        return _TOKEN_SHAPE.sub("[token]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


class OneLineReconnects(logging.Filter):
    """discord.py logs every failed gateway (re)connect with a full traceback; one line is enough.

    The record becomes a warning carrying the exception's own one-line summary, so an operator
    whose network is down sees what could not be reached instead of forty lines per attempt.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "discord.client" and record.msg == "Attempting a reconnect in %.2fs":
            error = record.exc_info[1] if record.exc_info else None
            record.msg = "Discord gateway unreachable or disconnected (%s); reconnecting in %.2fs"
            record.args = (_one_line(error), *(record.args or ()))
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _one_line(error: BaseException | None) -> str:
    if error is None:
        return "no details"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def describe_error(error: BaseException | None) -> str:
    """An exception as one line (type and message), for messages that must not wrap."""
    return _one_line(error)


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: tuple[str, ...] = ()) -> None:
    """Every record goes through the redaction filter; so do uncaught errors in any thread."""
    global _service_logging
    for secret in secrets:
        remember_secret(secret)
    if fmt == "json":
        formatter: logging.Formatter = JsonFormatter()
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    _install(formatter, level)
    _service_logging = True
    logging.getLogger("discord").setLevel(max(logging.getLevelName(level), logging.INFO))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    _route_uncaught_errors_through_logging()


def setup_cli_logging() -> None:
    """One-shot commands print their own results: only errors are logged, as plain lines.

    Leaves logging alone when something (a test runner, an embedding program) configured it.
    """
    if logging.getLogger().handlers:
        return
    _install(logging.Formatter("seminar-bot: %(message)s"), "ERROR")
    logging.captureWarnings(True)
    _route_uncaught_errors_through_logging()


def _install(formatter: logging.Formatter, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(OneLineReconnects())
    handler.addFilter(RedactSecrets())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _route_uncaught_errors_through_logging() -> None:
    """Python's default hooks print raw tracebacks to stderr, bypassing the redaction filter."""
    crash_log = logging.getLogger("seminar_bot.uncaught")

    def excepthook(
        kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        crash_log.error("uncaught error: %s", _one_line(error), exc_info=(kind, error, trace))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or args.exc_type is SystemExit:
            return
        crash_log.error(
            "uncaught error in thread %s: %s",
            args.thread.name if args.thread else "?",
            _one_line(args.exc_value),
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    def unraisable_hook(args: sys.UnraisableHookArgs) -> None:
        crash_log.warning("ignored error in %r: %s", args.object, _one_line(args.exc_value))

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
    sys.unraisablehook = unraisable_hook
