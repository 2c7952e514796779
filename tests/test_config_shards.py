"""``[discord] shard_count`` / ``shard_ids`` / ``sync_commands``: strict, with key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import apply_environment, parse_config
from bot.core.shards import ShardSet, shard_of
from bot.errors import ConfigError
from bot.service.doctor import check_config


def test_unset_means_one_unsharded_process_that_syncs() -> None:
    config = parse_config("[discord]\n")
    assert config.discord.shards == ShardSet()
    assert not config.discord.shards.sharded
    assert config.discord.syncs_commands


def test_shard_ids_pick_the_servers_of_this_process() -> None:
    config = parse_config("[discord]\nshard_count = 4\nshard_ids = [3, 1]\n")
    shards = config.discord.shards
    assert shards.owned_ids == (1, 3)
    guilds = [(n << 22) + 5 for n in range(8)]
    assert [g for g in guilds if shards.owns(g)] == [g for g in guilds if shard_of(g, 4) in (1, 3)]
    assert not config.discord.syncs_commands  # shard 0 lives elsewhere
    assert not shards.owns(0)  # direct messages arrive on shard 0


def test_shard_count_alone_runs_every_shard_and_sync_can_be_forced() -> None:
    config = parse_config("[discord]\nshard_count = 2\n")
    assert config.discord.shards.owned_ids == (0, 1)
    assert config.discord.syncs_commands
    other = parse_config("[discord]\nshard_count = 2\nshard_ids = [1]\nsync_commands = true\n")
    assert other.discord.syncs_commands


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("shard_count = 2\nshard_ids = [2]", "line 4: discord.shard_ids: 2 is not a shard of 2"),
        ("shard_ids = [0]", "line 3: discord.shard_ids: set shard_count too"),
        ("shard_count = 0", "line 3: discord.shard_count: must be between 1 and"),
        ("shard_count = 2.0", "line 3: discord.shard_count: expected a whole number"),
        ("shard_count = 2\nshard_ids = [0, 0]", "line 4: discord.shard_ids: lists a shard twice"),
        ("shard_count = 2\nshard_ids = ['0']", "line 4: discord.shard_ids: expected a list of"),
        ("shard_count = 2\nshard_ids = []", "line 4: discord.shard_ids: is empty"),
        ("sync_commands = 'yes'", "line 3: discord.sync_commands: expected true or false"),
        ("shard_ids = 1", "line 3: discord.shard_ids: expected a list"),
    ],
)
def test_mistakes_name_the_key_and_line(body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(f"\n[discord]\n{body}\n")
    assert expected in str(error.value)


def test_check_config_reports_the_shards_and_who_syncs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[storage]\npath = "seminar-bot-shard1.sqlite"\n[discord]\nshard_count = 2\n'
        "shard_ids = [1]\n",
        encoding="utf-8",
    )
    assert check_config(path, online=False, environ={}) == 0
    out = capsys.readouterr().out
    assert "shard(s) 1 of 2, does not sync the slash commands" in out
    assert "seminar-bot-shard1.sqlite" in out


def test_shard_ids_from_the_environment_let_processes_share_one_file() -> None:
    config = parse_config("[discord]\nshard_count = 4\n")
    moved = apply_environment(config, {"SEMINAR_BOT_SHARD_IDS": "3, 2"})
    assert moved.discord.shards.owned_ids == (2, 3)
    with pytest.raises(ConfigError, match="SEMINAR_BOT_SHARD_IDS: 4 is not a shard of 4"):
        apply_environment(config, {"SEMINAR_BOT_SHARD_IDS": "4"})
    with pytest.raises(ConfigError, match="expected shard ids like 0 or 2,3"):
        apply_environment(config, {"SEMINAR_BOT_SHARD_IDS": "one"})
    with pytest.raises(ConfigError, match="shard_count is not"):
        apply_environment(parse_config(""), {"SEMINAR_BOT_SHARD_IDS": "0"})
