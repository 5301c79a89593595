"""Direct uploads (the valet key) through the running app and a real Azurite: ask, upload in blocks
straight to storage, submit; and every way to misuse the SAS or the submit refused, with nothing
converted and nothing left behind."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from shared.jobs.record import UPLOAD_ROW_KEY
from shared.settings import JOB_TABLE, MANUSCRIPT_CONTAINER
from shared.storage import Storage
from shared.worker.recovery import sweep_abandoned_uploads
from tests.pipeline_support import create_book, follow, http_json
from tests.support import ROOT, AppHost, Azurite, http, start_azurite, start_host

HARBOUR = ROOT / "examples" / "harbour.zip"
WEB = ["request_upload", "request_edition_upload", "submit_upload", "get_manuscript", "health"]
BLOCK = 64 * 1024


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ask(base: str, filename: str, size: int, **extra: Any) -> tuple[int, dict[str, Any]]:
    headers = extra.pop("headers", {})
    path = extra.pop("path", "/api/uploads")
    body = json.dumps({"filename": filename, "size": size, **extra}).encode()
    return http_json("POST", base + path, body, {"Content-Type": "application/json", **headers})


def granted(base: str, filename: str, size: int, **extra: Any) -> dict[str, Any]:
    status, grant = ask(base, filename, size, **extra)
    assert status == 201, grant
    return grant


def put_blocks(url: str, data: bytes) -> list[str]:
    ids = []
    for index in range(0, max(1, len(data)), BLOCK):
        block_id = base64.b64encode(f"block-{index // BLOCK:06d}".encode()).decode()
        status, _, answer = http("PUT", f"{url}&comp=block&blockid={block_id}", data[index : index + BLOCK])
        assert status == 201, answer
        ids.append(block_id)
    return ids


def commit(url: str, ids: list[str]) -> int:
    body = "".join(f"<Latest>{i}</Latest>" for i in ids)
    xml = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{body}</BlockList>'.encode()
    return http("PUT", f"{url}&comp=blocklist", xml)[0]


def upload(grant: dict[str, Any], data: bytes) -> None:
    assert commit(grant["upload"]["url"], put_blocks(grant["upload"]["url"], data)) == 201


def submit(base: str, grant: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
    return http_json("POST", base + grant["submit"]["url"], b"", bearer(key))


def left_behind(azurite: Azurite, upload_id: str) -> list[str]:
    """What storage still holds of an upload: its blob, its marker, its job row."""
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(
        MANUSCRIPT_CONTAINER
    )
    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(JOB_TABLE)
    found = [blob.name for blob in blobs.list_blobs(name_starts_with=upload_id)]
    found += [f"row:{e['RowKey']}" for e in table.query_entities(f"PartitionKey eq '{upload_id}'")]
    return found


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_script_uploads_straight_to_storage_and_the_book_is_made(app: AppHost) -> None:
    """scripts/quire_upload.py, as an author runs it: ask, blocks, block list, submit, follow."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "quire_upload.py"), str(HARBOUR), "--url", app.base_url, "--wait"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    accepted = json.loads(result.stdout[: result.stdout.rindex("}\n{") + 1])
    assert accepted["owner_key"].startswith("quire_owner_") and accepted["manuscript"]["type"] == "zip"
    assert json.loads(result.stdout.splitlines()[-1]) == {"status": "succeeded", "error": ""}
    job = follow(app.base_url, accepted["id"], timeout=10)
    # The worker hashes what the web tier never read.
    assert len(job["manuscript"]["sha256"]) == 64 and job["manuscript"]["bytes"] == HARBOUR.stat().st_size
    status, _, epub = http("GET", f"{app.base_url}/api/books/{accepted['book']}/book.epub")
    assert status == 200 and epub.startswith(b"PK")


def test_the_sas_writes_one_blob_and_nothing_else(app: AppHost) -> None:
    grant = granted(app.base_url, "book.md", 100)
    url = grant["upload"]["url"]
    blob_url, sas = url.split("?", 1)
    assert f"/{MANUSCRIPT_CONTAINER}/{grant['id']}/original" in blob_url
    upload(grant, b"# A\n\nText.\n".ljust(100, b" "))
    # Reading, listing, deleting, or writing any other name: refused by storage itself.
    assert http("GET", url)[0] == 403
    assert http("HEAD", url)[0] == 403
    assert http("DELETE", url)[0] == 403
    container = blob_url.rsplit("/", 2)[0]
    assert http("GET", f"{container}?restype=container&comp=list&{sas}")[0] == 403
    other = blob_url.replace(grant["id"], "someone-else")
    status, _, _ = http("PUT", f"{other}?{sas}", b"x", {"x-ms-blob-type": "BlockBlob"})
    assert status == 403
    sibling = blob_url.replace("/original", "/other")
    assert http("PUT", f"{sibling}?{sas}", b"x", {"x-ms-blob-type": "BlockBlob"})[0] == 403


def test_submitting_twice_starts_one_job_and_the_book_converts(app: AppHost) -> None:
    data = HARBOUR.read_bytes()
    grant = granted(app.base_url, "harbour.zip", len(data), title="Harbour")
    upload(grant, data)
    first_status, first = submit(app.base_url, grant, grant["owner_key"])
    second_status, second = submit(app.base_url, grant, grant["owner_key"])
    assert (first_status, second_status) == (202, 202)
    assert first["id"] == second["id"] == grant["id"] and first["metadata"]["title"] == "Harbour"
    assert follow(app.base_url, first["id"], timeout=60)["status"] == "succeeded"
    status, book = http_json("GET", f"{app.base_url}/api/books/{grant['id']}")
    assert status == 200 and [e["edition"] for e in book["editions"]] == [1]


def test_a_new_edition_goes_through_a_direct_upload(app: AppHost, azurite: Azurite) -> None:
    base = app.base_url
    book, key = create_book(base, b"# One\n\nFirst edition.\n", "tides.md")
    assert follow(base, book, timeout=60)["status"] == "succeeded"
    data = b"# One\n\nSecond edition, sent straight to storage.\n"
    path = f"/api/books/{book}/uploads"
    assert ask(base, "tides.md", len(data), path=path)[0] == 401
    assert ask(base, "tides.md", len(data), path=path, headers=bearer("quire_owner_wrong"))[0] == 403
    grant = granted(base, "tides.md", len(data), path=path, headers=bearer(key))
    assert "owner_key" not in grant and grant["book"] == book
    upload(grant, data)
    status, job = submit(base, grant, key)
    assert status == 202 and job["edition"] == 2 and job["book"] == book
    # An edition asked for, then the book deleted before it was submitted: refused, and discarded.
    orphan = granted(base, "tides.md", len(data), path=path, headers=bearer(key))
    upload(orphan, data)
    assert follow(base, job["id"], timeout=60)["status"] == "succeeded"
    _, _, chapter = http("GET", f"{base}/api/books/{book}/app/chapters/ch001.html")
    assert b"sent straight to storage" in chapter
    assert http_json("DELETE", f"{base}/api/books/{book}", None, bearer(key))[0] == 202
    assert submit(base, orphan, key)[0] == 410
    assert left_behind(azurite, orphan["id"]) == []


def test_submitting_with_another_books_key_or_no_key_is_refused(app: AppHost, azurite: Azurite) -> None:
    data = b"# Mine\n\nText.\n"
    mine = granted(app.base_url, "mine.md", len(data))
    theirs = granted(app.base_url, "theirs.md", len(data))
    upload(mine, data)
    assert submit(app.base_url, mine, theirs["owner_key"])[0] == 403
    assert http_json("POST", app.base_url + mine["submit"]["url"], b"")[0] == 401
    assert http_json("POST", f"{app.base_url}/api/uploads/not-an-id!", b"", bearer("x"))[0] == 400
    assert submit(app.base_url, {"submit": {"url": "/api/uploads/AAAAAAAAAAAAAAAAAAAAAA"}}, "quire_owner_x")[0] == 404
    # Nothing changed: the upload is still there for its owner.
    assert set(left_behind(azurite, mine["id"])) == {f"{mine['id']}/original", f"row:{UPLOAD_ROW_KEY}"}
    assert submit(app.base_url, mine, mine["owner_key"])[0] == 202


def test_submitting_before_the_upload_finished_is_refused_until_it_has(app: AppHost) -> None:
    data = b"# Early\n\n" + b"Words. " * 30_000
    grant = granted(app.base_url, "early.md", len(data))
    ids = put_blocks(grant["upload"]["url"], data)
    assert len(ids) > 1
    status, answer = submit(app.base_url, grant, grant["owner_key"])
    assert status == 409 and answer["title"] == "Upload not finished"
    # Part of it committed: still not finished, and still not thrown away.
    assert commit(grant["upload"]["url"], ids[:1]) == 201
    status, answer = submit(app.base_url, grant, grant["owner_key"])
    assert status == 409 and "arrived" in answer["detail"]
    # Committing a block list drops the blocks it leaves out: the client sends them again.
    assert commit(grant["upload"]["url"], put_blocks(grant["upload"]["url"], data)) == 201
    assert submit(app.base_url, grant, grant["owner_key"])[0] == 202


BAD_UPLOADS = {
    "more than declared": ("book.md", b"# Big\n\n" + b"x" * 500, 100, 413),
    "a zip bomb": ("bomb.zip", zip_of({"book.md": b"# Bomb\n", "padding.bin": bytes(50 * 1024 * 1024)}), 0, 422),
    "a path out of the archive": ("escape.zip", zip_of({"book.md": b"# E\n", "../../etc/x.jpg": b"x"}), 0, 422),
    "a PNG named as a zip": ("book.zip", b"\x89PNG\r\n\x1a\n" + bytes(200), 0, 415),
    "a zip holding no manuscript": ("photos.zip", zip_of({"a.jpg": b"\xff\xd8\xff"}), 0, 415),
    "binary named Markdown": ("book.md", bytes(range(256)) * 4, 0, 415),
}


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=list(BAD_UPLOADS))
def test_a_bad_upload_is_refused_at_submit_and_nothing_is_left(app: AppHost, azurite: Azurite, case: str) -> None:
    filename, data, declared, expected = BAD_UPLOADS[case]
    grant = granted(app.base_url, filename, declared or len(data))
    upload(grant, data)
    status, answer = submit(app.base_url, grant, grant["owner_key"])
    assert status == expected, answer
    assert answer["title"] and answer["detail"]
    assert left_behind(azurite, grant["id"]) == []  # no blob, no marker, no job
    assert submit(app.base_url, grant, grant["owner_key"])[0] == 404


