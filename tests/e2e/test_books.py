"""Books with editions through the running app: create, publish in place, keys, erasure to nothing."""

from __future__ import annotations

import io
import zipfile
from concurrent.futures import ThreadPoolExecutor

from azure.storage.blob import BlobServiceClient

from tests import book_corpus as corpus
from tests.pipeline_support import create_book, follow, http_json, names_in_storage, publish_edition, storage_naming
from tests.support import AppHost, Azurite, http, wait_for


def manuscript(words: str) -> bytes:
    return f"---\ntitle: Tides\n---\n# One\n\n{words} in the first chapter.\n\n# Two\n\nMore.\n".encode()


def chapter_one(base_url: str, book: str, query: str = "") -> str:
    status, _, body = http("GET", f"{base_url}/api/books/{book}/app/chapters/ch001.html{query}")
    assert status == 200, body
    return body.decode()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_book_publishes_editions_in_place_and_erases_to_nothing(app: AppHost, azurite: Azurite) -> None:
    base = app.base_url
    book, key = create_book(base, manuscript("Harbour lights"), "tides.md")
    assert follow(base, book, timeout=60)["status"] == "succeeded"
    status, record = http_json("GET", f"{base}/api/books/{book}")
    assert status == 200 and record["published_edition"] == 1 and record["title"] == "Tides"
    assert "Harbour lights" in chapter_one(base, book)

    second = publish_edition(base, book, key, manuscript("Morning fog"), "tides.md")
    edition = follow(base, second, timeout=60)
    assert edition["status"] == "succeeded" and edition["edition"] == 2 and edition["book"] == book
    assert http_json("GET", f"{base}/api/books/{book}")[1]["published_edition"] == 2
    # The same addresses now serve edition 2, whole; edition 1 is still kept for readers moving on.
    assert "Morning fog" in chapter_one(base, book) and "Harbour lights" not in chapter_one(base, book)
    assert "Harbour lights" in chapter_one(base, book, "?edition=1")
    status, _, epub = http("GET", f"{base}/api/books/{book}/book.epub")
    with zipfile.ZipFile(io.BytesIO(epub)) as archive:
        assert "Morning fog" in archive.read("OEBPS/text/ch001.xhtml").decode()
    assert http("GET", f"{base}/api/books/{book}/app/index.html?edition=3")[0] == 404

    # An edition that fails leaves the published one in place.
    broken = publish_edition(base, book, key, b"\n\n   \n", "tides.md")
    assert follow(base, broken, timeout=60)["status"] == "failed"
    assert http_json("GET", f"{base}/api/books/{book}")[1]["published_edition"] == 2
    assert "Morning fog" in chapter_one(base, book)

    ids = [book, second, broken]
    assert names_in_storage(azurite.connection_string, ids) == set(ids)  # the scan below would see what is left
    url = f"{base}/api/books/{book}"
    assert http_json("DELETE", url)[0] == 401
    assert http_json("DELETE", url, None, bearer(key + "x"))[0] == 403
    assert "Morning fog" in chapter_one(base, book)  # refused deletions changed nothing
    status, answer = http_json("DELETE", url, None, bearer(key))
    assert status == 202 and answer["status"] == "erasing", answer
    for address in ("", "/app/", "/app/index.html", "/book.epub", "/feeds", "/updates"):
        status, problem = http_json("GET", url + address)
        assert status == 410 and problem["title"] == "Book deleted", (address, status, problem)
    assert http_json("DELETE", url, None, bearer(key))[0] == 410
    status, _ = http_json("POST", f"{url}/editions?filename=a.md", b"# A\n\nB.\n", bearer(key))
    assert status == 410
    wait_for(lambda: not storage_naming(azurite.connection_string, ids), 60, "the book to be erased")
    assert http_json("GET", f"{base}/api/manuscripts/{second}")[0] == 410  # erased, not unknown
    assert http_json("GET", url)[0] == 410


def test_the_owner_key_guards_every_change_and_rotates(app: AppHost) -> None:
    base = app.base_url
    book, key = create_book(base, manuscript("Salt"), "salt.md")
    editions = f"{base}/api/books/{book}/editions?filename=salt.md"
    status, problem = http_json("POST", editions, manuscript("Rope"))
    assert status == 401 and "Authorization: Bearer" in problem["detail"]
    # Malformed (no token, another scheme, a token with a space): 401. Well formed but not the key
    # (the scheme's case and extra spaces do not matter): 403.
    expected = {"Bearer": 401, f"Basic {key}": 401, f"Bearer {key} {key}": 401, f"bearer  {key}x": 403}
    for header, wanted in expected.items():
        status, problem = http_json("POST", editions, manuscript("Rope"), {"Authorization": header})
        assert (status, problem["status"]) == (wanted, wanted), (header, problem)
    assert http_json("POST", f"{base}/api/books/{'Q' * 22}/editions", manuscript("Rope"), bearer(key))[0] == 404
    assert http_json("POST", f"{base}/api/books/not-a-book/editions", manuscript("Rope"), bearer(key))[0] == 400
    assert len(http_json("GET", f"{base}/api/books/{book}")[1]["editions"]) == 1  # nothing was started

    status, rotated = http_json("POST", f"{base}/api/books/{book}/owner-key", None, bearer(key))
    assert status == 200 and rotated["owner_key"] != key
    assert http_json("POST", editions, manuscript("Rope"), bearer(key))[0] == 403  # the old key stopped at once
    assert http_json("POST", f"{base}/api/books/{book}/owner-key", None, bearer(key))[0] == 403
    status, job = http_json("POST", editions, manuscript("Rope"), bearer(rotated["owner_key"]))
    assert status == 202 and job["edition"] == 2
    assert follow(base, job["id"], timeout=60)["status"] == "succeeded"


