"""The container health check: fresh file, live gateway, recent successful polls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cli import main
from bot.service.health import FeedHealth, check_health, write_health

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def feed(last_ok: datetime | None, status: str = "active") -> FeedHealth:
    return FeedHealth("cs", status, last_ok, timedelta(minutes=15), NOW - timedelta(days=3))


def test_healthy_when_fresh_connected_and_polling(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    write_health(path, now=NOW, gateway_connected=True, feeds=[feed(NOW - timedelta(minutes=20))])
    assert check_health(path, now=NOW + timedelta(minutes=1)) == (True, "ok")


def test_unhealthy_cases_say_why(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    assert not check_health(path, now=NOW)[0]
    write_health(path, now=NOW, gateway_connected=False, feeds=[])
    assert check_health(path, now=NOW) == (False, "not connected to the Discord gateway")
    write_health(path, now=NOW, gateway_connected=True, feeds=[feed(NOW - timedelta(hours=2))])
    assert check_health(path, now=NOW)[1] == "no successful poll recently for: cs"
    write_health(path, now=NOW, gateway_connected=True, feeds=[feed(None, status="disabled")])
    assert check_health(path, now=NOW)[0]
    assert "not updated since" in check_health(path, now=NOW + timedelta(minutes=10))[1]


def test_health_command_exit_codes(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    write_health(path, now=datetime.now(UTC), gateway_connected=True, feeds=[])
    assert main(["health", "--file", str(path)]) == 0
    write_health(path, now=datetime.now(UTC), gateway_connected=False, feeds=[])
    assert main(["health", "--file", str(path)]) == 1
