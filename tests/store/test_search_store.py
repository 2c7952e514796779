"""Member lookups over the store: guild scoping, upcoming windows, ranked and typo-tolerant search."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
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
            speaker=speaker,
            title=title,
            affiliation=affiliation,
            abstract=abstract,
            series="CS Seminar",
        ),
        **extra,
    )


def store(db: Database, name: str, guild: int, occurrences: Sequence[Occurrence]) -> int:
    feed = feed_store.upsert_feed(db, name=name, url=f"https://x/{name}", guild_id=guild, now=NOW)
    stored = event_store.load_events(db, feed.id)
    result = diff_feed(
        name, stored, feed_of(occurrences, now=NOW), now=NOW, policy=DiffPolicy(), baseline="silent"
    )
    event_store.save_poll_result(
        db, feed.id, result, now=NOW, etag=None, last_modified=None, body_hash=None
    )
    return feed.id


@pytest.fixture
def db() -> Database:
    database = open_database(None)
    store(
        database,
        "cs",
        1,
        [
            talk("a", 1, "Michael Mahoney", "Randomized linear algebra", affiliation="UC Berkeley"),
            talk("b", 2, "Grace Hopper", "Compilers for everyone", abstract="We revisit COBOL."),
            talk("c", -2, "Old Speaker", "Already happened"),
            talk("d", 40, "Ada Lovelace", "Analytical engines"),
        ],
    )
    store(database, "other", 2, [talk("z", 1, "Michael Mahoney", "Other guild's talk")])
    return database


def titles(hits: Sequence[search_store.EventHit]) -> list[str]:
    return [h.occurrence.title for h in hits]


def test_upcoming_is_scoped_to_the_guild_sorted_and_skips_past_events(db: Database) -> None:
    assert titles(search_store.upcoming(db, 1, now=NOW)) == [
        "Randomized linear algebra",
        "Compilers for everyone",
        "Analytical engines",
    ]
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
        "Analytical engines"
    ]


def test_search_text_is_never_interpreted_as_fts_syntax(db: Database) -> None:
    for query in ('"', "AND OR NOT", "*", "speaker:x", "NEAR(", "-", "^a"):
        search_store.search_events(db, 1, query, now=NOW)  # must not raise


def test_ranking_prefers_speaker_matches_over_abstract_words(db: Database) -> None:
    store(
        db,
        "more",
        1,
        [
            talk("m1", 5, "Someone Else", "On rankings", abstract="Work by Hopper et al."),
        ],
    )
    hits = search_store.search_events(db, 1, "hopper", now=NOW).hits
    assert titles(hits)[0] == "Compilers for everyone" and len(hits) == 2


def test_index_follows_updates_and_deletes(db: Database) -> None:
    feed = feed_store.get_feed_by_name(db, "cs", 1)
    assert feed is not None
    stored = event_store.load_events(db, feed.id)
    renamed = [talk("a", 1, "Michael Mahoney", "Sketching matrices")]
    result = diff_feed("cs", stored, feed_of(renamed, now=NOW), now=NOW, policy=DiffPolicy())
    event_store.save_poll_result(
        db, feed.id, result, now=NOW, etag=None, last_modified=None, body_hash=None
    )
    assert titles(search_store.search_events(db, 1, "sketching", now=NOW).hits) == [
        "Sketching matrices"
    ]
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


def test_typo_correction_follows_new_events(db: Database) -> None:
    assert search_store.search_events(db, 1, "liskow", now=NOW).hits == []
    store(db, "cs", 1, [talk("e", 3, "Barbara Liskov", "Data abstraction")])
    result = search_store.search_events(db, 1, "liskow", now=NOW)
    assert titles(result.hits) == ["Data abstraction"] and result.corrected == "liskov"


def test_a_misspelt_name_ranks_its_talks_like_the_exact_name(db: Database) -> None:
    store(
        db,
        "more",
        1,
        [
            talk("m1", 3, "Ann Mahoney", "Sketching", affiliation="Mahoney Institute"),
            talk("m2", 4, "Someone Else", "On Mahoney's lemma"),
            talk("m3", 5, "Third Person", "Tensor methods", abstract="Joint with Mahoney."),
        ],
    )
    exact = titles(search_store.search_events(db, 1, "mahoney", now=NOW).hits)
    misspelt = search_store.search_events(db, 1, "mahony", now=NOW)
    assert misspelt.corrected == "mahoney"
    assert (
        titles(misspelt.hits)
        == exact
        == ["Sketching", "Randomized linear algebra", "On Mahoney's lemma", "Tensor methods"]
    )


def _plans(db: Database, lookup: Callable[[], object]) -> list[str]:
    """The query plan of every statement a lookup runs."""
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        lookup()
    finally:
        db.conn.set_trace_callback(None)
    plans = []
    for sql in statements:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            rows = db.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
            plans.append("\n".join(str(r[3]) for r in rows))
    return plans


@pytest.mark.parametrize("lookup", ["upcoming", "week", "autocomplete", "prefix", "typo"])
def test_lists_and_searches_read_events_through_indexes_only(db: Database, lookup: str) -> None:
    calls: dict[str, Callable[[], object]] = {
        "upcoming": lambda: search_store.upcoming(db, 1, now=NOW),
        "week": lambda: search_store.upcoming(db, 1, now=NOW, until=NOW + timedelta(days=7)),
        "autocomplete": lambda: search_store.autocomplete(db, 1, "", now=NOW),
        "prefix": lambda: search_store.autocomplete(db, 1, "grac", now=NOW),
        "typo": lambda: search_store.search_events(db, 1, "mahony", now=NOW),
    }
    plans = _plans(db, calls[lookup])
    assert plans
    for plan in plans:
        assert not re.search(r"\bSCAN (e|events)\b", plan), plan
    if lookup in ("upcoming", "week", "autocomplete"):
        assert "COVERING INDEX idx_events_upcoming" in plans[0], plans[0]


def test_differential_typo_search_against_the_full_vocabulary_scan() -> None:
    """On generated talks, every one-letter typo of a name finds what the old full scan found."""
    from bot.core import search

    rng = random.Random(7)
    first = ["Michael", "Grace", "Ada", "Barbara", "Edsger", "Radia", "Shafi", "Judea", "Leslie"]
    last = ["Mahoney", "Hopper", "Lovelace", "Liskov", "Dijkstra", "Perlman", "Goldwasser",
            "Pearl", "Lamport", "Maloney", "Moloney", "Hoare"]  # fmt: skip
    database = open_database(None)
    talks = [
        talk(f"g{i}", 1 + i / 3, f"{rng.choice(first)} {rng.choice(last)}", f"Talk {i}",
             affiliation=rng.choice(["Yale", "ETH Zurich", "Oxford"]))
        for i in range(120)
    ]  # fmt: skip
    store(database, "gen", 1, talks)
    letters = "abcdefghijklmnopqrstuvwxyz"
    corrected = 0
    for _ in range(150):
        name = rng.choice(first + last).lower()
        at = rng.randrange(len(name))
        typo = rng.choice([
            name[:at] + name[at + 1 :],
            name[:at] + rng.choice(letters) + name[at:],
            name[:at] + rng.choice(letters) + name[at + 1 :],
        ])  # fmt: skip
        words = search.tokens(typo)
        got = search_store.search_events(database, 1, typo, now=NOW)
        if search_store._match(database, 1, search.match_expression(words), now=NOW, limit=25):
            continue  # an exact or prefix hit: no correction involved
        fixed = search.corrections(words, search_store._vocabulary(database))
        expected = search.did_you_mean(fixed)
        assert got.corrected == expected, typo
        if expected:
            hits = search_store._match(database, 1, search.corrected_expression(fixed),
                                      now=NOW, limit=25)  # fmt: skip
            assert got.hits == hits, typo
            corrected += 1
    assert corrected > 50  # the typo path itself was exercised, not only prefix hits
