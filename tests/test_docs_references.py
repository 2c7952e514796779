"""The design documents name real tests and files: a rename that strands a reference fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "ARCHITECTURE.md", *sorted((REPO / "docs").glob("*.md"))]
TEST_REF = re.compile(r"`((?:tests/)?[\w/]+\.py)::(\w+)`")


def _test_refs() -> list[tuple[str, str, str]]:
    found = []
    for doc in DOCS:
        for path, name in TEST_REF.findall(doc.read_text(encoding="utf-8")):
            found.append((doc.name, path.removeprefix("tests/"), name))
    return found


def test_the_documents_name_tests() -> None:
    assert len(_test_refs()) >= 40


@pytest.mark.parametrize(("doc", "path", "name"), _test_refs())
def test_every_named_test_exists(doc: str, path: str, name: str) -> None:
    source = REPO / "tests" / path
    assert source.is_file(), f"{doc} names {path}, which does not exist"
    assert re.search(rf"def {name}\b", source.read_text(encoding="utf-8")), (
        f"{doc} names {path}::{name}, which does not exist"
    )
