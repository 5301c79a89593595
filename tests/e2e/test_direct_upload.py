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
import urllib.error
import urllib.parse
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
from shared.storage import Storage
from shared.storage.names import JOB_TABLE, MANUSCRIPT_CONTAINER
from shared.worker.recovery import Faults, sweep_abandoned_uploads
from tests import epub_corpus
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


class DroppingProxy:
    """Quire and its blob endpoint behind one local address, as the script sees them: the SAS URL in
    an upload's grant is rewritten to come here too, and the first PUT of each block is read whole
    and then dropped with no answer (a connection lost mid-upload). Every block PUT is recorded."""

    def __init__(self, app_url: str, blob_origin: str) -> None:
        import http.server
        import threading
        import urllib.request

        self.blocks: list[tuple[str, int]] = []  # (block id, status answered; 0 for dropped)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                blob = self.path.startswith("/blob/")
                target = blob_origin + self.path.removeprefix("/blob") if blob else app_url + self.path
                block = self.path.partition("&comp=block&blockid=")[2] if blob else ""
                if block and block not in {sent for sent, _ in proxy.blocks}:
                    proxy.blocks.append((block, 0))
                    self.close_connection = True  # no answer at all: the client sees the connection drop
                    return
                names = ("Content-Type", "Authorization", "x-ms-blob-type", "x-ms-version")
                headers = {name: self.headers[name] for name in names if self.headers.get(name)}
                request = urllib.request.Request(target, data=body or None, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, answer, kind = response.status, response.read(), response.headers["Content-Type"]
                except urllib.error.HTTPError as error:
                    status, answer, kind = error.code, error.read(), error.headers["Content-Type"]
                if block:
                    proxy.blocks.append((block, status))
                if status == 201 and self.path.startswith("/api/uploads") and self.command == "POST":
                    grant = json.loads(answer)
                    grant["upload"]["url"] = grant["upload"]["url"].replace(blob_origin, proxy.url + "/blob", 1)
                    answer = json.dumps(grant).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                if kind:
                    self.send_header("Content-Type", kind)
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_PUT = do_POST = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_script_sends_a_failed_block_again(app: AppHost, azurite: Azurite) -> None:
    """The script's promise: a block that fails (here its connection is dropped) is sent again, and
    the upload still ends with the whole file in storage and the book made."""
    proxy = DroppingProxy(app.base_url, f"http://127.0.0.1:{azurite.blob_port}")
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "quire_upload.py"), str(HARBOUR), "--url", proxy.url, "--quiet"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    accepted = json.loads(result.stdout)
    block = base64.b64encode(b"quire-block-000000").decode()
    assert [(urllib.parse.unquote(sent), status) for sent, status in proxy.blocks] == [(block, 0), (block, 201)]
    stored = (
        BlobServiceClient.from_connection_string(azurite.connection_string)
        .get_blob_client(MANUSCRIPT_CONTAINER, f"{accepted['id']}/original")
        .download_blob()
        .readall()
    )
    assert stored == HARBOUR.read_bytes()
    assert follow(app.base_url, accepted["id"], timeout=60)["status"] == "succeeded"


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
    grant = granted(app.base_url, "harbour.zip", len(data), title="Harbour", split_level=2)
    upload(grant, data)
    first_status, first = submit(app.base_url, grant, grant["owner_key"])
    second_status, second = submit(app.base_url, grant, grant["owner_key"])
    assert (first_status, second_status) == (202, 202)
    assert first["id"] == second["id"] == grant["id"] and first["metadata"]["title"] == "Harbour"
    assert first["manuscript"]["split_level"] == 2  # as asked for with the upload
    assert follow(app.base_url, first["id"], timeout=60)["status"] == "succeeded"
    status, book = http_json("GET", f"{app.base_url}/api/books/{grant['id']}")
    assert status == 200 and [e["edition"] for e in book["editions"]] == [1]


def test_an_epub_goes_through_a_direct_upload(app: AppHost) -> None:
    data = epub_corpus.epub3_book()
    assert ask(app.base_url, "large.epub", 3 * 1024 * 1024)[0] == 201  # an EPUB may pass the form limit, as a zip may
    grant = granted(app.base_url, "keeper.epub", len(data))
    upload(grant, data)
    status, job = submit(app.base_url, grant, grant["owner_key"])
    assert status == 202 and job["manuscript"]["type"] == "epub", job
    assert follow(app.base_url, job["id"], timeout=60)["status"] == "succeeded"


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
    "an EPUB with a path out": ("escape.epub", zip_of({"META-INF/container.xml": b"<c/>", "../x.jpg": b"x"}), 0, 422),
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


class MarkerDeleteFails(Storage):
    """Storage whose deletion of an upload's marker row fails: a sweep that dies half-way."""

    def delete_entity(self, table: str, partition_key: str, row_key: str) -> None:
        if table == JOB_TABLE and row_key == UPLOAD_ROW_KEY:
            raise OSError("storage went away before the marker was deleted")
        super().delete_entity(table, partition_key, row_key)


def test_a_submit_after_its_upload_was_swept_is_410_then_404_once_its_record_is_gone(
    brief_sas_app: AppHost, azurite: Azurite
) -> None:
    """docs/api.md's row: a direct upload whose SAS expired and which was swept before it was
    submitted answers 410 "Upload expired" (or 404 once its record is gone)."""
    data = b"# Swept\n\nText.\n"
    grant = granted(brief_sas_app.base_url, "swept.md", len(data))
    upload(grant, data)  # written in time, never submitted
    time.sleep(3.2)  # its 2 s SAS has expired, and 1 s more
    # The sweep marks the marker abandoned and deletes the blob, then dies before the marker goes.
    faults = Faults()
    assert sweep_abandoned_uploads(MarkerDeleteFails(azurite.connection_string), datetime.now(UTC), 1, faults) == 0
    assert f"upload {grant['id']}" in faults.items  # (the session's account may hold others' leftovers)
    assert left_behind(azurite, grant["id"]) == [f"row:{UPLOAD_ROW_KEY}"]
    status, problem = submit(brief_sas_app.base_url, grant, grant["owner_key"])
    assert (status, problem["title"]) == (410, "Upload expired"), problem
    # The next sweep finishes it: nothing is left, and the id is unknown.
    sweep_abandoned_uploads(Storage(azurite.connection_string), datetime.now(UTC), 1)
    assert left_behind(azurite, grant["id"]) == []
    status, problem = submit(brief_sas_app.base_url, grant, grant["owner_key"])
    assert (status, problem["title"]) == (404, "Unknown upload"), problem


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
