"""Each layer imports only what it may, so the architecture cannot drift one import at a time.

The rules (ARCHITECTURE.md, "The layers"): ``core`` is pure (standard library and pure
parsing libraries); ``feeds`` and ``store`` are edges over ``core``; ``service`` composes the
edges; ``discord_ui`` does Discord I/O and reaches the rest only through ``service`` (and
``core`` for pure helpers); the entry points may import anything. Every import statement in
the package counts, including ones inside functions and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bot"

#: Modules beside the layers: any layer except core may import them.
SIDE_MODULES = (
    "bot.clock",
    "bot.config",
    "bot.errors",
    "bot.logsetup",
    "bot.toml_lines",
    "bot.waiting",
)
#: Entry points and the error boundary they share: they may import anything.
ENTRY_POINTS = ("bot", "bot.__main__", "bot.app", "bot.boundary", "bot.cli")
#: I/O frameworks and I/O parts of the standard library the pure core must not touch.
IO_MODULES = (
    "discord",
    "aiohttp",
    "yarl",
    "sqlite3",
    "sqlite_utils",
    "apscheduler",
    "socket",
    "ssl",
    "asyncio",
    "http",
    "urllib.request",
    "subprocess",
    "multiprocessing",
    "requests",
)
#: Third-party libraries the core may use: they only parse and compute.
PURE_LIBRARIES = ("icalendar", "recurring_ical_events", "dateutil")


@dataclass(frozen=True)
class Layer:
    """Where a layer's modules live and which ``bot`` modules they may import."""

    prefix: str
    may_import: tuple[str, ...]
    #: Outside libraries it must not import (besides the project's own layers).
    forbidden: tuple[str, ...] = ()
    #: Exceptions, each with its reason: module → extra prefixes it may import.
    justified: tuple[tuple[str, tuple[str, ...], str], ...] = ()


