"""The token never reaches a log line, whether in the message, its arguments or a traceback."""

from __future__ import annotations

import io
import logging

import pytest

from bot.logsetup import RedactSecrets, setup_logging

pytestmark = pytest.mark.usefixtures("restore_logging")

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GAbCdE.abcdefghijklmnopqrstuvwxyz0123456789AB"


def test_token_is_redacted_from_messages_args_and_tracebacks() -> None:
    stream = io.StringIO()
    setup_logging("DEBUG", "text", secrets=("s3cr3t-operator-token",))
    handler = logging.getLogger().handlers[0]
    handler.stream = stream  # type: ignore[attr-defined]
    log = logging.getLogger("test")
    log.info("login with %s", TOKEN)
    log.warning("operator secret s3cr3t-operator-token leaked?")
    try:
        raise RuntimeError(f"bad header Authorization: Bot {TOKEN}")
    except RuntimeError:
        log.exception("request failed")
    output = stream.getvalue()
    assert TOKEN not in output and "s3cr3t-operator-token" not in output
    assert output.count("[token]") >= 3


def test_filter_leaves_ordinary_text_alone() -> None:
    assert (
        RedactSecrets().redact("feed cs-seminar polled: 3 events")
        == "feed cs-seminar polled: 3 events"
    )
