"""A small typed client of Quire's HTTP API, standard library only: create a book, publish an
edition, send a large manuscript as a direct upload (resumable), follow a job, download the EPUB or
the print PDF, set a book's feeds, delete it, and keep shelves. `scripts/quire.py` is its command
line. Its shapes are those of the API's OpenAPI description (shared/web/openapi.json; checked by
tests/unit/test_client_shapes.py), and every call names the operation it makes (`OPERATIONS`).

    client = Quire("http://localhost:7071")
    created = client.create_book(Path("book.md").read_bytes(), "book.md", title="Tides")
    client.wait(created["id"])
    client.publish_edition(created["book"], created["owner_key"], new_text, "book.md")
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quire_types import (  # the API's shapes
    Book,
    CreatedBook,
    CreatedShelf,
    DirectUpload,
    DirectUploadRequest,
    ErasedShelf,
    Erasing,
    Feeds,
    FeedsRequest,
    Job,
    Problem,
    RotatedKey,
    ShelfBook,
    ShelfRequest,
    SubmittedUpload,
)

# Each method's operation in the description: (method, path under /api, operationId).
OPERATIONS = {
    "create_book": ("POST", "/books", "createBook"),
    "publish_edition": ("POST", "/books/{id}/editions", "publishEdition"),
    "status": ("GET", "/manuscripts/{id}", "getJob"),
    "book": ("GET", "/books/{id}", "getBook"),
    "download": ("GET", "/books/{id}/book.{format}", "downloadBook{Format}"),
    "feeds": ("GET", "/books/{id}/feeds", "getFeeds"),
    "set_feeds": ("PUT", "/books/{id}/feeds", "setFeeds"),
    "rotate_owner_key": ("POST", "/books/{id}/owner-key", "rotateOwnerKey"),
    "delete_book": ("DELETE", "/books/{id}", "deleteBook"),
    "request_upload": ("POST", "/uploads", "requestUpload"),
    "request_edition_upload": ("POST", "/books/{id}/uploads", "requestEditionUpload"),
    "submit_upload": ("POST", "/uploads/{id}", "submitUpload"),
    "create_shelf": ("POST", "/shelves", "createShelf"),
    "shelve": ("PUT", "/shelves/{id}/books/{book}", "putShelfBook"),
    "unshelve": ("DELETE", "/shelves/{id}/books/{book}", "removeShelfBook"),
    "delete_shelf": ("DELETE", "/shelves/{id}", "deleteShelf"),
}
PARALLEL_BLOCKS = 4
ATTEMPTS = 8
Format = Literal["epub", "pdf"]


class QuireError(Exception):
    """An answer other than the one asked for: its status and problem (RFC 9457)."""

    def __init__(self, status: int, problem: Problem) -> None:
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")
        self.status, self.problem = status, problem


def request(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 120
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request: (status, headers, body), error statuses included."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def with_retries(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send until the server answers something other than a dropped connection or a 5xx."""
    answer = b""
    for attempt in range(ATTEMPTS):
        try:
            status, _, answer = request(method, url, body, headers)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            status, answer = 0, str(error).encode()
        if status and status < 500:
            return status, answer
        time.sleep(min(30.0, 0.5 * 2**attempt))
    raise QuireError(0, {"type": "about:blank", "title": "Unreachable", "status": 0, "detail": answer[:300].decode()})


def block_id(index: int) -> str:
    return base64.b64encode(f"quire-block-{index:06d}".encode()).decode()


