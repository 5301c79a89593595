"""The SSRF guard's pure checks: no network."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from shared.feeds.guard import BlockedURL, check_url, checked_url, literal_address


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


def test_an_at_sign_past_the_host_is_no_user_information() -> None:
    for url in ("https://example.com/feed?author=@alice", "https://example.com/@alice/feed.xml"):
        assert check_url(url) == url


def test_a_checked_url_comes_back_stripped() -> None:
    assert check_url("  https://example.com/feed  ") == "https://example.com/feed"
    with pytest.raises(BlockedURL, match="not 8080"):
        check_url("https://example.com:8080/feed")
    assert check_url("http://127.0.0.1:8080/feed", True) == "http://127.0.0.1:8080/feed"


@pytest.mark.parametrize(
    ("url", "read_as"),
    [
        ("http://\u2460\u2461\u2466.0.0.1/feed", "127.0.0.1"),  # circled digits
        ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/feed", "127.0.0.1"),  # fullwidth digits
        ("http://169\u3002254\u3002169\u3002254/", "169.254.169.254"),  # ideographic full stops
        ("http://10\uff0e0\uff0e0\uff0e1/", "10.0.0.1"),  # fullwidth full stops
    ],
)
def test_a_host_is_checked_as_the_client_reads_it(url: str, read_as: str) -> None:
    """Another parser sees a name here; the client's IDNA mapping sees an address, and connects to
    it without asking a resolver. The guard reads the host as the client does."""
    with pytest.raises(BlockedURL, match="address"):
        check_url(url)
    assert checked_url(url, True).raw_host == read_as  # what the client would connect to


def test_an_international_name_is_requested_in_its_ascii_form() -> None:
    checked = checked_url("https://b\u00fccher.de/feed")
    assert (checked.raw_host, checked.port) == ("xn--bcher-kva.de", 443)
    assert check_url(" https://b\u00fccher.de/feed ") == "https://b\u00fccher.de/feed"  # stored as written
    for url in ("http://exa\\mple.com@127.0.0.1/", "http:///feed", "//example.com/feed", "http://a:99999/"):
        with pytest.raises(BlockedURL):
            check_url(url)
