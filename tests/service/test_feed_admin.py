"""Feed administration and the poll policy, without Discord: what is stored, scheduled, said."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.clock import FixedClock
from bot.config import Config, FeedSettings
from bot.service import lookups
from bot.service.dbthread import DatabaseThread
from bot.service.feed_admin import FeedAdmin, FeedAdminRefusal, SettingsChanged
from bot.service.feeds import open_store, settings_from_row, settings_to_dict, sync_config_feeds
from bot.service.records import FeedRow
from bot.service.supervision import disable_if_failing_too_long
from bot.store import events as event_store
from bot.store import feeds as feed_store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class RecordingSchedule:
    """Stands in for the poll scheduler: remembers what was asked of it."""

    def __init__(self) -> None:
        self.jobs: dict[int, tuple[timedelta, datetime | None]] = {}

    def schedule_feed(
        self, feed_id: int, interval: timedelta, *, first_run: datetime | None = None
    ) -> None:
        self.jobs[feed_id] = (interval, first_run)

    def unschedule_feed(self, feed_id: int) -> None:
        self.jobs.pop(feed_id, None)

    def next_run(self, feed_id: int) -> datetime | None:
        job = self.jobs.get(feed_id)
        return job[1] if job else None


@pytest.fixture
def db_thread() -> Iterator[DatabaseThread]:
    thread = DatabaseThread()
    yield thread
    thread.close()


@pytest.fixture
def db(db_thread: DatabaseThread, tmp_path: Path) -> Database:
    return db_thread.call(open_store, Config(storage_path=tmp_path / "bot.db"))


def _add_feed(
    db_thread: DatabaseThread, db: Database, *, name: str = "cs", source: str = "discord"
) -> FeedRow:
    settings = settings_to_dict(FeedSettings(name=name, url="https://example.org/cal.ics"))
    settings["source"] = source
    return db_thread.call(
        feed_store.upsert_feed,
        db,
        name=name,
        url="https://example.org/cal.ics",
        guild_id=7,
        channel_id=70,
        settings=settings,
        now=T0,
    )


def _admin(db_thread: DatabaseThread, db: Database) -> tuple[FeedAdmin, RecordingSchedule]:
    admin = FeedAdmin(db=db, db_thread=db_thread, clock=FixedClock(T0))
    schedule = RecordingSchedule()
    admin.schedule = schedule
    return admin, schedule


def test_pausing_stores_the_status_and_takes_the_feed_off_the_schedule(
    db_thread: DatabaseThread, db: Database
) -> None:
    row = _add_feed(db_thread, db)
    admin, schedule = _admin(db_thread, db)
    schedule.schedule_feed(row.id, timedelta(minutes=30))

    updated = asyncio.run(admin.change_settings(row, {"paused": True}, paused=True))

    assert updated.status == "paused"
    assert settings_from_row(updated).paused
    assert row.id not in schedule.jobs


def test_re_enabling_a_disabled_feed_polls_it_again_within_seconds(
    db_thread: DatabaseThread, db: Database
) -> None:
    row = _add_feed(db_thread, db)
    for hours in (0, 1, 12, 25):
        db_thread.call(
            event_store.record_poll_failure,
            db,
            row.id,
            now=T0 + timedelta(hours=hours),
            reason="http",
            message="500",
            next_poll_at=None,
        )
    later = T0 + timedelta(hours=25)
    assert db_thread.call(disable_if_failing_too_long, db, row.id, now=later) is not None
    row = db_thread.call(feed_store.get_feed, db, row.id)
    assert row is not None and row.status == "disabled"
    admin, schedule = _admin(db_thread, db)

    updated = asyncio.run(admin.change_settings(row, {}, enabled=True))

    assert updated.status == "active"
    assert schedule.jobs[row.id][1] == T0 + timedelta(seconds=5)


def test_a_feed_failing_for_less_than_a_day_stays_enabled(
    db_thread: DatabaseThread, db: Database
) -> None:
    row = _add_feed(db_thread, db)
    for hours in (0, 1, 2, 3):
        db_thread.call(
            event_store.record_poll_failure,
            db,
            row.id,
            now=T0 + timedelta(hours=hours),
            reason="http",
            message="500",
            next_poll_at=None,
        )
    soon = T0 + timedelta(hours=3)
    assert db_thread.call(disable_if_failing_too_long, db, row.id, now=soon) is None
    stored = db_thread.call(feed_store.get_feed, db, row.id)
    assert stored is not None and stored.status == "active"


def test_settings_hooks_hear_which_options_were_given(
    db_thread: DatabaseThread, db: Database
) -> None:
    row = _add_feed(db_thread, db)
    admin, _ = _admin(db_thread, db)
    heard: list[SettingsChanged] = []

    async def hook(change: SettingsChanged) -> None:
        heard.append(change)

    admin.settings_hooks.append(hook)
    asyncio.run(admin.change_settings(row, {"scheduled_events": True}, channel_id=71))

    assert len(heard) == 1
    assert heard[0].given == frozenset({"scheduled_events", "channel"})
    assert settings_from_row(heard[0].after).scheduled_events
    assert heard[0].after.channel_id == 71


def test_a_feed_from_the_config_file_is_not_removed_from_discord(
    db_thread: DatabaseThread, db: Database
) -> None:
    row = _add_feed(db_thread, db, source="config")
    admin, schedule = _admin(db_thread, db)
    schedule.schedule_feed(row.id, timedelta(minutes=30))

    with pytest.raises(FeedAdminRefusal, match="configuration file"):
        asyncio.run(admin.remove(row))

    assert db_thread.call(feed_store.get_feed, db, row.id) is not None
    assert row.id in schedule.jobs


def test_a_server_without_feeds_of_its_own_sees_the_unassigned_ones(
    db_thread: DatabaseThread, db: Database, tmp_path: Path
) -> None:
    config = Config(
        storage_path=tmp_path / "bot.db",
        feeds=(FeedSettings(name="dept", url="https://example.org/dept.ics"),),
    )
    db_thread.call(sync_config_feeds, db, config, now=T0)

    assert db_thread.call(lookups.feed_names, db, 123) == ["dept"]
    assert db_thread.call(lookups.upcoming, db, 123, now=T0, feed="dept") == []
    with pytest.raises(lookups.UnknownFeed):
        db_thread.call(lookups.upcoming, db, 123, now=T0, feed="nope")
