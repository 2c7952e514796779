"""Feed text is made display-safe exactly once, at parse time."""

from __future__ import annotations

from bot.core.text import clean_line, clean_text, clean_url, looks_like_html


def test_controls_bidi_and_zero_width_are_removed_but_newlines_kept() -> None:
    raw = "a\x00b\x07c\u202eevil\u2066x\u2069\u200bz\ufeff\nnext\x85line"
    assert clean_text(raw, 100) == "abcevilxz\nnextline"


def test_wordpress_entities_are_decoded() -> None:
    assert clean_line("Smokin&#039; BBQ &amp; Bloor", 100) == "Smokin' BBQ & Bloor"


def test_html_descriptions_become_text_with_line_breaks() -> None:
    raw = "<p>Hello&nbsp;<b>world</b></p><p>Line two<br>Line three</p><script>x()</script>"
    assert looks_like_html(raw)
    assert clean_text(raw, 200) == "Hello world\n\nLine two\nLine three"


def test_prose_with_angle_brackets_is_not_treated_as_html() -> None:
    assert not looks_like_html("if a < b and c > d")
    assert clean_text("if a < b and c > d", 100) == "if a < b and c > d"


def test_blank_line_runs_collapse_and_text_is_trimmed() -> None:
    assert clean_text("\n\n  one  \n\n\n\n two\n\n", 100) == "one\n\n two"


def test_length_cap_marks_the_cut_with_an_ellipsis() -> None:
    out = clean_text("x" * 5000, 4000)
    assert len(out) == 4000
    assert out.endswith("…")
    assert clean_text("short", 4000) == "short"


def test_single_line_text_collapses_whitespace() -> None:
    assert clean_line("  a\n b\t c  ", 50) == "a b c"


def test_only_http_urls_survive() -> None:
    assert clean_url("https://example.org/x?y=1") == "https://example.org/x?y=1"
    assert clean_url("javascript:alert(1)") == ""
    assert clean_url("mailto:a@b.c") == ""
    assert clean_url("https://example.org/" + "a" * 3000) == ""


def test_emoji_and_non_ascii_are_kept() -> None:
    assert clean_line("Café 🎉 Zürich", 50) == "Café 🎉 Zürich"
