"""The seminar rules by layout: what a reader of each house style would call each field."""

from __future__ import annotations

import pytest

from bot.core.seminar import FeedPattern, extract_seminar
from bot.core.seminar.feed_pattern import FeedPatternError, compile_pattern


@pytest.mark.parametrize(
    ("summary", "description", "speakers", "affiliation", "title", "rule"),
    [
        ("Seminar", "Speaker: Ada Quill (Fernhill University)\nTitle: Counting Curves",
         ("Ada Quill",), "Fernhill University", "Counting Curves", "label.speaker.speaker"),
        ("Kolloquium", "Referent: Prof. Dr. Karl Berg (TU Talheim)\nTitel: Gitter",
         ("Karl Berg",), "TU Talheim", "Gitter", "label.speaker.referent"),
        ("Séminaire", "Orateur : Claire Dubois (Université de Valmont)\nTitre : Surfaces",
         ("Claire Dubois",), "Université de Valmont", "Surfaces", "label.speaker.orateur"),
        ("Seminario", "Ponente: Dra. María Salazar (Universidad del Valle)\nTítulo: Ondas",
         ("María Salazar",), "Universidad del Valle", "Ondas", "label.speaker.ponente"),
        ("Graph Limits (Ada Quill, Fernhill University)", "", ("Ada Quill",),
         "Fernhill University", "Graph Limits", "summary.title_paren_who"),
        ("Ada Quill (Fernhill University): Graph Limits", "", ("Ada Quill",),
         "Fernhill University", "Graph Limits", "summary.who_colon_title"),
        ("Graph Limits – Ada Quill, Westvale Polytechnic", "", ("Ada Quill",),
         "Westvale Polytechnic", "Graph Limits", "summary.title_dash_who"),
        ("Colloquium: Ada Quill – “Graph Limits”", "", ("Ada Quill",), "", "Graph Limits",
         "tec.summary.series_name_aff_title"),
        ("CS Seminar: Alan Turing, University of Manchester – “Computable numbers”", "",
         ("Alan Turing",), "University of Manchester", "Computable numbers",
         "tec.summary.series_name_aff_title"),
        ("Daniel Okoro, Lin Feng — Axions", "", ("Daniel Okoro", "Lin Feng"), "", "Axions",
         "summary.names_emdash_title"),
        ("Topology in Materials", "Prof. Dr. Helga Strauss (Universität Nordmark)\n\nInsulators.",
         ("Helga Strauss",), "Universität Nordmark", "Topology in Materials",
         "desc.first_line_who"),
        ("Jets", "Speakers: Ana Ruiz (Valle University) and Omar Haddad (Crestwood College)",
         ("Ana Ruiz", "Omar Haddad"), "Valle University; Crestwood College", "Jets",
         "label.speaker.speakers"),
        ("Talk", "Speaker: Prof. Ada Quill of Fernhill University", ("Ada Quill",),
         "Fernhill University", "", "label.speaker.speaker"),
        ("Talk", "Guest speaker: Ada Quill from the Fernhill Institute", ("Ada Quill",),
         "Fernhill Institute", "", "label.speaker.guest_speaker"),
        ("Waves", "Speaker: Prof. Ada Quill\nFernhill Marine Station\n\nWaves break.",
         ("Ada Quill",), "Fernhill Marine Station", "Waves", "label.speaker.speaker"),
        ("Chemistry Seminar — Ada Quill (Fernhill University): Catalysis", "", ("Ada Quill",),
         "Fernhill University", "Catalysis", "summary.series_dash_who_colon_title"),
        ("Glacial Lakes and Flood Risk - Dr Ada Quill (Fernhill University)", "",
         ("Ada Quill",), "Fernhill University", "Glacial Lakes and Flood Risk",
         "summary.title_dash_who"),
        ("Topology Seminar", "Knots in Four Dimensions\nAda Quill, Fernhill University\n\nAbstract: Knots.",
         ("Ada Quill",), "Fernhill University", "Knots in Four Dimensions", "desc.title_then_who"),
        ("Talk Title: Robust Learning", "Speaker: Ada Quill (Fernhill University)",
         ("Ada Quill",), "Fernhill University", "Robust Learning", "label.speaker.speaker"),
    ],
)  # fmt: skip
def test_layouts(
    summary: str, description: str, speakers: tuple[str, ...], affiliation: str, title: str,
    rule: str,
) -> None:  # fmt: skip
    details = extract_seminar(summary, description, "")
    assert details.speakers == speakers
    assert details.affiliation == affiliation
    assert details.title == title
    assert details.rule_for("speaker") == rule