def test_editions_published_at_once_end_in_order_and_old_ones_are_dropped(app: AppHost, azurite: Azurite) -> None:
    base = app.base_url
    book, key = create_book(base, manuscript("Edition one"), "e.md")
    follow(base, book, timeout=60)
    with ThreadPoolExecutor(3) as pool:
        jobs = list(pool.map(lambda n: publish_edition(base, book, key, manuscript(f"Edition {n}"), "e.md"), (2, 3, 4)))
    # Editions are numbered as their uploads arrive: which text became which number is the race's.
    text_of = {}
    for job, words in zip(jobs, ("Edition 2", "Edition 3", "Edition 4"), strict=True):
        finished = follow(base, job, timeout=90)
        assert finished["status"] == "succeeded"
        text_of[finished["edition"]] = words
    assert sorted(text_of) == [2, 3, 4]
    record = http_json("GET", f"{base}/api/books/{book}")[1]
    assert record["published_edition"] == 4  # whichever finished last, the newest is published
    assert text_of[4] in chapter_one(base, book)
    # EDITIONS_KEPT (3): edition 1 is gone, with its files and its job; the news folder stays the book's.
    assert [e["edition"] for e in record["editions"]] == [2, 3, 4]
    assert http("GET", f"{base}/api/books/{book}/app/index.html?edition=1")[0] == 404
    assert http_json("GET", f"{base}/api/manuscripts/{book}")[0] == 404
    books = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client("quire-books")
    assert not list(books.list_blobs(name_starts_with=f"{book}/"))
    assert text_of[3] in chapter_one(base, book, "?edition=3")


def test_a_deletion_during_a_conversion_leaves_nothing(app: AppHost, azurite: Azurite) -> None:
    from PIL import Image, ImageDraw

    from tests.pipeline_support import work_blobs

    base = app.base_url
    # Sixteen 12-megapixel plates the plan step processes itself (a few seconds of work, in 30 kB of
    # zip): after it writes its parse checkpoint it is busy for seconds before it commits.
    files, text = {}, ""
    for n in range(16):
        plate = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
        ImageDraw.Draw(plate).text((10, 10), f"Plate {n}", fill=(255, 0, 0))
        out = io.BytesIO()
        plate.save(out, "PNG")
        files[f"img/plate{n}.png"] = out.getvalue()
        text += f"# Plate {n}\n\n![Plate {n}](img/plate{n}.png)\n\nThe harbour at dawn, plate {n}.\n\n"
    files["book.md"] = text.encode()
    book, key = create_book(base, corpus.zip_of(files), "racing.zip")
    # The plan step has started its work (its parse checkpoint is written) and not yet committed.
    wait_for(lambda: f"{book}/parsed.json" in work_blobs(azurite.connection_string, book), 60, "the plan's parse")
    status, _ = http_json("DELETE", f"{base}/api/books/{book}", None, bearer(key))
    assert status == 202

    def plan_lines() -> list[str]:
        return [line for line in app.log().splitlines() if f"job={book} step=plan" in line]

    claimed = wait_for(lambda: [line for line in plan_lines() if "step claimed by message" in line], 10, "the claim")
    invocation = claimed[0].partition("[invocation=")[2].split()[0]
    # The scan counts only once the step has ended: what it writes after the erasure is its own to delete.
    ended = "Executed 'Functions.convert' ("
    wait_for(
        lambda: any(ended in line and f"Id={invocation}" in line for line in app.log().splitlines()), 60, "the step"
    )
    wait_for(lambda: not storage_naming(azurite.connection_string, [book]), 90, "the racing book to be erased")
    assert http_json("GET", f"{base}/api/manuscripts/{book}")[0] == 410
    assert http_json("GET", f"{base}/api/books/{book}/app/")[0] == 410
    # The deletion landed while the plan step ran: the step was claimed before the erasure began
    # and ended after it, and it never committed (the erasure stopped its job first). What it wrote
    # after the erasure deleted the job's files, the step's clean-up deleted (shared/worker/protocol.py).
    log = app.log().splitlines()
    began = next(n for n, line in enumerate(log) if "erasure started" in line and f"book={book}" in line)
    step_ended = next(n for n, line in enumerate(log) if ended in line and f"Id={invocation}" in line)
    assert log.index(claimed[0]) < began < step_ended, "the plan step was not running when the deletion landed"
    committed = [line for line in plan_lines() if "step committed" in line]
    assert not committed, f"the plan step committed before the deletion stopped it: {committed}"
    # And it stopped quietly: an erased job is no fault for the queue to retry.
    assert "(Succeeded," in log[step_ended], log[step_ended]


def test_the_reconciler_finishes_an_erasure_whose_message_was_lost(app: AppHost, azurite: Azurite) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from shared.library.store import update_book
    from shared.storage import Storage

    base = app.base_url
    book, _ = create_book(base, manuscript("Lost"), "lost.md")
    assert follow(base, book, timeout=60)["status"] == "succeeded"
    # What a DELETE leaves when its message never went out: the row marked, an hour ago.
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    update_book(Storage(azurite.connection_string), book, lambda b: replace(b, erasing=True, updated=an_hour_ago))
    assert http_json("GET", f"{base}/api/books/{book}")[0] == 410
    assert names_in_storage(azurite.connection_string, [book]) == {book}
    assert http_json("POST", f"{base}/admin/functions/reconcile", b'{"input": ""}')[0] == 202
    wait_for(lambda: not storage_naming(azurite.connection_string, [book]), 60, "the re-driven erasure")