LAYERS = (
    Layer("bot.core", ("bot.core", "bot.errors")),
    Layer(
        "bot.feeds",
        ("bot.feeds", "bot.core", *SIDE_MODULES),
        forbidden=("discord", "sqlite3", "sqlite_utils", "apscheduler"),
    ),
    Layer(
        "bot.store",
        ("bot.store", "bot.core", *SIDE_MODULES),
        forbidden=("discord", "aiohttp", "apscheduler"),
    ),
    Layer(
        "bot.service",
        ("bot.service", "bot.core", "bot.feeds", "bot.store", *SIDE_MODULES),
        forbidden=("discord",),
    ),
    Layer(
        "bot.discord_ui",
        ("bot.discord_ui", "bot.core", "bot.service", *SIDE_MODULES),
        forbidden=("sqlite3",),
        justified=(
            (
                "bot.discord_ui.client",
                ("bot.feeds.http", "bot.feeds.isolate"),
                "the bot owns one HTTP client and one parser pool for its lifetime and lets "
                "tests inject their own; it only constructs and closes them",
            ),
        ),
    ),
)


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, module: str) -> set[str]:
    """Every module the file imports, absolute and dotted (``from bot import x`` → ``bot.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                keep = len(base) - node.level + (1 if is_package else 0)
                prefix = ".".join(base[:keep])
                source = f"{prefix}.{node.module}" if node.module else prefix
            else:
                source = node.module or ""
            names.add(source)
            # ``from bot import errors`` imports the module bot.errors, not just bot.
            names.update(f"{source}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def is_project_module(name: str, root: Path = PACKAGE) -> bool:
    """A ``bot`` name that is a module or package (not an attribute such as __version__)."""
    if name == "bot":
        return True
    relative = Path(*name.split(".")[1:])
    base = root / relative
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def layer_of(module: str) -> Layer | None:
    return next((layer for layer in LAYERS if within(module, (layer.prefix,))), None)


def violations(path: Path, module: str, root: Path = PACKAGE) -> list[str]:
    """Imports of this module its layer does not allow, as readable sentences."""
    layer = layer_of(module)
    if layer is None:
        return []  # ENTRY_POINTS and SIDE_MODULES
    allowed = layer.may_import + tuple(
        p for name, prefixes, _ in layer.justified if name == module for p in prefixes
    )
    found = []
    for name in sorted(imported_modules(path, module)):
        if name == "bot":
            if layer.prefix == "bot.core":  # the package root (its version) is not pure
                found.append(f"{module} imports bot, which bot.core may not use")
        elif name.split(".")[0] == "bot":
            if is_project_module(name, root) and not within(name, allowed):
                found.append(f"{module} imports {name}, which {layer.prefix} may not use")
        elif within(name, layer.forbidden):
            found.append(f"{module} imports {name}, which {layer.prefix} may not use")
        elif layer.prefix == "bot.core" and not core_may_use(name):
            found.append(f"{module} imports {name}; the core may use only pure libraries")
    return found


def core_may_use(name: str) -> bool:
    if within(name, IO_MODULES):
        return False
    root = name.split(".")[0]
    return root == "__future__" or root in sys.stdlib_module_names or root in PURE_LIBRARIES


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_module_imports_only_what_its_layer_allows(path: Path) -> None:
    assert violations(path, module_name(path)) == []


def test_every_package_module_belongs_to_a_layer_or_is_an_entry_point() -> None:
    others = {module_name(p) for p in SOURCES if layer_of(module_name(p)) is None}
    assert others <= {*ENTRY_POINTS, *SIDE_MODULES}


def test_justified_exceptions_are_still_needed() -> None:
    """A stale exception would quietly widen a layer: drop it once the import is gone."""
    for layer in LAYERS:
        for module, prefixes, _ in layer.justified:
            path = PACKAGE.parent / Path(*module.split(".")).with_suffix(".py")
            imports = imported_modules(path, module)
            for prefix in prefixes:
                assert any(within(name, (prefix,)) for name in imports), (module, prefix)


# --- the checker itself, on synthetic modules ------------------------------------------------


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "bot"
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for directory in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        (directory / "__init__.py").touch()
    return root


def test_the_checker_refuses_a_store_import_in_the_discord_layer(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "store/repo.py": "",
            "service/lookups.py": "",
            "discord_ui/cogs/new.py": (
                "from bot.service import lookups\n"
                "def later():\n"
                "    from bot.store import repo\n"
                "    from ...store.repo import get_feed\n"
            ),
        },
    )
    path = root / "discord_ui" / "cogs" / "new.py"
    found = violations(path, module_name(path, root), root)
    assert found == [
        "bot.discord_ui.cogs.new imports bot.store, which bot.discord_ui may not use",
        "bot.discord_ui.cogs.new imports bot.store.repo, which bot.discord_ui may not use",
    ]


def test_the_checker_refuses_io_in_the_core_and_allows_pure_libraries(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "core/bad.py": (
                "import json\nimport icalendar\nimport discord\nfrom aiohttp import web\n"
                "import urllib.request\nfrom urllib.parse import urlsplit\nimport numpy\n"
            ),
        },
    )
    path = root / "core" / "bad.py"
    found = violations(path, "bot.core.bad", root)
    named = {line.split(" imports ")[1].split(",")[0].split(";")[0] for line in found}
    assert named == {"discord", "aiohttp", "aiohttp.web", "urllib.request", "numpy"}


def test_the_checker_refuses_upward_imports_between_layers(tmp_path: Path) -> None:
    root = _fake_package(
        tmp_path,
        {
            "discord_ui/client.py": "",
            "store/db.py": "",
            "service/x.py": "from bot.discord_ui.client import SeminarBot\nimport discord\n",
            "store/y.py": "from bot.service import x\nfrom bot.store import db\n",
            "feeds/z.py": "from bot import __version__\nfrom bot.core import models\n",
        },
    )
    assert violations(root / "service" / "x.py", "bot.service.x", root) == [
        "bot.service.x imports bot.discord_ui.client, which bot.service may not use",
        "bot.service.x imports discord, which bot.service may not use",
    ]
    assert violations(root / "store" / "y.py", "bot.store.y", root) == [
        "bot.store.y imports bot.service, which bot.store may not use",
        "bot.store.y imports bot.service.x, which bot.store may not use",
    ]
    assert violations(root / "feeds" / "z.py", "bot.feeds.z", root) == []
