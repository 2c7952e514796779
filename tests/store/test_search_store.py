"""Member lookups over the store: guild scoping, upcoming windows, ranked and typo-tolerant search."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlite_utils import Database

from bot.core.diff import DiffPolicy, diff_feed
from bot.core.models import Occurrence, SeminarDetails
from bot.store import events as event_store
from bot.store import feeds as feed_store
from bot.store import search as search_store
from bot.store.db import open_database
from tests.store.factories import T0, feed_of, occ

NOW = T0


def talk(uid: str, days: float, speaker: str, title: str, **extra: str) -> Occurrence:
    affiliation = extra.pop("affiliation", "")
    abstract = extra.pop("abstract", "")
    return occ(
        uid,
        NOW + timedelta(days=days),
        summary=f"{speaker}: {title}",
        seminar=SeminarDetails(
            speaker=speaker, title=title, affiliation=affiliation, abstract=abstract,
            series="CS Seminar",
        ),
        **extra,
    )


def store(db: Database, name: str, guild: int, occurrences: Sequence[Occurrence]) -> int:
    feed = feed_store.upsert_feed(db, name=name, url=f"https://x/{name}", guild_id=guild, now=NOW)
    stored = event_store.load_events(db, feed.id)
    result = diff_feed(name, stored, feed_of(occurrences, now=NOW), now=NOW,
                       policy=DiffPolicy(), baseline="silent")
    event_store.save_poll_result(db, feed.id, result, now=NOW, etag=None, last_modified=None,
                          body_hash=None)
    return feed.id


@pytest.fixture
def db() -> Database:
    database = open_database(None)
    store(database, "cs", 1, [
        talk("a", 1, "Michael Mahoney", "Randomized linear algebra", affiliation="UC Berkeley"),
        talk("b", 2, "Grace Hopper", "Compilers for everyone", abstract="We revisit COBOL."),
        talk("c", -2, "Old Speaker", "Already happened"),
        talk("d", 40, "Ada Lovelace", "Analytical engines"),
    ])
    store(database, "other", 2, [talk("z", 1, "Michael Mahoney", "Other guild's talk")])
    return database


def titles(hits: Sequence[search_store.EventHit]) -> list[str]:
    return [h.occurrence.title for h in hits]


def test_upcoming_is_scoped_to_the_guild_sorted_and_skips_past_events(db: Database) -> None:
    assert titles(search_store.upcoming(db, 1, now=NOW)) == [
        "Randomized linear algebra", "Compilers for everyone", "Analytical engines"]
    week = search_store.upcoming(db, 1, now=NOW, until=NOW + timedelta(days=7))
    assert titles(week) == ["Randomized linear algebra", "Compilers for everyone"]
    assert titles(search_store.upcoming(db, 2, now=NOW)) == ["Other guild's talk"]
    assert search_store.upcoming(db, 1, now=NOW, feed="other") == []


def test_config_feeds_without_a_guild_serve_guilds_that_have_none(db: Database) -> None:
    store(db, "shared", 0, [talk("s", 3, "Shared Person", "Shared talk")])
    assert titles(search_store.upcoming(db, 99, now=NOW)) == ["Shared talk"]
    assert "Shared talk" not in titles(search_store.upcoming(db, 1, now=NOW))


def test_search_by_speaker_title_affiliation_and_abstract(db: Database) -> None:
    for query in ("mahoney", "Randomized", "berkeley", "cobol", "hop"):
        result = search_store.search_events(db, 1, query, now=NOW)
        assert len(result.hits) == 1, query
        assert result.corrected == ""
    assert search_store.search_events(db, 1, "happened", now=NOW).hits == []


def test_misspelt_names_are_corrected(db: Database) -> None:
    result = search_store.search_events(db, 1, "mahony", now=NOW)
    assert titles(result.hits) == ["Randomized linear algebra"]
    assert result.corrected == "mahoney"
    assert titles(search_store.search_events(db, 1, "lovelase", now=NOW).hits) == [
        "Analytical engines"]


def test_search_text_is_never_interpreted_as_fts_syntax(db: Database) -> None:
    for query in ('"', "AND OR NOT", "*", "speaker:x", "NEAR(", "-", "^a"):
        search_store.search_events(db, 1, query, now=NOW)  # must not raise


def test_ranking_prefers_speaker_matches_over_abstract_words(db: Database) -> None:
    store(db, "more", 1, [
        talk("m1", 5, "Someone Else", "On rankings", abstract="Work by Hopper et al."),
    ])
    hits = search_store.search_events(db, 1, "hopper", now=NOW).hits
    assert titles(hits)[0] == "Compilers for everyone" and len(hits) == 2


def test_index_follows_updates_and_deletes(db: Database) -> None:
    feed = feed_store.get_feed_by_name(db, "cs", 1)
    assert feed is not None
    stored = event_store.load_events(db, feed.id)
    renamed = [talk("a", 1, "Michael Mahoney", "Sketching matrices")]
    result = diff_feed("cs", stored, feed_of(renamed, now=NOW), now=NOW, policy=DiffPolicy())
    event_store.save_poll_result(db, feed.id, result, now=NOW, etag=None, last_modified=None,
                          body_hash=None)
    assert titles(search_store.search_events(db, 1, "sketching", now=NOW).hits) == [
        "Sketching matrices"]
    assert search_store.search_events(db, 1, "randomized", now=NOW).hits == []
    db.conn.execute("DELETE FROM feeds WHERE id = ?", [feed.id])
    assert search_store.search_events(db, 1, "sketching", now=NOW).hits == []


def test_autocomplete_lists_the_next_events_or_prefix_matches(db: Database) -> None:
    assert len(search_store.autocomplete(db, 1, "", now=NOW)) == 3
    assert titles(search_store.autocomplete(db, 1, "grac", now=NOW)) == ["Compilers for everyone"]
    hit = search_store.autocomplete(db, 1, "grac", now=NOW)[0]
    assert search_store.get_event(db, 1, hit.rowid) == hit
    assert search_store.get_event(db, 2, hit.rowid) is None


def test_every_speaker_of_a_read_talk_is_searchable_and_subscribable() -> None:
    from bot.core.reminders import matches
    from bot.core.seminar import extract_seminar

    database = open_database(None)
    summary = "Daniel Okoro, Lin Feng — Axion dark matter searches"
    joint = occ("j", NOW + timedelta(days=3), summary=summary,
                seminar=extract_seminar(summary, "", ""))  # fmt: skip
    store(database, "hep", 1, [joint])
    for name in ("Okoro", "lin feng"):
        assert titles(search_store.search_events(database, 1, name, now=NOW).hits) == [
            "Axion dark matter searches"
        ]
        assert titles(search_store.autocomplete(database, 1, name[:4], now=NOW)) == [
            "Axion dark matter searches"
        ]
    assert matches("speaker", "Lin Feng", joint) and matches("speaker", "daniel okoro", joint)
    assert not matches("speaker", "Axion", joint)
