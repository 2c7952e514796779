"""Per-feed card templates: a closed set of fields, no code, no pings, limits kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.models import Action, ActionKind, Occurrence, OccurrenceKey, SeminarDetails
from bot.core.render import build_card
from bot.core.templates import (
    FIELDS,
    LEAD_LIMIT,
    TITLE_LIMIT,
    CardTemplates,
    TemplateError,
    parse_template,
    render,
)

TALK = "{series}: {speaker} ({affiliation}) — {title}"


def values(**given: str) -> dict[str, str]:
    return {name: given.get(name, "") for name in FIELDS}


def test_every_field_is_filled() -> None:
    full = values(series="Theory", speaker="Ada", affiliation="MIT", title="Proofs")
    assert render(parse_template(TALK), full) == "Theory: Ada (MIT) — Proofs"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"speaker": "Ada", "title": "Proofs"}, "Ada — Proofs"),
        ({"series": "Theory", "title": "Proofs"}, "Theory — Proofs"),
        ({"series": "Theory", "speaker": "Ada", "title": "Proofs"}, "Theory: Ada — Proofs"),
        ({"affiliation": "MIT", "title": "Proofs"}, "(MIT) — Proofs"),
        ({"title": "Proofs"}, "Proofs"),
        ({"series": "Theory"}, "Theory"),
        ({}, ""),
    ],
)
def test_an_empty_field_takes_its_separator_with_it(given: dict[str, str], expected: str) -> None:
    assert render(parse_template(TALK), values(**given)) == expected


def test_doubled_braces_are_literal_braces() -> None:
    assert render(parse_template("{{x}} {title}"), values(title="T")) == "{x} T"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{nope} {title}", "unknown field {nope}"),
        ("{title.__class__}", "unknown field {title.__class__}"),
        ("{title[0]}", "unknown field {title[0]}"),
        ("{title!r}", "unknown field {title!r}"),
        ("{title:>300}", "unknown field {title:>300}"),
        ("{title", "not closed"),
        ("title}", "has no '{'"),
        ("no fields here", "uses no field"),
        ("{title}" + "x" * 400, "at most 300"),
        ("{title}\n{speaker}", "one line"),
    ],
)
def test_a_bad_template_is_refused_naming_the_problem(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        parse_template(source)


def test_the_admins_own_text_cannot_ping() -> None:
    rendered = render(parse_template("@everyone <@&123456789012345678> {title}"), values(title="T"))
    assert "@everyone" not in rendered and "<@&" not in rendered


def test_field_values_are_never_interpreted() -> None:
    rendered = render(parse_template("{title}"), values(title="{speaker} {{x}}"))
    assert rendered == "{speaker} {{x}}"


def talk(**seminar: str) -> Action:
    occ = Occurrence(
        key=OccurrenceKey("u1"),
        start=datetime(2026, 11, 3, 15, 45, tzinfo=UTC),
        end=datetime(2026, 11, 3, 16, 45, tzinfo=UTC),
        timezone="America/New_York",
        summary=seminar.get("title", "Raw summary"),
        location="Room 101",
        seminar=SeminarDetails(**seminar),
    )
    return Action(kind=ActionKind.ANNOUNCE, feed="cs", occurrence=occ)


def fmt(occ: Occurrence) -> str:
    return "when"


def test_without_templates_the_card_is_unchanged() -> None:
    action = talk(title="Proofs", speaker="Ada", series="Theory", abstract="About it.")
    assert build_card(action, fmt) == build_card(action, fmt, templates=None)
    assert build_card(action, fmt).title == action.occurrence.title


def test_the_title_and_lead_templates_shape_the_card() -> None:
    templates = CardTemplates.from_sources(TALK, "{date}, {time} in {place}")
    action = talk(title="Proofs", speaker="Ada", affiliation="MIT", series="Theory", abstract="A.")
    card = build_card(action, fmt, templates=templates, zone="UTC")
    assert card.title == "Theory: Ada (MIT) — Proofs"
    assert card.description == "Tue 3 Nov, 10:45 in Room 101\n\nA."


def test_a_cancelled_card_keeps_its_prefix_before_the_template() -> None:
    templates = CardTemplates.from_sources("{speaker}: {title}", "")
    action = talk(title="Proofs", speaker="Ada")
    cancel = Action(kind=ActionKind.CANCEL, feed="cs", occurrence=action.occurrence)
    assert build_card(cancel, fmt, templates=templates).title == "❌ Cancelled: Ada: Proofs"


def test_a_title_template_with_nothing_to_fill_falls_back_to_the_event_title() -> None:
    templates = CardTemplates.from_sources("{series} · {speaker}", "{affiliation}")
    card = build_card(talk(title="Proofs"), fmt, templates=templates)
    assert card.title == "Proofs" and card.description == ""


def test_which_template_is_wrong_is_named() -> None:
    with pytest.raises(TemplateError, match=re.escape("lead template: unknown field {who}")):
        CardTemplates.from_sources("{title}", "{who}")


field_names = st.sampled_from(sorted(FIELDS))
pieces = st.lists(
    st.one_of(
        field_names.map(lambda n: "{" + n + "}"),
        st.text(alphabet=" :—()-@<&#*_", max_size=4),
        st.sampled_from(["@everyone", "@here", "<@&123456789012345678>"]),
    ),
    min_size=1,
    max_size=12,
)
feed_text = st.text(max_size=300)


@given(pieces, st.dictionaries(field_names, feed_text))
def test_rendered_lines_keep_their_limits_and_one_line(
    parts: list[str], given: dict[str, str]
) -> None:
    source = "".join(parts)
    try:
        templates = CardTemplates.from_sources(source, source)
    except TemplateError:
        return
    title = templates.render_title(values(**given), "Default")
    lead = templates.render_lead(values(**given))
    assert 0 < len(title) <= TITLE_LIMIT and len(lead) <= LEAD_LIMIT
    assert "\n" not in title and "\n" not in lead
    if not any("@" in value for value in given.values()):
        for line in (title, lead):
            assert "@everyone" not in line and "@here" not in line and "<@" not in line


@given(st.text(max_size=60))
def test_any_text_is_parsed_or_refused_never_crashes(source: str) -> None:
    try:
        template = parse_template(source)
    except TemplateError:
        return
    assert set(template.fields) <= set(FIELDS)
    assert render(template, {}) == ""
