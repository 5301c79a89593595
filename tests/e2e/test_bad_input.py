"""Issue #34's attack, over real HTTP: hostile numbers, JSON and bearer tokens each answer a 4xx
problem (never a bare 500), and no credential the attack carried reaches the host's log."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.feeds.servers import FeedServer
from tests.pipeline_support import create_book, follow, http_json
from tests.support import AppHost, http, local_site

NOT_NUMBERS = ["%C2%B2", "%C2%B9", "%D9%A3", "1" * 5000, "-1", "1e3"]
DEEP_JSON = b"[" * 100_000
STRAY_BYTE = "\xe9"  # http.client sends a str header as Latin-1: this is the raw byte 0xE9


def manuscript() -> bytes:
    return b"---\ntitle: Attacked\n---\n# One\n\nText.\n\n# Two\n\nMore.\n"


def assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int, what: str) -> None:
    assert status == expected, (what, status, body[:300])
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert content_type.startswith("application/problem+json"), (what, content_type)
    assert json.loads(body)["status"] == expected, what


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def owner_routes(base: str, book: str, upload: str) -> list[tuple[str, str, bytes | None]]:
    """The six routes that need a book's owner key."""
    return [
        ("POST", f"{base}/api/books/{book}/editions?filename=a.md", manuscript()),
        ("POST", f"{base}/api/books/{book}/uploads", b'{"filename": "a.md", "size": 10}'),
        ("POST", f"{base}/api/uploads/{upload}", None),
        ("POST", f"{base}/api/books/{book}/owner-key", None),
        ("PUT", f"{base}/api/books/{book}/feeds", b'{"feeds": []}'),
        ("DELETE", f"{base}/api/books/{book}", None),
    ]


def ask_upload(base: str, body: bytes = b'{"filename": "a.md", "size": 10}') -> dict[str, object]:
    status, answer = http_json("POST", f"{base}/api/uploads", body, {"Content-Type": "application/json"})
    assert status == 201, answer
    return dict(answer)


def test_edition_numbers_that_are_not_numbers_answer_400(app: AppHost) -> None:
    base = app.base_url
    book, _ = create_book(base, manuscript(), "attacked.md")
    assert follow(base, book, timeout=60)["status"] == "succeeded"
    for path in ("book.epub", "book.pdf", "app/", "app/index.html", "app/chapters/ch001.html"):
        for edition in NOT_NUMBERS:
            status, headers, body = http("GET", f"{base}/api/books/{book}/{path}?edition={edition}")
            assert_problem(status, headers, body, 400, f"{path}?edition={edition[:10]}")
        assert http("GET", f"{base}/api/books/{book}/{path}?edition=1")[0] == 200
        assert http("GET", f"{base}/api/books/{book}/{path}?edition=9")[0] == 404


def test_deeply_nested_json_answers_400(app: AppHost) -> None:
    base = app.base_url
    book, key = create_book(base, manuscript(), "nested.md")
    json_type = {"Content-Type": "application/json"}
    for method, url, headers in (
        ("POST", f"{base}/api/uploads", json_type),
        ("POST", f"{base}/api/books/{book}/uploads", {**json_type, **bearer(key)}),
        ("PUT", f"{base}/api/books/{book}/feeds", {**json_type, **bearer(key)}),
    ):
        for body in (DEEP_JSON, b"[" * 1000 + b"]" * 1000, b'{"feeds": ' + b"[" * 50 + b"]" * 50 + b"}"):
            status, answer_headers, answer = http(method, url, body, headers)
            assert_problem(status, answer_headers, answer, 400, f"{method} {url} {body[:12]!r}")
            assert b"nests deeper" in answer or b"at most" in answer, answer


