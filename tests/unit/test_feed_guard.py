"""The SSRF guard's pure checks: no network."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from shared.feeds.guard import BlockedURL, check_url, literal_address


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # decimal
        ("0x7f.1", "127.0.0.1"),  # hex, short form
        ("0X7F.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),  # octal
        ("127.1", "127.0.0.1"),
        ("010.0.0.1", "8.0.0.1"),  # a leading zero is octal to a resolver
        ("[::1]", "::1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("fe80::1%eth0", "fe80::1%eth0"),  # a zone: letters, but a colon too
    ],
)
def test_every_literal_form_is_read_as_its_address(host: str, address: str) -> None:
    assert literal_address(host) == ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "cafe.be", "deadbeef", "face.b00c", "a-b.example", "xn--bcher-kva.de"])
def test_names_are_not_literals(host: str) -> None:
    """Names with only hex letters go the long way (and still are names); others are told at once."""
    assert literal_address(host) is None


@pytest.mark.parametrize(
    "url",
    ["https://@example.com/feed", "https://user@example.com/feed", "https://:pw@example.com/feed"],
)
def test_any_user_information_is_refused(url: str) -> None:
    with pytest.raises(BlockedURL, match="user name or password"):
        check_url(url)


def test_a_checked_url_comes_back_stripped() -> None:
    assert check_url("  https://example.com/feed  ") == "https://example.com/feed"
    with pytest.raises(BlockedURL, match="not 8080"):
        check_url("https://example.com:8080/feed")
    assert check_url("http://127.0.0.1:8080/feed", True) == "http://127.0.0.1:8080/feed"
