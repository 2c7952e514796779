"""Seminar fields survive the JSON round trip, and rows stored before the new fields still load."""

from __future__ import annotations

from bot.core.models import SeminarDetails


def test_new_fields_round_trip() -> None:
    details = SeminarDetails(
        speaker="Ada Quill and Bo Tran",
        speakers=("Ada Quill", "Bo Tran"),
        title="Graphs",
        online_url="https://zoom.us/j/123",
        rules=(("speaker", "tec.summary.series_name_aff_title"), ("title", "label.title")),
    )
    data = details.to_dict()
    assert data["speakers"] == ["Ada Quill", "Bo Tran"]
    assert data["rules"] == {"speaker": "tec.summary.series_name_aff_title", "title": "label.title"}
    assert SeminarDetails.from_dict(data) == details
    assert details.rule_for("title") == "label.title"
    assert details.rule_for("series") == ""


def test_rows_stored_before_the_new_fields_still_load() -> None:
    old_row = {"series": "CS Seminar", "speaker": "Ada Quill", "title": "Graphs"}
    details = SeminarDetails.from_dict(old_row)
    assert details.speaker == "Ada Quill"
    assert details.speakers == ()
    assert details.online_url == ""
    assert details.rules == ()
    assert details.to_dict() == old_row


def test_empty_details_store_nothing() -> None:
    assert SeminarDetails().to_dict() == {}
