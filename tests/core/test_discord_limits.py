"""Messages are measured as Discord counts them, packed to fit, and cut only as a last resort."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import discord_limits as dl
from bot.core.models import Action, ActionKind, Occurrence, OccurrenceKey, SeminarDetails
from tests.fakediscord.validation import validate_message


def embed(**parts: Any) -> dict[str, Any]:
    return {"type": "rich", **parts}


def test_the_embed_total_counts_every_text_discord_counts() -> None:
    e = embed(
        title="t" * 10, description="d" * 20, url="https://x.example/" + "u" * 500,
        fields=[{"name": "n" * 3, "value": "v" * 4, "inline": True}],
        footer={"text": "f" * 5, "icon_url": "https://x"}, author={"name": "a" * 6},
    )  # fmt: skip
    assert dl.embed_size(e) == 10 + 20 + 3 + 4 + 5 + 6  # urls and colours are free


def test_every_limit_is_reported_with_its_path() -> None:
    big = embed(
        title="t" * 257, description="d" * 4097, footer={"text": "f" * 2049},
        author={"name": "a" * 257},
        fields=[{"name": "n" * 257, "value": "v" * 1025}] + [{"name": "n", "value": "v"}] * 25,
    )  # fmt: skip
    problems = dl.message_problems({"content": "c" * 2001, "embeds": [big] + [embed()] * 10})
    for path in ("content", "embeds:", "embeds.0.title", "embeds.0.description",
                 "embeds.0.fields:", "embeds.0.fields.0.name", "embeds.0.fields.0.value",
                 "embeds.0.footer.text", "embeds.0.author.name"):  # fmt: skip
        assert any(p.startswith(path) for p in problems), path
    assert any("in all, limit 6000" in p for p in problems)
    assert dl.fits({"content": "c" * 2000, "embeds": [embed(description="d" * 4096)]})


def test_the_6000_total_spans_all_embeds_of_a_message() -> None:
    five = [embed(description="d" * 1200)] * 5
    assert dl.fits({"embeds": five})
    assert not dl.fits({"embeds": [*five, embed(title="x")]})


def test_component_limits() -> None:
    button = {"type": 2, "style": 1, "label": "ok", "custom_id": "a"}
    assert dl.component_problems([{"type": 1, "components": [button]}]) == []
    rows = [{"type": 1, "components": [dict(button, custom_id=f"b{r}{i}") for i in range(6)]}
            for r in range(6)]  # fmt: skip
    problems = dl.component_problems(rows)
    assert any("6 rows" in p for p in problems) and any("too wide" in p for p in problems)
    twice = [{"type": 1, "components": [button, button]}]
    assert any("duplicated" in p for p in dl.component_problems(twice))
    long = [{"type": 1, "components": [dict(button, custom_id="x" * 101, label="l" * 81)]}]
    assert len(dl.component_problems(long)) == 2


def test_packing_keeps_order_and_fills_messages_up_to_the_limits() -> None:
    cards = [embed(description="d" * 1000) for _ in range(13)]
    groups = dl.pack_embeds(cards)
    assert groups == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [12]]
    small = [embed(title="t")] * 23
    assert [len(g) for g in dl.pack_embeds(small)] == [10, 10, 3]


def maximal_card(i: int) -> dict[str, Any]:
    """Every part of an embed at its own maximum: far over the message total on its own."""
    return embed(
        title=f"{i}" + "t" * 255, description="d" * 4096, footer={"text": "f" * 2038 + " · ref 01"},
        author={"name": "a" * 256},
        fields=[{"name": "n" * 256, "value": "v" * 1024} for _ in range(25)],
    )  # fmt: skip


def test_the_worst_cards_each_get_a_message_and_are_cut_to_fit_only_then() -> None:
    cards = [maximal_card(i) for i in range(10)]
    groups = dl.pack_embeds(cards)
    assert groups == [[i] for i in range(10)]
    for group in groups:
        (card,) = (dl.shrink_embed(cards[i]) for i in group)
        assert validate_message({"embeds": [card]}) is None  # the fake Discord accepts it
        assert card["title"].startswith(str(group[0]))  # the title survives
        assert card["footer"]["text"].endswith("ref 01")  # crash recovery's marker survives


def action(i: int, text: str) -> Action:
    occ = Occurrence(
        key=OccurrenceKey(f"u{i}"),
        start=datetime(2026, 12, 3, 15, tzinfo=UTC) + timedelta(hours=i),
        end=datetime(2026, 12, 3, 16, tzinfo=UTC) + timedelta(hours=i),
        summary=text[:256],
        location=text[:256],
        seminar=SeminarDetails(
            series=text[:60],
            speaker=text[:80],
            affiliation=text[:200],
            title=text[:256],
            abstract=text,
            bio=text,
        ),
    )
    return Action(kind=ActionKind.ANNOUNCE, feed="f" * 100, occurrence=occ)


def test_the_worst_digest_of_real_cards_packs_into_messages_discord_accepts() -> None:
    from bot.discord_ui.embeds import compact_embed, reference_marker

    heavy = ("*_~`|[]\\" * 3 + "[Join](https://phish.example) ") * 200
    cards = [
        compact_embed(action(i, heavy), marker=reference_marker(f"k{i}")).to_dict()
        for i in range(10)
    ]
    assert sum(dl.embed_size(c) for c in cards) > 6000  # one message would be refused
    groups = dl.pack_embeds(cards)
    assert len(groups) >= 2 and sorted(i for g in groups for i in g) == list(range(10))
    for group in groups:
        payload = {"content": "**10 new seminars announced**", "embeds": [cards[i] for i in group]}
        assert dl.fits(payload)
        assert validate_message(payload) is None


texts = st.text(max_size=3000)


@settings(max_examples=80, deadline=None)
@given(
    title=texts, description=st.text(max_size=6000), footer=texts, author=st.text(max_size=400),
    fields=st.lists(st.tuples(st.text(max_size=400), st.text(max_size=1500)), max_size=30),
    budget=st.integers(min_value=0, max_value=6000),
)  # fmt: skip
def test_shrinking_always_lands_within_every_limit_and_the_budget(
    title: str, description: str, footer: str, author: str,
    fields: list[tuple[str, str]], budget: int,
) -> None:  # fmt: skip
    e = embed(
        title=title, description=description, footer={"text": footer}, author={"name": author},
        fields=[{"name": n, "value": v} for n, v in fields],
    )  # fmt: skip
    out = dl.shrink_embed(e, budget)
    assert dl.embed_size(out) <= budget
    assert dl.embed_problems(out) == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4096), min_size=1, max_size=10))
def test_fitting_one_message_brings_its_total_under_6000(sizes: list[int]) -> None:
    out = dl.fit_embeds([embed(description="d" * n, title="t") for n in sizes])
    assert dl.fits({"embeds": out})


def test_fitting_one_message_cuts_the_largest_embeds_to_a_common_size() -> None:
    big = [embed(title=f"feed-{i}", description="d" * 1200, footer={"text": f"ref {i}"})
           for i in range(9)]  # fmt: skip
    small = embed(title="small", description="s" * 100)
    out = dl.fit_embeds([*big, small])
    assert dl.fits({"embeds": out})
    assert out[-1] == small  # small ones are left whole
    assert all(o["title"] == f"feed-{i}" and o["footer"]["text"] == f"ref {i}"
               for i, o in enumerate(out[:-1]))  # fmt: skip
    sizes = {dl.embed_size(o) for o in out[:-1]}
    assert max(sizes) - min(sizes) <= 1 and max(sizes) > 600
