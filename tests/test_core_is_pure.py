"""The core must stay free of I/O frameworks so it can be tested and reused without them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "bot" / "core"
FORBIDDEN = {"discord", "aiohttp", "sqlite3", "sqlite_utils", "apscheduler", "socket", "requests"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "path", sorted(CORE.rglob("*.py")), ids=lambda p: p.relative_to(CORE).as_posix()
)
def test_core_module_imports_no_io_framework(path: Path) -> None:
    assert not imported_roots(path) & FORBIDDEN


def test_the_check_itself_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import discord\nfrom aiohttp import web\n", encoding="utf-8")
    assert imported_roots(bad) & FORBIDDEN == {"discord", "aiohttp"}
