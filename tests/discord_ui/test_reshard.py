"""Moving servers after a reshard: export from the old database, import into each shard's.

One unsharded process serves four servers; then the operator splits them over two shard
processes with fresh database files. The moved servers keep their announcements (edited, not
posted again) and their members' reminders; an import is idempotent and refuses a server
of another shard.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bench.feedgen import render_feed
from bot.cli import main
from bot.config import load_config
from bot.core.shards import shard_of
from bot.store import feeds as feed_store
from tests.discord_ui import harness
from tests.discord_ui.shard_fleet import (
    TALKS,
    Fleet,
    on_shard,
)
from tests.discord_ui.test_going import going_button

TALK = TALKS[0]


def write(fleet: Fleet, name: str, shard_ids: list[int] | None, database: str) -> Path:
    path = fleet.tmp_path / name
    path.write_text(fleet.config_text(shard_ids, database), encoding="utf-8")
    return path


async def test_servers_move_to_their_shard_without_reposts_or_lost_reminders(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = fleet.fake
    old = write(fleet, "old.toml", None, "seminar-bot.sqlite")
    fleet.feeds.body = render_feed([TALK])
    single = harness.TestBot(
        load_config(old), clock=fleet.clock, schedule_polls=False, guild_ready_timeout=0.05
    )
    await fleet.run(0, single)
    await fleet.poll_and_deliver(0)
    cards = {w.guild.id: fake.messages(w.seminars)[0] for w in fleet.worlds}
    mover = on_shard(fleet, 1)[0]
    # The member says "I'm going", which sets their reminder.
    going = str(going_button(cards[mover.guild.id].message)["custom_id"])
    click = fake.click_button(cards[mover.guild.id].id, going, user=mover.member)
    assert "going" in str((await fake.wait_for_interaction_response(click)).response_data)
    await fleet.stop(0)

    configs = {
        s: write(fleet, f"shard{s}.toml", [s], f"seminar-bot-shard{s}.sqlite") for s in (0, 1)
    }
    for world in fleet.worlds:
        out = fleet.tmp_path / f"{world.guild.id}.json"
        argv = ["export", "--config", str(old), "--guild", str(world.guild.id), "--out", str(out)]
        assert main(argv) == 0
        shard = shard_of(world.guild.id, 2)
        wrong = configs[1 - shard]
        assert main(["import", "--config", str(wrong), str(out)]) == 2
        assert f"server {world.guild.id} is on shard {shard} of 2" in capsys.readouterr().err
        assert main(["import", "--config", str(configs[shard]), str(out)]) == 0
        assert main(["import", "--config", str(configs[shard]), str(out)]) == 0
        first, again = [
            line for line in capsys.readouterr().out.splitlines() if line.startswith("imported")
        ]
        assert "1 feed(s)" in first and again.endswith(", 0 new row(s)"), "idempotent"
    document = json.loads((fleet.tmp_path / f"{mover.guild.id}.json").read_text())
    assert document["format"] == "seminar-bot-export" and document["version"] == 1
    assert len(document["guilds"][0]["subscriptions"]) == 1
    assert len(document["guilds"][0]["attendance"]) == 1

    await fleet.start(0)
    await fleet.start(1)
    renamed = replace(TALK, title="Renamed talk")
    fleet.feeds.body = render_feed([renamed])
    for shard_id in (0, 1):
        rows = await fleet.bots[shard_id].run_db(feed_store.list_feeds)
        assert {r.guild_id for r in rows} == {w.guild.id for w in on_shard(fleet, shard_id)}
        await fleet.poll_and_deliver(shard_id)
    for world in fleet.worlds:
        (card,) = fake.messages(world.seminars)
        assert card.id == cards[world.guild.id].id, "edited in place, never posted again"
        assert card.message["embeds"][0]["title"] == "Renamed talk"

    fleet.clock.set(TALK.start - timedelta(minutes=15))
    for shard_id in (0, 1):
        await fleet.tick_reminders(shard_id)
    (dm,) = fake.dms(mover.member)
    assert "Renamed talk" in json.dumps(dm.message)
    posts = Counter(w.guild.id for w in fleet.worlds for _ in fleet.reminder_posts(w))
    assert posts == {w.guild.id: 1 for w in fleet.worlds}

    # Attendance moved with the server, still tied to the reminder going set: taking it back
    # on the new shard removes that reminder too.
    click = fake.click_button(cards[mover.guild.id].id, going, user=mover.member)
    assert "Removed" in str((await fake.wait_for_interaction_response(click)).response_data)
    listed = fake.inject_command("subscriptions", {}, user=mover.member, guild=mover.guild)
    record = await fake.wait_for_interaction_response(listed)
    assert "You have no reminders" in json.dumps(record.response_data)


def test_export_and_import_explain_bad_input(
    fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(fleet, "shard0.toml", [0], "seminar-bot-shard0.sqlite")
    assert main(["export", "--config", str(config)]) == 2
    assert "no database at" in capsys.readouterr().err
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"format": "seminar-bot-export", "version": 99, "guilds": []}')
    assert main(["import", "--config", str(config), str(bogus)]) == 2
    assert "export version 99; this seminar-bot reads version 1" in capsys.readouterr().err
    bogus.write_text("not json")
    assert main(["import", "--config", str(config), str(bogus)]) == 2
    assert "not a seminar-bot export" in capsys.readouterr().err
