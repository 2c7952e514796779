"""Shared fixtures. Feature-specific fixtures live beside their tests and are registered here."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.logsetup

pytest_plugins = ["tests.fakediscord.fixtures", "tests.feedserver"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("SEMINAR_BOT_SHARED", REPO_ROOT.parent / "shared"))
CORPUS_DIR = SHARED_DIR / "ics-corpus"


def corpus_files() -> list[Path]:
    """Every real-world calendar in the shared corpus (empty when the corpus is not beside us)."""
    if not CORPUS_DIR.is_dir():
        return []
    return sorted(CORPUS_DIR.glob("*.ics"))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo ``setup_logging`` (root handlers, uncaught-error hooks, remembered secrets)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    saved_unraisable = sys.unraisablehook
    saved_state = (bot.logsetup._known_secrets, bot.logsetup._service_logging)
    try:
        yield
    finally:
        root.handlers[:], root.level, sys.excepthook, threading.excepthook = saved
        sys.unraisablehook = saved_unraisable
        bot.logsetup._known_secrets, bot.logsetup._service_logging = saved_state
        logging.captureWarnings(False)
