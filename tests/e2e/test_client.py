"""The client (scripts/quire_client.py) and its command line (scripts/quire.py) against the running
app: a book and a new edition published end to end, downloaded, shelved and deleted; a direct upload
stopped part way resumes with the blocks still missing. Issue #40."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, AppHost

sys.path.insert(0, str(ROOT / "scripts"))
quire_client = importlib.import_module("quire_client")
HARBOUR = ROOT / "examples" / "harbour.zip"
FIRST = b"---\ntitle: Client Tides\nauthor: Ada Writer\nlanguage: en\n---\n\n# One\n\nThe sea.\n\n# Two\n\nThe shore.\n"
SECOND = FIRST.replace(b"The shore.", b"The shore, and the harbour lights.")


def test_the_client_publishes_a_book_and_an_edition(app: AppHost) -> None:
    client = quire_client.Quire(app.base_url)
    created = client.create_book(FIRST, "tides.md", pdf_page="6x9")
    book, key = created["book"], created["owner_key"]
    assert created["edition"] == 1 and key.startswith("quire_owner_")
    assert client.wait(created["id"], timeout=120)["status"] == "succeeded"
    edition = client.publish_edition(book, key, SECOND, "tides.md", release_notes="The lights are lit.")
    assert edition["edition"] == 2 and edition["book"] == book
    done = client.wait(edition["id"], timeout=120)
    assert done["status"] == "succeeded" and done["release_notes"] == "The lights are lit."
    found = client.book(book)
    assert found["published_edition"] == 2 and [e["edition"] for e in found["editions"]] == [1, 2]
    assert client.download(book).startswith(b"PK")
    assert client.download(book, "epub", edition=1).startswith(b"PK")
    assert "pdf" in found["links"] and client.download(book, "pdf").startswith(b"%PDF")
    assert client.feeds(book, key) == {"book": book, "feeds": []}

    shelf = client.create_shelf("Client shelf")
    assert client.shelve(shelf["id"], shelf["shelf_key"], book)["changed"] is True
    assert client.shelve(shelf["id"], shelf["shelf_key"], book)["changed"] is False
    assert client.unshelve(shelf["id"], shelf["shelf_key"], book)["on_shelf"] is False
    assert client.delete_shelf(shelf["id"], shelf["shelf_key"])["status"] == "erased"

    with pytest.raises(quire_client.QuireError) as refused:
        client.publish_edition(book, "quire_owner_wrong", SECOND, "tides.md")
    assert refused.value.status == 403 and refused.value.problem["title"] == "Wrong owner key"
    new_key = client.rotate_owner_key(book, key)["owner_key"]
    assert client.delete_book(book, new_key)["status"] == "erasing"
    with pytest.raises(quire_client.QuireError) as gone:
        client.book(book)
    assert gone.value.status == 410


class Stopped(Exception):
    """The run stops here, as a closed laptop stops it."""


def test_a_stopped_direct_upload_resumes_with_the_blocks_still_missing(app: AppHost, tmp_path: Path) -> None:
    client = quire_client.Quire(app.base_url)
    state = tmp_path / "harbour.zip.quire-upload.json"
    grant = client.request_upload({"filename": "harbour.zip", "size": HARBOUR.stat().st_size})
    grant["upload"]["block_size"] = 4096  # 7 blocks of this 26 kB zip, so that some are left to resume
    blocks = -(-HARBOUR.stat().st_size // 4096)
    state.write_text(
        json.dumps({"size": HARBOUR.stat().st_size, "grant": grant, "owner_key": grant["owner_key"], "sent": []})
    )

    def stop_after_two(done: int, count: int) -> None:
        if done >= 2:
            raise Stopped

    with pytest.raises(Stopped):
        client.direct_upload(HARBOUR, state=state, progress=stop_after_two)
    first = json.loads(state.read_text())["sent"]
    assert 2 <= len(first) < blocks
    counted: list[int] = []
    job = client.direct_upload(HARBOUR, state=state, progress=lambda done, count: counted.append(done))
    assert counted == list(range(len(first) + 1, blocks + 1))  # only the missing blocks were sent
    assert not state.exists() and job["id"] == grant["id"] and job["owner_key"] == grant["owner_key"]
    assert client.wait(job["id"], timeout=120)["status"] == "succeeded"


def test_the_command_line_creates_and_follows_a_book(app: AppHost, tmp_path: Path) -> None:
    manuscript = tmp_path / "cli.md"
    manuscript.write_bytes(FIRST)
    cli = [sys.executable, str(ROOT / "scripts" / "quire.py"), "--url", app.base_url]
    made = subprocess.run([*cli, "create", str(manuscript), "--title", "From the CLI", "--wait"],
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert made.returncode == 0, made.stderr
    accepted = json.loads(made.stdout[: made.stdout.rindex("}\n{") + 1])
    finished = json.loads(made.stdout[made.stdout.rindex("}\n{") + 2 :])
    assert finished["status"] == "succeeded" and finished["metadata"]["title"] == "From the CLI"
    out = tmp_path / "book.epub"
    fetched = subprocess.run([*cli, "download", accepted["book"], "-o", str(out)], capture_output=True, text=True)
    assert fetched.returncode == 0, fetched.stderr
    assert out.read_bytes().startswith(b"PK")
    refused = subprocess.run([*cli, "--owner-key", "nope", "delete", accepted["book"]], capture_output=True, text=True)
    assert refused.returncode == 1 and json.loads(refused.stderr)["status"] == 403
