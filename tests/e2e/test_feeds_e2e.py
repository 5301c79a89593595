"""Feeds end to end: a book's front-matter feed shows up at /updates after a manual refresh."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.feeds.servers import FeedServer
from tests.pipeline_support import create_book, follow, http_json, upload
from tests.support import AppHost, http, local_site


@pytest.fixture(scope="module")
def local_feeds_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppHost, FeedServer]]:
    """The app as `make run` would run it for local feed testing: FEEDS_ALLOW_PRIVATE_ADDRESSES=true."""
    with local_site(tmp_path_factory.mktemp("feeds")) as running:
        yield running


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return http("GET", url, headers=headers)


def test_front_matter_feed_appears_in_updates_after_refresh(local_feeds_app: tuple[AppHost, FeedServer]) -> None:
    host, server = local_feeds_app
    manuscript = (
        f"---\ntitle: Feed Book\nfeeds:\n  - {server.url('/rss')}\n  - {server.url('/json')}\n---\n# One\n\nText.\n"
    )
    book = upload(host.base_url, manuscript.encode(), "book.md")
    assert follow(host.base_url, book, timeout=60)["status"] == "succeeded"
    status, listing = http_json("GET", f"{host.base_url}/api/books/{book}/feeds")
    assert status == 200 and sorted(f["url"] for f in listing["feeds"]) == sorted(
        [server.url("/rss"), server.url("/json")]
    )

    status, empty = http_json("GET", f"{host.base_url}/api/books/{book}/updates")
    assert status == 200 and empty["items"] == []
    assert http_json("POST", f"{host.base_url}/admin/functions/refresh", b'{"input": ""}')[0] == 202

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, headers, body = get(f"{host.base_url}/api/books/{book}/updates")
        if json.loads(body)["items"]:
            break
        time.sleep(0.2)
    items = json.loads(body)["items"]
    assert {i["title"] for i in items} >= {"Signed copies", "Launch party", "Errata"}
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert get(f"{host.base_url}/api/books/{book}/updates", {"If-None-Match": headers["ETag"]})[0] == 304
    status, listing = http_json("GET", f"{host.base_url}/api/books/{book}/feeds")
    assert status == 200 and listing["feeds"], listing  # no feed listed would pass the check below
    assert all(f["last_status"] == "ok" and f["etag"] for f in listing["feeds"])


def test_feed_list_can_be_replaced_and_bad_urls_are_refused(local_feeds_app: tuple[AppHost, FeedServer]) -> None:
    host, server = local_feeds_app
    book, owner_key = create_book(host.base_url, b"# One\n\nText.\n", "book.md")
    follow(host.base_url, book, timeout=60)
    url = f"{host.base_url}/api/books/{book}/feeds"
    key = {"Authorization": f"Bearer {owner_key}"}
    wanted = json.dumps({"feeds": [server.url("/atom")]}).encode()
    # Only the owner key changes a book's feeds: without it, or with another, nothing changes.
    status, problem = http_json("PUT", url, wanted)
    assert status == 401 and "owner key" in problem["detail"], problem
    # A malformed Authorization is 401 "Owner key required"; another key, 403 "Wrong owner key".
    refusals = {
        f"Bearer {owner_key}x": (403, "Wrong owner key"),
        "Bearer": (401, "Owner key required"),
        f"Basic {owner_key}": (401, "Owner key required"),
        f"Bearer {owner_key} {owner_key}": (401, "Owner key required"),
    }
    for wrong, (code, title) in refusals.items():
        status, problem = http_json("PUT", url, wanted, {"Authorization": wrong})
        assert (status, problem["title"]) == (code, title), (wrong, problem)
    assert http_json("GET", url)[1]["feeds"] == []
    for bad, reason in (
        ("file:///etc/passwd", "only http and https"),
        ("https://u:p@example.com/f", "user name"),
        ("https://example.com/my feed.xml", "contains spaces"),
        ("https://example.com/\u202efeed", "control characters"),
    ):
        status, problem = http_json(
            "PUT", url, json.dumps({"feeds": [bad]}).encode(), {"Content-Type": "application/json", **key}
        )
        assert status == 400 and reason in problem["detail"], problem
        assert problem["detail"].startswith("This feed list was not accepted:")
    assert http_json("PUT", url, b"not json", key)[0] == 400
    status, listing = http_json("PUT", url, wanted, key)
    assert status == 200 and [f["url"] for f in listing["feeds"]] == [server.url("/atom")]
    # A subscriber's token in a feed's address is the owner's to see, not every reader's.
    private = server.url("/atom") + "?token=SUBSCRIBER-SECRET"
    assert http_json("PUT", url, json.dumps({"feeds": [private]}).encode(), key)[0] == 200
    status, listing = http_json("GET", url)
    assert status == 200 and [f["url"] for f in listing["feeds"]] == [server.url("/atom") + "?…"]
    assert "SUBSCRIBER-SECRET" not in json.dumps(listing)
    assert [f["url"] for f in http_json("GET", url, None, key)[1]["feeds"]] == [private]
    status, problem = http_json("GET", url, None, {"Authorization": f"Bearer {owner_key}x"})
    assert (status, problem["title"]) == (403, "Wrong owner key")
    status, listing = http_json("PUT", url, json.dumps({"feeds": []}).encode(), key)
    assert listing["feeds"] == []
    assert http_json("GET", f"{host.base_url}/api/books/{'Z' * 22}/feeds")[0] == 404


def test_private_addresses_are_refused_when_not_allowed(app: AppHost) -> None:
    """The session's app runs with the default FEEDS_ALLOW_PRIVATE_ADDRESSES=false."""
    book, owner_key = create_book(app.base_url, b"# One\n\nText.\n", "book.md")
    follow(app.base_url, book, timeout=60)
    for url, reason in (
        ("http://127.0.0.1/feed", "not a public internet address"),
        ("http://169.254.169.254/latest", "reserved or cloud-internal"),
        ("http://example.com:8080/feed", "only ports 80 and 443"),
    ):
        status, problem = http_json(
            "PUT",
            f"{app.base_url}/api/books/{book}/feeds",
            json.dumps({"feeds": [url]}).encode(),
            {"Authorization": f"Bearer {owner_key}"},
        )
        assert status == 400 and reason in problem["detail"], problem