@pytest.mark.parametrize(
    "summary",
    ["Faculty Meeting", "Spring Break", "Reading Week – No Classes", "Office Hours",
     "Application Deadline", "Phone Free Fun", "Hush Hush: Improv Comedy Based on Your Secrets",
     "Workshop: Ancient Political Thought", "Pollyanna Brewing Company - Roselle",
     "Seminar cancelled: Protein Folding Kinetics",
     "One Light - Gala Honoring Ann Lee, Jo & Al Roe"],
)  # fmt: skip
def test_events_that_are_not_talks_get_no_speaker(summary: str) -> None:
    details = extract_seminar(summary, "Speaker: Ada Quill" if "Meeting" in summary else "", "")
    assert details.speaker == "" and details.speakers == ()


def test_numbered_speakers_a_series_only_summary_and_a_quoted_title_by_a_name() -> None:
    two = extract_seminar("Seminar", "Speaker 1: Ada Quill (MIT)\nSpeaker 2: Bo Tran (ETH)", "")
    assert (two.speakers, two.affiliation, two.series, two.title) == (
        ("Ada Quill", "Bo Tran"), "MIT; ETH", "Seminar", ""
    )  # fmt: skip
    quoted = extract_seminar('Talk: "Minors" by Ada Quill', "", "")
    assert (quoted.speakers, quoted.title, quoted.series) == (("Ada Quill",), "Minors", "Talk")
    assert extract_seminar("Seminar", "Speaker: TBA", "").speaker == ""
    assert extract_seminar("Seminar: TBA", "", "").title == "TBA"


def test_the_sample_layout_takes_its_speaker_as_written() -> None:
    details = extract_seminar("CS Seminar: Speaker 3, University of London – “Talk 3”", "", "")
    assert (details.speaker, details.affiliation, details.title) == (
        "Speaker 3", "University of London", "Talk 3"
    )  # fmt: skip


def test_html_description_and_online_place() -> None:
    details = extract_seminar(
        "Learning Dynamics",
        "",
        "https://us02web.zoom.us/j/812?pwd=x",
        html_description="<p><strong>Speaker</strong></p><p>Keiko Arai (Northgate Institute)</p>",
    )
    assert details.speakers == ("Keiko Arai",)
    assert details.online_url == "https://us02web.zoom.us/j/812?pwd=x"
    assert details.rule_for("online_url") == "online.link"


def test_rooms_are_cleaned_of_producer_phrasing() -> None:
    held = extract_seminar("A (B)", "", "Lecture held in MR 2.")
    assert (held.location, held.rule_for("location")) == ("MR 2", "location.held_in")
    teams = extract_seminar(
        "Talk",
        "Join: https://teams.microsoft.com/l/meetup-join/1",
        "Room 5; Microsoft Teams Meeting",
    )
    assert teams.location == "Room 5"
    assert teams.online_url == "https://teams.microsoft.com/l/meetup-join/1"


def test_the_feed_pattern_comes_first_and_says_so() -> None:
    pattern = FeedPattern(
        summary=r"^(?P<title>.+?) \| (?P<speaker>[^(]+?) \((?P<affiliation>[^)]+)\)$"
    )
    details = extract_seminar("Graph Limits | Ada Quill (Fernhill)", "", "", pattern=pattern)
    assert (details.title, details.speaker, details.affiliation) == (
        "Graph Limits", "Ada Quill", "Fernhill"
    )  # fmt: skip
    assert {details.rule_for(f) for f in ("title", "speaker", "affiliation")} == {"feed.pattern"}
    description = FeedPattern(description=r"^Vortrag von (?P<speaker>.+)$")
    assert extract_seminar("X", "Vortrag von Karl Berg", "", pattern=description).speaker == (
        "Karl Berg"
    )


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(?P<speaker>", "not a valid regular expression"),
        ("(?P<who>.+)", "unknown group name(s) who"),
        ("Speaker: .+", "no named group"),
        ("(a+)+(?P<title>x)", "repeats a group that itself repeats"),
        ("(?P<title>" + "x" * 400 + ")", "keep it under 300"),
    ],
)
def test_bad_feed_patterns_are_refused_with_a_reason(pattern: str, message: str) -> None:
    with pytest.raises(FeedPatternError) as info:
        compile_pattern(pattern)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("summary", "series", "title"),
    [("[Seminar] Free Probability", "Seminar", "Free Probability"),
     ("Forschungsseminar: Stabilität von Brücken", "Forschungsseminar", "Stabilität von Brücken")],
)  # fmt: skip
def test_bracketed_and_compound_series_labels(summary: str, series: str, title: str) -> None:
    details = extract_seminar(summary, "Speaker: Ada Quill (Fernhill University)", "")
    assert (details.series, details.title, details.speakers) == (series, title, ("Ada Quill",))


def test_a_room_held_in_the_body_is_the_place_when_location_is_empty() -> None:
    details = extract_seminar(
        "Ada Quill (Fernhill University)",
        "Title: Curves\nby Ada Quill (Fernhill University) as part of Algebra Seminar\n\n"
        "Lecture held in Hilbert Room.\n",
        "",
    )
    assert details.location == "Hilbert Room"
