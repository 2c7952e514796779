"""Preview explains what it understood and draws the cards the bot would send."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli import SAMPLE_NOW, SAMPLE_PATH, main


def test_text_preview_lists_the_fields_found(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview"]) == 0
    out = capsys.readouterr().out
    (read,) = [line for line in out.splitlines() if line.startswith("  Read:")]
    for name in ("speakers", "affiliation", "title", "series", "location"):
        assert name in read
    assert "Missing: online_url" in out


def test_json_preview_says_what_was_read_and_by_which_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["preview", "--json"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    action = json.loads(line)
    assert action["speakers"] == ["Michael Mahoney"]
    assert action["affiliation"].startswith("ICSI and Department of Statistics")
    assert action["title"].startswith("Why Deep Learning Works")
    assert action["series"] == "CS Seminar"
    assert action["location"] == "Hackerman Hall B-17"
    assert action["online_url"] == ""
    assert set(action["rules"]) == {"speakers", "affiliation", "title", "series", "location"}
    assert all(isinstance(rule, str) for rule in action["rules"].values())


def test_an_empty_window_names_the_feeds_dates_and_a_now_to_try(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["preview", "--now", "2026-01-01T00:00Z"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "Tue 5 Nov 2019 to Tue 5 Nov 2019" in err
    suggested = re.search(r"--now (\S+)", err)
    assert suggested is not None
    # The suggestion works: as of then, the talk is announced.
    assert main(["preview", "--now", suggested.group(1)]) == 0
    assert "ANNOUNCE" in capsys.readouterr().out


def test_html_preview_draws_every_kind_of_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "cards.html"
    assert main(["preview", "--html", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    for anchor in ("announcement", "digest", "reminder", "rescheduled", "cancelled"):
        assert f'id="{anchor}"' in text
    assert "Why Deep Learning Works" in text and "Michael Mahoney" in text
    assert "Remind me" in text and "Remind me about" in text
    assert "Cancelled: Why Deep Learning Works" in text
    assert "<script" not in text and "ref " not in text
    # Self-contained: nothing is loaded from elsewhere.
    assert not re.search(r"""(src|@import|url\()\s*=?\s*["']?https?:""", text)
    assert "Wrote 7 card(s)" in capsys.readouterr().err


def test_html_preview_titles_cards_with_the_feeds_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[feeds]]\nname = "cs"\nurl = "{SAMPLE_PATH.as_posix()}"\nchannel_id = 1234\n'
        'title_template = "{series}: {speaker} — {title}"\n'
        'lead_template = "Hosted by {feed}"\n',
        encoding="utf-8",
    )
    page = tmp_path / "cards.html"
    args = ["preview", "--config", str(config), "--db", str(tmp_path / "p.db")]
    assert main([*args, "--now", SAMPLE_NOW.isoformat(), "--html", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    # The page shows the cards as delivery would send them, templates included.
    assert "CS Seminar: Michael Mahoney — Why Deep Learning Works" in text
    assert "Cancelled: CS Seminar: Michael Mahoney" in text
    assert "Hosted by cs" in text
    capsys.readouterr()
