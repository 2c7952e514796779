"""Address classification and feed-URL validation (fault matrix rows 14, 16, 17)."""

from __future__ import annotations

import ipaddress

import pytest

from bot.core.addresses import (
    check_address,
    classify_address,
    normalize_feed_url,
    parse_numeric_ipv4,
    redact_url,
)
from bot.errors import ForbiddenAddress, InvalidFeedURL
from tests.feeds.address_cases import ADDRESS_CASES


def test_table_is_large_and_mixed() -> None:
    assert len(ADDRESS_CASES) >= 60
    assert any(ok for _, ok, _ in ADDRESS_CASES)
    assert any(not ok for _, ok, _ in ADDRESS_CASES)


@pytest.mark.parametrize(("address", "allowed", "why"), ADDRESS_CASES)
def test_classifier_table(address: str, allowed: bool, why: str) -> None:
    verdict = classify_address(address)
    assert verdict.allowed is allowed, verdict
    if allowed:
        assert verdict.reason == ""
        assert check_address(address) == ipaddress.ip_address(address)
    else:
        assert why.lower() in verdict.reason.lower()
        with pytest.raises(ForbiddenAddress, match="will not fetch"):
            check_address(address)


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("2002:7f00:1::", "127.0.0.1"),
        ("::127.0.0.1", "127.0.0.1"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
    ],
)
def test_reason_names_the_embedded_ipv4(address: str, embedded: str) -> None:
    verdict = classify_address(address)
    assert str(verdict.embedded) == embedded
    assert embedded in verdict.reason


def test_scoped_ipv6_is_refused() -> None:
    assert not classify_address("fe80::1%eth0").allowed


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("134744072", "8.8.8.8"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_numeric_ipv4_spellings(host: str, expected: str) -> None:
    assert str(parse_numeric_ipv4(host)) == expected


@pytest.mark.parametrize("host", ["example.org", "calendar.google.com", "1.example", "x1"])
def test_names_are_not_numeric(host: str) -> None:
    assert parse_numeric_ipv4(host) is None


@pytest.mark.parametrize("host", ["4294967296", "1.2.3.4.5", "08.1", "256.1.1.1", "1..2", "a.1"])
def test_bad_numeric_hosts_raise(host: str) -> None:
    with pytest.raises(ValueError):
        parse_numeric_ipv4(host)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.ORG/cal.ics", "https://example.org/cal.ics"),
        ("  https://example.org/cal.ics  ", "https://example.org/cal.ics"),
        ("http://example.org", "http://example.org/"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a?x=1#frag", "https://example.org/a?x=1"),
        ("http://example.org:443/a", "http://example.org:443/a"),
        ("webcal://example.org/c.ics", "https://example.org/c.ics"),
        ("WEBCALS://example.org/c.ics", "https://example.org/c.ics"),
        ("https://bücher.example/ü", "https://xn--bcher-kva.example/%C3%BC"),
        (
            "https://calendar.google.com/calendar/ical/a%40group.calendar.google.com/public/basic.ics",
            "https://calendar.google.com/calendar/ical/a%40group.calendar.google.com/public/basic.ics",
        ),
        ("http://8.8.8.8/cal", "http://8.8.8.8/cal"),
        ("http://134744072/cal", "http://8.8.8.8/cal"),
        ("http://[2606:4700:4700:0::1111]/", "http://[2606:4700:4700::1111]/"),
    ],
)
def test_normalize_accepts(url: str, expected: str) -> None:
    assert normalize_feed_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://127.1/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::]/",
        "http://[fd00:ec2::254]/",
        "http://10.0.0.1/",
        "http://localhost/cal.ics",
        "http://evil.localhost/cal.ics",
        "http://１２７.０.０.１/",
    ],
)
def test_normalize_refuses_forbidden_literals(url: str) -> None:
    with pytest.raises(ForbiddenAddress) as info:
        normalize_feed_url(url)
    assert "public calendar link" in info.value.message
    assert info.value.reason == "forbidden_address"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "not file://"),
        ("ftp://example.org/cal.ics", "not ftp://"),
        ("gopher://example.org:70/", "not gopher://"),
        ("javascript:alert(1)", "must start with"),
        ("example.org/cal.ics", "must start with"),
        ("http://example.org:22/", "port 80 or 443, not 22"),
        ("https://example.org:8443/", "not 8443"),
        ("http://user:pass@example.org/", "user name or password"),
        ("http://user@example.org/", "user name or password"),
        ("http://example.org:99999/", "not valid"),
        ("http://example.org:x/", "not valid"),
        ("http:///cal.ics", "no host"),
        ("http://example.org./", "end with a dot"),
        ("http://exa mple.org/", "spaces"),
        ("http://example.org/\x00", "control"),
        ("http://ex_ample!.org/", "not a valid domain"),
        ("http://a..b/", "not a valid domain"),
        ("http://[::1/", "malformed"),
        ("http://[zz::1]/", "malformed"),
        ("http://256.1.1.1/", "numeric address"),
        ("", "empty"),
        ("https://example.org/" + "a" * 2100, "longer than 2048"),
    ],
)
def test_normalize_rejects_bad_links(url: str, words: str) -> None:
    with pytest.raises(InvalidFeedURL) as info:
        normalize_feed_url(url)
    assert words in info.value.message
    assert info.value.reason == "invalid_url"


def test_operator_can_allow_other_ports() -> None:
    assert normalize_feed_url("https://example.org:8443/x", allowed_ports={443, 8443}) == (
        "https://example.org:8443/x"
    )
    assert normalize_feed_url("http://example.org:8080/", allowed_ports=None).endswith(":8080/")


def test_redact_url_hides_secrets() -> None:
    text = redact_url("https://u:p@calendar.google.com:8443/private-abc123/basic.ics?token=zz")
    assert text == "https://calendar.google.com:8443/…"
    assert "abc123" not in text and "p@" not in text
