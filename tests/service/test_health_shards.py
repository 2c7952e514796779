"""The health file of a shard process: every shard listed, any shard down = unhealthy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.service.health import ShardHealth, check_health, write_health

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_each_shard_is_reported_and_one_down_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    since = NOW - timedelta(hours=1)
    up = ShardHealth(0, True, 41.5, since)
    write_health(path, now=NOW, gateway_connected=True, feeds=[], shards=[up])
    assert check_health(path, now=NOW) == (True, "ok")
    assert json.loads(path.read_text())["shards"] == [
        {"shard_id": 0, "connected": True, "latency_ms": 41.5, "changed_at": since.isoformat()}
    ]
    lost = NOW - timedelta(minutes=2)
    down = ShardHealth(3, False, None, lost)
    write_health(path, now=NOW, gateway_connected=False, feeds=[], shards=[up, down])
    assert check_health(path, now=NOW) == (
        False,
        f"shard 3 is not connected to the Discord gateway since {lost.isoformat()}",
    )


def test_an_unsharded_bot_lists_no_shards(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    write_health(path, now=NOW, gateway_connected=True, feeds=[])
    assert json.loads(path.read_text())["shards"] == []
