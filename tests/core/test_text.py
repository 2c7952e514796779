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


# --- inert: feed text shown literally in Discord ----------------------------------------------

import re  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bot.core.text import inert  # noqa: E402

#: Discord's masked link, as its markdown parser reads it: "[" text "](" target ")".
MASKED_LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?[^\s)]*")
#: One escape pair ("\" + any symbol) is shown as that symbol, never parsed as syntax.
ESCAPE_PAIR = re.compile(r"\\([^0-9A-Za-z\s])")


def live_links(text: str) -> list[str]:
    """Masked links Discord would render: look at the text with escape pairs set aside."""
    unescaped = ESCAPE_PAIR.sub("\x00", text)  # an escaped character can start nothing
    return MASKED_LINK.findall(unescaped)


def test_every_masked_link_on_a_line_is_made_inert() -> None:
    text = inert("[a](https://ok) and [Join on Zoom](https://phish.example/login)")
    assert "](" not in text
    assert live_links(text) == []
    assert "Join on Zoom" in text and "https://phish.example/login" in text


def test_nested_escaped_and_angle_bracket_links_are_inert() -> None:
    for raw in (
        "[[a](https://x)](https://phish)",
        "\\[a\\](https://phish)",
        "[Zoom](<https://phish.example>)",
        "[a]https://x.org/a](https://phish)",
        "see [x]\n(https://phish) and [y] (https://z)",
        "](https://phish) [",
    ):
        out = inert(raw)
        assert "](" not in out, raw
        assert live_links(out) == [], raw


def test_plain_addresses_stay_clickable_and_unaltered() -> None:
    url = "https://zoom.us/j/123_456?pwd=a*b*c"
    assert inert(f"Join: {url} now") == f"Join: {url} now"


def test_pings_block_syntax_and_formatting_are_neutralised() -> None:
    out = inert("@everyone <@123> <t:1:R> **b** a_b_ `c`\n# Head\n-# small\n> quote\n1. one")
    assert "@everyone" not in out and "<@" not in out and "<t:" not in out
    assert "**" not in out and "\\_" in out and "\\`c\\`" in out
    assert out.splitlines()[1:] == ["\\# Head", "\\-# small", "\\> quote", "1\\. one"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    "[",
                    "]",
                    "(",
                    ")",
                    "\\",
                    "<",
                    ">",
                    "](",
                    "[x](",
                    "https://a.b/",
                    " ",
                    "\n",
                    "*",
                    "_",
                    "http://",
                    "Join on Zoom",
                    "@",
                    "#",
                ]
            ),
            st.text(max_size=4),
        ),
        max_size=40,
    ).map("".join)
)
def test_after_inert_no_masked_link_survives(raw: str) -> None:
    out = inert(raw)
    assert "](" not in out
    assert live_links(out) == []
