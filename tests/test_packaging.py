"""What a reproducible build of the package and the image relies on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def test_build_backend_and_pip_are_exact_pins_that_agree() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = _pins()
    assert pyproject["build-system"]["requires"] == [f"setuptools=={pins['setuptools']}"]
    assert "pip" in pins
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--upgrade" not in dockerfile
    # pip and setuptools, then the runtime packages, all under the pins; the project offline.
    assert "pip install --quiet -c constraints.txt pip setuptools" in dockerfile
    assert "pip install --quiet -c constraints.txt -r /tmp/dependencies.txt" in dockerfile
    assert "--no-deps --no-build-isolation ." in dockerfile


def test_license_is_an_spdx_expression_with_its_file() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "seminar-bot contributors" in text