def test_asking_is_checked_like_a_form_upload(app: AppHost) -> None:
    base = app.base_url
    assert ask(base, "book.pdf", 100)[0] == 415
    assert ask(base, "book.md", 0)[0] == 400
    assert ask(base, "book.md", 100, language="not a tag")[0] == 400
    assert http_json("POST", base + "/api/uploads", b"{not json", {"Content-Type": "application/json"})[0] == 400
    # Beyond the form limit only a zip may go, and nothing beyond the direct-upload limit.
    status, answer = ask(base, "book.md", 3 * 1024 * 1024)
    assert status == 413 and ".zip" in answer["detail"]
    assert ask(base, "book.zip", 3 * 1024 * 1024)[0] == 201
    assert ask(base, "book.zip", 2 * 1024**3)[0] == 413


@pytest.fixture(scope="module")
def brief_sas_app(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    """The app handing out SAS tokens that live two seconds."""
    log = tmp_path_factory.mktemp("brief-sas") / "host.log"
    host = start_host(
        ROOT,
        {"AzureWebJobsStorage": azurite.connection_string, "DIRECT_UPLOAD_SAS_SECONDS": "2"},
        log,
        extra_args=["--functions", "request_upload", "submit_upload", "health"],
    )
    yield host
    host.stop()


def test_an_expired_sas_writes_nothing_and_an_unsubmitted_upload_is_swept(
    brief_sas_app: AppHost, app: AppHost, azurite: Azurite
) -> None:
    data = b"# Late\n\nText.\n"
    expired = granted(brief_sas_app.base_url, "late.md", len(data))
    upload(expired, data)  # written in time, never submitted
    lapsing = granted(brief_sas_app.base_url, "lapse.md", len(data))
    live = granted(app.base_url, "live.md", len(data))
    upload(live, data)
    time.sleep(3.2)
    url = lapsing["upload"]["url"]
    status, _, answer = http("PUT", f"{url}&comp=block&blockid={base64.b64encode(b'b0').decode()}", data)
    assert status == 403 and b"<Error>" in answer

    storage = Storage(azurite.connection_string)
    swept = sweep_abandoned_uploads(storage, datetime.now(UTC), abandoned_seconds=1)
    assert swept >= 2  # the expired upload's blob and marker, and the lapsed one's marker
    assert left_behind(azurite, expired["id"]) == [] and left_behind(azurite, lapsing["id"]) == []
    assert submit(brief_sas_app.base_url, expired, expired["owner_key"])[0] == 404
    # An upload whose SAS still runs is the client's to finish, however old its marker.
    assert set(left_behind(azurite, live["id"])) == {f"{live['id']}/original", f"row:{UPLOAD_ROW_KEY}"}
    with pytest.raises(ResourceNotFoundError):
        BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client(
            MANUSCRIPT_CONTAINER, f"{expired['id']}/original"
        ).get_blob_properties()


def test_the_blob_cannot_be_swapped_after_it_was_checked(tmp_path: Path) -> None:
    """The SAS still writes after the submit; the worker reads only the version that was checked,
    so a swapped manuscript fails its job instead of being converted unchecked."""
    emulator = start_azurite()
    settings = {"AzureWebJobsStorage": emulator.connection_string}
    web = start_host(ROOT, settings, tmp_path / "web.log", extra_args=["--functions", *WEB])
    worker = None
    try:
        data = b"# Checked\n\nThe text that was checked.\n"
        grant = granted(web.base_url, "checked.md", len(data))
        upload(grant, data)
        status, job = submit(web.base_url, grant, grant["owner_key"])
        assert status == 202
        swapped = zip_of({"book.md": b"# Swapped\n", "bomb.bin": bytes(50 * 1024 * 1024)})
        assert http("PUT", grant["upload"]["url"], swapped, {"x-ms-blob-type": "BlockBlob"})[0] == 201
        worker = start_host(ROOT, settings, tmp_path / "worker.log", extra_args=["--functions", "convert", "health"])
        final = follow(web.base_url, job["id"], timeout=60)
        assert final["status"] == "failed" and "written again after Quire checked it" in final["error"]
    finally:
        for host in (web, worker):
            if host is not None:
                host.stop()
        emulator.stop()
