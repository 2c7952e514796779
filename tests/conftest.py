"""Shared fixtures. Feature-specific fixtures live beside their tests and are registered here."""

from __future__ import annotations

import os
from pathlib import Path

pytest_plugins = ["tests.fakediscord.fixtures", "tests.feedserver"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("SEMINAR_BOT_SHARED", REPO_ROOT.parent / "shared"))
CORPUS_DIR = SHARED_DIR / "ics-corpus"


def corpus_files() -> list[Path]:
    """Every real-world calendar in the shared corpus (empty when the corpus is not beside us)."""
    if not CORPUS_DIR.is_dir():
        return []
    return sorted(CORPUS_DIR.glob("*.ics"))