def test_a_bearer_token_with_a_stray_byte_answers_401_on_every_owner_route(app: AppHost) -> None:
    base = app.base_url
    book, key = create_book(base, manuscript(), "stray.md")
    upload = str(ask_upload(base)["id"])
    for method, url, body in owner_routes(base, book, upload):
        for token in (key + STRAY_BYTE, STRAY_BYTE + key, key[:20] + STRAY_BYTE + key[21:]):
            status, headers, answer = http(method, url, body, bearer(token))
            assert_problem(status, headers, answer, 401, f"{method} {url}")
            assert "WWW-Authenticate" in headers or "www-authenticate" in headers
    assert http_json("GET", f"{base}/api/books/{book}")[0] == 200  # nothing was changed, nor erased


@pytest.fixture(scope="module")
def feeds_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppHost, FeedServer]]:
    """A host that may fetch feeds on this machine (and so log their failures), as `make run` runs."""
    with local_site(tmp_path_factory.mktemp("attack")) as running:
        yield running


def test_no_credential_of_the_attack_reaches_the_log(feeds_site: tuple[AppHost, FeedServer]) -> None:
    host, server = feeds_site
    base = host.base_url
    book, key = create_book(base, manuscript(), "secret.md")
    handed = ask_upload(base)
    sas_url = str(dict(handed["upload"])["url"])  # type: ignore[call-overload]
    signature = sas_url.split("sig=", 1)[1].split("&", 1)[0]
    assert len(signature) > 10 and key.startswith("quire_owner_")
    # Owner keys where a log line shows what the client sent: bad bearer tokens on every owner
    # route, and another book's key as the name of an upload (logged when the upload is handed out).
    for method, url, body in owner_routes(base, book, str(handed["id"])):
        for token in (key + STRAY_BYTE, key + "x", f"{key} {key}"):
            status = http(method, url, body, bearer(token))[0]
            assert status in (401, 403), (method, url, status)
    ask_upload(base, json.dumps({"filename": f"{key}.md", "size": 10}).encode())
    # A subscriber's token in a feed's query, and the SAS URL itself as a feed: both fail to fetch,
    # and the refresher logs each failure.
    private_feed = server.url("/private.xml?token=SUBSCRIBER-SECRET")
    status, listing = http_json(
        "PUT", f"{base}/api/books/{book}/feeds", json.dumps({"feeds": [private_feed, sas_url]}).encode(), bearer(key)
    )
    assert status == 200, listing
    assert http_json("POST", f"{base}/admin/functions/refresh", b'{"input": ""}')[0] == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and host.log().count("failed (1 in a row)") < 2:
        time.sleep(0.2)
    log = host.log()
    assert log.count("failed (1 in a row)") >= 2, log[-3000:]  # the feed code did log both feeds
    assert "/private.xml?…" in log
    secrets = {
        "owner key": key.removeprefix("quire_owner_"),
        "SAS signature": signature,
        "SAS signature, decoded": urllib.parse.unquote(signature),
        "feed token": "SUBSCRIBER-SECRET",
    }
    leaked = [name for name, secret in secrets.items() if secret in log]
    assert leaked == [], leaked


def test_a_manuscripts_own_title_is_cleaned_wherever_it_is_shown(app: AppHost) -> None:
    base = app.base_url
    data = "---\ntitle: Tides\u202e fdp.exe\u2066\n---\n# One\n\nText.\n".encode()  # the characters themselves
    book, _ = create_book(base, data, "bidi.md")
    assert follow(base, book, timeout=60)["status"] == "succeeded"
    assert http_json("GET", f"{base}/api/books/{book}")[1]["title"] == "Tides fdp.exe"
    status, headers, _ = http("GET", f"{base}/api/books/{book}/book.epub")
    disposition = {k.lower(): v for k, v in headers.items()}["content-disposition"]
    assert status == 200 and "filename*=UTF-8''Tides%20fdp.exe.epub" in disposition, disposition
    index = http("GET", f"{base}/api/books/{book}/app/")[2].decode()
    assert "<title>Tides fdp.exe</title>" in index and "<h1>Tides fdp.exe</h1>" in index
