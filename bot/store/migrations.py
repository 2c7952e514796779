"""The schema, as an ordered list of sqlite-utils migrations (never edit one that has shipped).

Each migration runs in a transaction together with its ``_sqlite_migrations`` record, so a
failing one rolls back and stays pending (docs/reliability.md, rule 12).
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("seminar-bot")


@MIGRATIONS()
def m001_feeds(db: Database) -> None:
    """Feeds are the unit of polling, backoff and health, named per guild."""
    db.execute(
        """
        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL DEFAULT 0,
            name TEXT NOT NULL,
            url TEXT NOT NULL,
            channel_id INTEGER,
            settings_json TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'suspect', 'paused', 'disabled')),
            disabled_reason TEXT,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            fail_count INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            last_error_reason TEXT,
            last_poll_at TEXT,
            last_ok_at TEXT,
            next_poll_at TEXT,
            skipped_count INTEGER NOT NULL DEFAULT 0,
            baseline_done INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (guild_id, name)
        )
        """
    )


@MIGRATIONS()
def m002_events(db: Database) -> None:
    """Per-occurrence state between polls: the diff's memory (key = UID + RECURRENCE-ID)."""
    db.execute(
        """
        CREATE TABLE events (
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            uid TEXT NOT NULL,
            recurrence_id TEXT NOT NULL DEFAULT '',
            occurrence_json TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'announced', 'silent', 'cancelled', 'expired')),
            start_utc TEXT NOT NULL,
            end_utc TEXT,
            all_day INTEGER NOT NULL DEFAULT 0,
            missing_count INTEGER NOT NULL DEFAULT 0,
            missing_since TEXT,
            announcement_id TEXT NOT NULL,
            revision INTEGER NOT NULL DEFAULT 0,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            PRIMARY KEY (feed_id, uid, recurrence_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_events_feed_start ON events (feed_id, start_utc)")


@MIGRATIONS()
def m003_outbox(db: Database) -> None:
    """Discord side effects are queued in the diff's transaction and drained by a worker."""
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            idem_key TEXT NOT NULL UNIQUE,
            feed_id INTEGER REFERENCES feeds(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            announcement_id TEXT,
            event_key TEXT,
            payload_json TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            nonce TEXT,
            discord_message_id INTEGER,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_outbox_state_due ON outbox (state, next_attempt_at)")


@MIGRATIONS()
def m004_announcements(db: Database) -> None:
    """Later edits (update/reschedule/cancel) must find the message the announcement created."""
    db.execute(
        """
        CREATE TABLE announcements (
            announcement_id TEXT NOT NULL,
            channel_id INTEGER NOT NULL,
            message_id INTEGER,
            state TEXT NOT NULL DEFAULT 'posted',
            updated_at TEXT,
            PRIMARY KEY (announcement_id, channel_id)
        )
        """
    )


@MIGRATIONS()
def m005_poll_log(db: Database) -> None:
    """Feed health needs recent poll outcomes; kept bounded per feed by the writer."""
    db.execute(
        """
        CREATE TABLE poll_log (
            id INTEGER PRIMARY KEY,
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            reason TEXT,
            detail TEXT,
            events INTEGER,
            actions INTEGER
        )
        """
    )
    db.execute("CREATE INDEX idx_poll_log_feed ON poll_log (feed_id, id)")


@MIGRATIONS()
def m006_notices(db: Database) -> None:
    """Admins are told about a broken channel or feed once, even across restarts."""
    db.execute(
        """
        CREATE TABLE notices (
            key TEXT PRIMARY KEY,
            guild_id INTEGER,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """
    )


def apply_migrations(db: Database, migrations: Migrations = MIGRATIONS) -> None:
    migrations.apply(db)


@MIGRATIONS()
def m007_events_fts(db: Database) -> None:
    """Member search (`/seminars search`) ranks talks by speaker, title, affiliation and abstract.

    The index mirrors ``events`` through triggers, so every writer (poller, tests, CLI) keeps
    it in step inside its own transaction; ``rowid`` is the events row's rowid.
    """
    db.execute(
        """
        CREATE VIRTUAL TABLE events_fts USING fts5(
            speaker, title, affiliation, abstract, series, extra,
            tokenize = 'unicode61 remove_diacritics 2'
        )
        """
    )
    columns = """
        json_extract({r}.occurrence_json, '$.seminar.speaker'),
        coalesce(nullif(json_extract({r}.occurrence_json, '$.seminar.title'), ''),
                 json_extract({r}.occurrence_json, '$.summary')),
        json_extract({r}.occurrence_json, '$.seminar.affiliation'),
        coalesce(json_extract({r}.occurrence_json, '$.seminar.abstract'),
                 json_extract({r}.occurrence_json, '$.description')),
        json_extract({r}.occurrence_json, '$.seminar.series'),
        coalesce(json_extract({r}.occurrence_json, '$.location'), '') || ' ' ||
            coalesce(json_extract({r}.occurrence_json, '$.summary'), '')
    """
    insert = (
        "INSERT INTO events_fts (rowid, speaker, title, affiliation, abstract, series, extra)"
        " VALUES ({r}.rowid, " + columns + ");"
    )
    db.execute(
        "CREATE TRIGGER events_fts_ai AFTER INSERT ON events BEGIN "
        + insert.format(r="new")
        + " END"
    )
    db.execute(
        "CREATE TRIGGER events_fts_ad AFTER DELETE ON events BEGIN "
        "DELETE FROM events_fts WHERE rowid = old.rowid; END"
    )
    db.execute(
        "CREATE TRIGGER events_fts_au AFTER UPDATE OF occurrence_json ON events"
        " WHEN old.occurrence_json IS NOT new.occurrence_json BEGIN "
        "DELETE FROM events_fts WHERE rowid = old.rowid; " + insert.format(r="new") + " END"
    )
    db.execute(
        "INSERT INTO events_fts (rowid, speaker, title, affiliation, abstract, series, extra)"
        " SELECT events.rowid, " + columns.format(r="events") + " FROM events"
    )
    db.execute("CREATE INDEX idx_events_start ON events (start_utc)")


@MIGRATIONS()
def m008_reminders(db: Database) -> None:
    """Reminders live in SQLite (due time, target, state); the scheduler only wakes the worker.

    Unique keys make planning idempotent: one channel reminder per (feed, announcement,
    offset), one personal reminder per (subscription, announcement), one change notice per
    (user, announcement, change).
    """
    db.execute(
        """
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('event', 'filter')),
            feed_id INTEGER REFERENCES feeds(id) ON DELETE CASCADE,
            announcement_id TEXT NOT NULL DEFAULT '',
            field TEXT NOT NULL DEFAULT '',
            pattern TEXT NOT NULL DEFAULT '',
            offset_s INTEGER NOT NULL CHECK (offset_s > 0),
            via TEXT NOT NULL CHECK (via IN ('dm', 'channel')),
            state TEXT NOT NULL DEFAULT 'active'
                CHECK (state IN ('active', 'dm_disabled', 'left')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE UNIQUE INDEX idx_subscriptions_unique ON subscriptions (
            guild_id, user_id, kind, IFNULL(feed_id, 0), announcement_id, field, pattern,
            offset_s, via)
        """
    )
    db.execute("CREATE INDEX idx_subscriptions_user ON subscriptions (user_id, guild_id)")
    db.execute(
        """
        CREATE TABLE reminders (
            id INTEGER PRIMARY KEY,
            idem_key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL DEFAULT 'reminder'
                CHECK (kind IN ('reminder', 'moved', 'cancelled')),
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            subscription_id INTEGER REFERENCES subscriptions(id) ON DELETE SET NULL,
            user_id INTEGER,
            announcement_id TEXT NOT NULL,
            event_key TEXT NOT NULL,
            start_json TEXT NOT NULL,
            anchor_utc TEXT NOT NULL,
            place TEXT NOT NULL DEFAULT '',
            offset_s INTEGER NOT NULL DEFAULT 0,
            target_kind TEXT NOT NULL CHECK (target_kind IN ('channel', 'dm', 'mention')),
            target_id INTEGER NOT NULL,
            due_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'sent', 'missed', 'cancelled', 'failed')),
            generation INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            payload_json TEXT NOT NULL DEFAULT '{}',
            late INTEGER NOT NULL DEFAULT 0,
            sent_at TEXT,
            message_id INTEGER,
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_reminders_due ON reminders (state, due_at)")
    db.execute("CREATE INDEX idx_reminders_feed ON reminders (feed_id, announcement_id)")
    db.execute("CREATE INDEX idx_reminders_user ON reminders (user_id, state)")
    db.execute(
        """
        CREATE TABLE reminder_users (
            user_id INTEGER PRIMARY KEY,
            dm_channel_id INTEGER,
            dm_closed_at TEXT,
            hint_pending INTEGER NOT NULL DEFAULT 0,
            member_seen_at TEXT
        )
        """
    )


@MIGRATIONS()
def m009_parse_cache(db: Database) -> None:
    """Per-group parse results, so a poll parses only the VEVENTs that changed (ARCHITECTURE.md)."""
    db.execute(
        """
        CREATE TABLE parse_cache (
            feed_id INTEGER PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,
            parser_version INTEGER NOT NULL,
            state_json TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE parse_cache_groups (
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            digest BLOB NOT NULL,
            result_json TEXT NOT NULL,
            PRIMARY KEY (feed_id, digest)
        )
        """
    )


@MIGRATIONS()
def m010_event_versions(db: Database) -> None:
    """A per-feed counter every write to ``events`` bumps (by triggers, from any connection).

    The poller keeps a feed's stored events in memory between polls (``bot.store.event_cache``);
    the counter tells it cheaply whether anything else wrote them since, so the copy is never
    stale.
    """
    db.execute(
        "CREATE TABLE event_versions ("
        " feed_id INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0)"
    )
    for event, row in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
        db.execute(
            f"CREATE TRIGGER events_version_{event.lower()} AFTER {event} ON events BEGIN"
            # Not INSERT OR IGNORE: an outer UPSERT's conflict policy would override it.
            f" INSERT INTO event_versions (feed_id, version) SELECT {row}.feed_id, 0"
            f" WHERE NOT EXISTS (SELECT 1 FROM event_versions WHERE feed_id = {row}.feed_id);"
            f" UPDATE event_versions SET version = version + 1 WHERE feed_id = {row}.feed_id;"
            " END"
        )


@MIGRATIONS()
def m011_event_mirror_and_weekly_digest(db: Database) -> None:
    """The Discord scheduled event per announcement and the digest message per (feed, week).

    Both features must never duplicate what they post, across restarts.
    """
    db.execute(
        """
        CREATE TABLE mirror_events (
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            announcement_id TEXT NOT NULL,
            guild_id INTEGER NOT NULL,
            event_id INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'cancelled', 'gone')),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (feed_id, announcement_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE weekly_digests (
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            week TEXT NOT NULL,
            channel_id INTEGER NOT NULL,
            message_id INTEGER,
            state TEXT NOT NULL DEFAULT 'posting' CHECK (state IN ('posting', 'posted')),
            content_hash TEXT NOT NULL DEFAULT '',
            nonce TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (feed_id, week)
        )
        """
    )


@MIGRATIONS()
def m012_deferred_announcements(db: Database) -> None:
    """How many due announcements the last poll held back for the per-poll budget.

    They are not lost (their events stay pending); the count tells an admin why a feed that
    suddenly grew is being announced a few at a time.
    """
    db.execute("ALTER TABLE feeds ADD COLUMN deferred_announcements INTEGER NOT NULL DEFAULT 0")


@MIGRATIONS()
def m013_search_upcoming_index(db: Database) -> None:
    """Member lists (upcoming, today, week, autocomplete) pick their rows from an index alone.

    Everything the upcoming filter and its order read (feed, start, state, end; the rowid
    comes with every index) is in this one index, so a list of the next fortnight touches
    the table only for the rows it shows. It starts with the columns of
    ``idx_events_feed_start``, which it therefore replaces.
    """
    db.execute("CREATE INDEX idx_events_upcoming ON events (feed_id, start_utc, state, end_utc)")
    db.execute("DROP INDEX idx_events_feed_start")


@MIGRATIONS()
def m014_attendance(db: Database) -> None:
    """Who said "I'm going" to which talk, and what each card last showed.

    Attendance is keyed by the announcement id, which survives reschedules (even when the
    producer changes the UID), as reminders are. ``start_json`` and ``place`` are what the
    attendee last knew, so a change is told once. ``subscription_id`` is the reminder that
    going created (never one the member set up themselves), removed again with the attendance.
    ``attendance_cards`` is the card editor's outbox: a card is due for an edit while
    ``version`` (bumped by every change of the count) is ahead of ``shown_version``.
    """
    db.execute(
        """
        CREATE TABLE attendance (
            announcement_id TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            guild_id INTEGER NOT NULL,
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            subscription_id INTEGER REFERENCES subscriptions(id) ON DELETE SET NULL,
            start_json TEXT NOT NULL DEFAULT '',
            place TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            PRIMARY KEY (announcement_id, user_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_attendance_user ON attendance (user_id, guild_id)")
    db.execute("CREATE INDEX idx_attendance_feed ON attendance (feed_id)")
    db.execute(
        """
        CREATE TABLE attendance_cards (
            announcement_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL DEFAULT 0,
            shown_version INTEGER NOT NULL DEFAULT 0,
            changed_at TEXT,
            edited_at TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE attendance_settings (
            guild_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            remind INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (guild_id, user_id)
        )
        """
    )


@MIGRATIONS()
def m015_talk_threads(db: Database) -> None:
    """The discussion thread of each announced talk, per channel.

    A row is written (``creating``) before the thread is requested, so a crash between the
    request and its record is finished at the next start instead of guessed at; the thread id
    is the announcement message's id, which Discord gives every thread started from a message.
    ``archive_at`` is when the bot archives it itself (a day after the talk).
    """
    db.execute(
        """
        CREATE TABLE talk_threads (
            announcement_id TEXT NOT NULL,
            channel_id INTEGER NOT NULL,
            feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
            guild_id INTEGER NOT NULL,
            thread_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'creating'
                CHECK (state IN ('creating', 'open', 'archived', 'gone')),
            archive_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (announcement_id, channel_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_talk_threads_due ON talk_threads (state, archive_at)")


@MIGRATIONS()
def m016_shard_layout(db: Database) -> None:
    """Which servers this database holds, as the shards that wrote it (one row).

    A sharded bot keeps one database per process; the row lets a process refuse a file that
    another shard layout wrote instead of silently ignoring (or double-serving) its servers.
    """
    db.execute(
        """
        CREATE TABLE shard_layout (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            shards TEXT NOT NULL,
            how TEXT NOT NULL CHECK (how IN ('start', 'import', 'existing')),
            recorded_at TEXT NOT NULL
        )
        """
    )