def multipart(data: bytes, filename: str, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body: the manuscript as `file`, and the metadata fields."""
    boundary = f"quire-{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    quoted = filename.replace('"', "%22").replace("\r", "").replace("\n", "")
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
    parts.append((head + "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Quire:
    """Quire's API at `url` (e.g. http://localhost:7071); `function_key` for creating in Azure."""

    def __init__(self, url: str, function_key: str = "") -> None:
        self.base = url.rstrip("/") + "/api"
        self.function_key = function_key

    def _call(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None, ok: int = 200
    ) -> Any:
        status, answer = with_retries(method, self.base + path, body, headers or {})
        if status != ok and not (ok == 201 and status == 200 and method == "PUT"):
            problem = json.loads(answer) if answer.startswith(b"{") else {"title": "", "detail": answer[:300].decode()}
            raise QuireError(status, cast(Problem, problem))
        return json.loads(answer) if answer.startswith(b"{") else answer

    def _keyed(self) -> dict[str, str]:
        return {"x-functions-key": self.function_key} if self.function_key else {}

    @staticmethod
    def _bearer(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def create_book(self, data: bytes, filename: str, **metadata: str) -> CreatedBook:
        """A new book from its first manuscript (`title`, `author`, `language`, `split_level`,
        `pdf_page`, `release_notes`): its first edition's job and its owner key (shown once)."""
        body, content_type = multipart(data, filename, metadata)
        return cast(
            CreatedBook, self._call("POST", "/books", body, {"Content-Type": content_type, **self._keyed()}, 202)
        )

    def publish_edition(self, book: str, owner_key: str, data: bytes, filename: str, **metadata: str) -> Job:
        body, content_type = multipart(data, filename, metadata)
        headers = {"Content-Type": content_type, **self._bearer(owner_key)}
        return cast(Job, self._call("POST", f"/books/{book}/editions", body, headers, 202))

    def status(self, job: str) -> Job:
        return cast(Job, self._call("GET", f"/manuscripts/{job}"))

    def wait(self, job: str, timeout: float = 300, interval: float = 0.5) -> Job:
        """Follow a job until it has succeeded or failed."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.status(job)
            if found["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                return found
            time.sleep(interval)

    def book(self, book: str) -> Book:
        return cast(Book, self._call("GET", f"/books/{book}"))

    def download(self, book: str, format: Format = "epub", edition: int | None = None) -> bytes:
        """The published edition's (or `edition`'s) EPUB or print PDF."""
        query = f"?edition={edition}" if edition is not None else ""
        return cast(bytes, self._call("GET", f"/books/{book}/book.{format}{query}"))

    def feeds(self, book: str, owner_key: str = "") -> Feeds:
        return cast(
            Feeds, self._call("GET", f"/books/{book}/feeds", None, self._bearer(owner_key) if owner_key else {})
        )

    def set_feeds(self, book: str, owner_key: str, urls: list[str]) -> Feeds:
        body = json.dumps(FeedsRequest(feeds=urls)).encode()
        headers = {"Content-Type": "application/json", **self._bearer(owner_key)}
        return cast(Feeds, self._call("PUT", f"/books/{book}/feeds", body, headers))

    def rotate_owner_key(self, book: str, owner_key: str) -> RotatedKey:
        return cast(RotatedKey, self._call("POST", f"/books/{book}/owner-key", b"", self._bearer(owner_key)))

    def delete_book(self, book: str, owner_key: str) -> Erasing:
        return cast(Erasing, self._call("DELETE", f"/books/{book}", None, self._bearer(owner_key), 202))

    def request_upload(self, asked: DirectUploadRequest, book: str = "", owner_key: str = "") -> DirectUpload:
        """A direct upload's SAS: for a new book (function key), or an edition of `book` (owner key)."""
        if book:
            return self.request_edition_upload(book, owner_key, asked)
        headers = {"Content-Type": "application/json", **self._keyed()}
        return cast(DirectUpload, self._call("POST", "/uploads", json.dumps(asked).encode(), headers, 201))

    def request_edition_upload(self, book: str, owner_key: str, asked: DirectUploadRequest) -> DirectUpload:
        headers = {"Content-Type": "application/json", **self._bearer(owner_key)}
        return cast(
            DirectUpload, self._call("POST", f"/books/{book}/uploads", json.dumps(asked).encode(), headers, 201)
        )

    def submit_upload(self, upload: str, owner_key: str) -> SubmittedUpload:
        return cast(SubmittedUpload, self._call("POST", f"/uploads/{upload}", b"", self._bearer(owner_key), 202))

    def direct_upload(
        self,
        path: Path,
        book: str = "",
        owner_key: str = "",
        state: Path | None = None,
        progress: Callable[[int, int], None] | None = None,
        **metadata: str,
    ) -> SubmittedUpload:
        """Send `path` straight to storage in blocks, then submit it; a failed block is sent again.
        With `state`, what was sent is kept in that file, so a run stopped part way (a closed
        laptop) resumes with the same upload and sends only the blocks still missing, while its SAS
        runs. `progress(blocks sent, blocks)` after each block. A new book's job carries its key."""
        saved = json.loads(state.read_text()) if state and state.exists() else None
        if saved is None or saved["size"] != path.stat().st_size:
            asked = DirectUploadRequest(filename=path.name, size=path.stat().st_size, **metadata)  # type: ignore[typeddict-item]
            grant = self.request_upload(asked, book, owner_key)
            saved = {
                "size": asked["size"],
                "grant": grant,
                "owner_key": grant.get("owner_key") or owner_key,
                "sent": [],
            }
        grant, key = saved["grant"], saved["owner_key"]
        upload = grant["upload"]
        count = max(1, -(-upload["size"] // upload["block_size"]))
        ids = [block_id(i) for i in range(count)]
        sent: set[int] = set(saved["sent"])
        lock = threading.Lock()
        stopping = threading.Event()  # a block failed, or the caller stopped the upload: send no more

        def send(index: int) -> None:
            if stopping.is_set():
                return
            try:
                send_block(index)
            except BaseException:
                stopping.set()
                raise

        def send_block(index: int) -> None:
            with path.open("rb") as file:
                file.seek(index * upload["block_size"])
                data = file.read(upload["block_size"])
            url = f"{upload['url']}&comp=block&blockid={urllib.parse.quote(ids[index], safe='')}"
            status, answer = with_retries("PUT", url, data, {})
            if status != 201:
                raise QuireError(status, {"type": "about:blank", "title": "Block refused", "status": status,
                                          "detail": answer[:300].decode(errors="replace")})  # fmt: skip
            with lock:
                sent.add(index)
                if state:
                    state.write_text(json.dumps({**saved, "sent": sorted(sent)}))
                if progress:
                    progress(len(sent), count)

        if state:
            state.write_text(json.dumps(saved))
        with ThreadPoolExecutor(max_workers=PARALLEL_BLOCKS) as pool:
            list(pool.map(send, [i for i in range(count) if i not in sent]))
        block_list = "".join(f"<Latest>{i}</Latest>" for i in ids)
        body = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{block_list}</BlockList>'.encode()
        status, answer = with_retries("PUT", upload["url"] + "&comp=blocklist", body, {})
        if status != 201:
            raise QuireError(status, {"type": "about:blank", "title": "Block list refused", "status": status,
                                      "detail": answer[:300].decode(errors="replace")})  # fmt: skip
        job = self.submit_upload(grant["id"], key)
        if state:
            state.unlink()
        if grant.get("owner_key"):
            job["owner_key"] = grant["owner_key"]  # type: ignore[typeddict-unknown-key]
        return job

    def create_shelf(self, title: str = "") -> CreatedShelf:
        body = json.dumps(ShelfRequest(title=title)).encode()
        return cast(
            CreatedShelf,
            self._call("POST", "/shelves", body, {"Content-Type": "application/json", **self._keyed()}, 201),
        )

    def shelve(self, shelf: str, shelf_key: str, book: str) -> ShelfBook:
        return cast(ShelfBook, self._call("PUT", f"/shelves/{shelf}/books/{book}", b"", self._bearer(shelf_key), 201))

    def unshelve(self, shelf: str, shelf_key: str, book: str) -> ShelfBook:
        return cast(ShelfBook, self._call("DELETE", f"/shelves/{shelf}/books/{book}", None, self._bearer(shelf_key)))

    def delete_shelf(self, shelf: str, shelf_key: str) -> ErasedShelf:
        return cast(ErasedShelf, self._call("DELETE", f"/shelves/{shelf}", None, self._bearer(shelf_key)))
