"""Kills while publishing a new edition and while erasing a book: the book serves one whole edition
throughout, and an erasure finishes with nothing left. Each test has its own Azurite and supervised
stand-in host running the fault app (tests/chaos/faults.py)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from http import client as http_client
from pathlib import Path

import pytest

from tests import book_corpus as corpus
from tests.pipeline_support import (
    create_book,
    follow,
    golden,
    http_json,
    names_in_storage,
    no_work_left,
    publish_edition,
    published,
    storage_naming,
)
from tests.support import AppHost, Azurite, Supervisor, http, wait_for


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
    # Every answer a reader got while the edition was made: (status, body). Reads that found no
    # host at all (only while the whole host is down, killed on purpose) are counted apart and
    # never as served.
    answers: list[tuple[int, str]] = []
    unanswered = 0
    killed_host: AppHost | None = None
    deadline = time.monotonic() + 90

    def read() -> tuple[int, str] | None:
        url = f"{worker.host.base_url}/api/books/{book}/app/chapters/ch001.html"
        try:
            status, _, body = http("GET", url)
        except (OSError, http_client.HTTPException):  # refused or cut off: the host is down
            assert killed_host is not None, f"a read found no host while none was killed: {url}"
            return None
        return status, body.decode(errors="replace")

    def settled() -> bool:
        try:
            status = http_json("GET", f"{worker.host.base_url}/api/manuscripts/{second}")[1]
        except (OSError, http_client.HTTPException):
            assert killed_host is not None, "the host went away while none was killed"
            return False
        return isinstance(status, dict) and status.get("status") in ("succeeded", "failed")

    while True:
        assert time.monotonic() < deadline, f"no kill at {crash}, or the edition never ended: {Counter(answers)}"
        if marker.exists() and killed_host is None:
            # The step process was killed at the crash point; now the whole host goes too, as when
            # Azure recycles an instance mid-publish (the supervisor starts it again, on a new port).
            killed_host = worker.host
            os.kill(killed_host.process.pid, signal.SIGKILL)
        # Until the edition has succeeded, readers get edition 1 or edition 2, each whole.
        answer = read()
        if answer is None:
            unanswered += 1
            time.sleep(0.05)
            continue
        answers.append(answer)
        if killed_host is not None and worker.host is not killed_host and settled():
            break
    job = follow(worker.host.base_url, second, timeout=90)
    assert job["status"] == "succeeded", job
    expected = golden(data, "zip", job)
    assert published(storage_emulator.connection_string, second) == (expected.epub, expected.app_files)
    now = chapter_one(worker.host.base_url, book)
    assert now == expected.app_files["chapters/ch001.html"].decode() and now != first
    assert answers, "no reader was answered while the edition was made"
    wrong = [(status, body[:300]) for status, body in answers if status != 200 or body not in (first, now)]
    assert not wrong, f"{len(wrong)} of {len(answers)} answers were not one whole edition: {wrong[:3]}"
    assert worker.restarts == 1 and unanswered > 0, "the host was not killed and started again"
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
    assert names_in_storage(storage_emulator.connection_string, [book, second]) == {book, second}

    status, _ = http_json("DELETE", f"{base}/api/books/{book}", None, {"Authorization": f"Bearer {key}"})
    assert status == 202
    wait_for(marker.exists, 30, f"the kill at {crash}")
    wait_for(
        lambda: not storage_naming(storage_emulator.connection_string, [book, second]), 90, "the erasure to finish"
    )
    assert http_json("GET", f"{worker.host.base_url}/api/books/{book}")[0] == 410
