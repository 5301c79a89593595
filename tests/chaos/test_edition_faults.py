"""Kills while publishing a new edition and while erasing a book: the book serves one whole edition
throughout, and an erasure finishes with nothing left. Each test has its own Azurite and supervised
stand-in host running the fault app (tests/chaos/faults.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import book_corpus as corpus
from tests.pipeline_support import (
    create_book,
    follow,
    golden,
    http_json,
    no_work_left,
    publish_edition,
    published,
    storage_naming,
)
from tests.support import Azurite, Supervisor, http, wait_for


def chapter_one(base_url: str, book: str, query: str = "") -> str:
    status, _, body = http("GET", f"{base_url}/api/books/{book}/app/chapters/ch001.html{query}")
    assert status == 200, (status, body)
    return body.decode()


def manuscript(variant: int) -> bytes:
    return corpus.small_book_zip(variant)


@pytest.mark.parametrize(
    "crash", ["package:after_claim", "package:during_publish", "package:before_commit", "package:after_commit"]
)
def test_a_kill_while_publishing_an_edition_serves_one_whole_edition(
    crash: str, workers: Callable[..., Supervisor], storage_emulator: Azurite, tmp_path: Path
) -> None:
    marker = tmp_path / "crashed"
    marker.touch()  # no kill while edition 1 is made
    worker = workers(FAULT_CRASH_AT=crash, FAULT_ONCE_FILE=str(marker))
    book, key = create_book(worker.host.base_url, manuscript(1), "book.zip")
    assert follow(worker.host.base_url, book, timeout=90)["status"] == "succeeded"
    first = chapter_one(worker.host.base_url, book)

    marker.unlink()  # the next package step is killed once, at the crash point
    data = manuscript(2)
    second = publish_edition(worker.host.base_url, book, key, data, "book.zip")
    served = set()
    deadline = time.monotonic() + 90

    def settled() -> bool:
        status = http_json("GET", f"{worker.host.base_url}/api/manuscripts/{second}")[1]
        return marker.exists() and isinstance(status, dict) and status.get("status") in ("succeeded", "failed")

    while not settled():
        assert time.monotonic() < deadline, f"no kill at {crash}, or the edition never ended"
        # Until the edition has succeeded, readers get edition 1 or edition 2, each whole.
        with contextlib.suppress(AssertionError, OSError):  # the host may be restarting
            served.add(chapter_one(worker.host.base_url, book))
    job = follow(worker.host.base_url, second, timeout=90)
    assert job["status"] == "succeeded", job
    expected = golden(data, "zip", job)
    assert published(storage_emulator.connection_string, second) == (expected.epub, expected.app_files)
    now = chapter_one(worker.host.base_url, book)
    assert now == expected.app_files["chapters/ch001.html"].decode() and now != first
    assert served <= {first, now}, "a reader got a page of neither edition"
    assert http_json("GET", f"{worker.host.base_url}/api/books/{book}")[1]["published_edition"] == 2
    assert chapter_one(worker.host.base_url, book, "?edition=1") == first
    assert no_work_left(storage_emulator.connection_string, second)


@pytest.mark.parametrize("crash", ["erase:after_edition", "erase:after_tombstone"])
def test_a_kill_while_erasing_a_book_still_leaves_nothing(
    crash: str, workers: Callable[..., Supervisor], storage_emulator: Azurite, tmp_path: Path
) -> None:
    marker = tmp_path / "crashed"
    worker = workers(FAULT_CRASH_AT=crash, FAULT_ONCE_FILE=str(marker))
    base = worker.host.base_url
    book, key = create_book(base, manuscript(3), "book.zip")
    assert follow(base, book, timeout=90)["status"] == "succeeded"
    second = publish_edition(base, book, key, manuscript(4), "book.zip")
    assert follow(base, second, timeout=90)["status"] == "succeeded"
    assert storage_naming(storage_emulator.connection_string, [book, second])

    status, _ = http_json("DELETE", f"{base}/api/books/{book}", None, {"Authorization": f"Bearer {key}"})
    assert status == 202
    wait_for(marker.exists, 30, f"the kill at {crash}")
    wait_for(
        lambda: not storage_naming(storage_emulator.connection_string, [book, second]), 90, "the erasure to finish"
    )
    assert http_json("GET", f"{worker.host.base_url}/api/books/{book}")[0] == 410
