"""What a form upload asks of storage, counted from Azurite's own access log: the marker (the job's
row), the manuscript blob and the job in the marker's place, three PUTs and no table transaction
(#41: the request path is the API's hottest). The count is what bench/pipeline.py reports too."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from shared.intake import Upload, identify
from shared.jobs.manuscripts import store_manuscript
from shared.jobs.record import new_job_id
from shared.jobs.store import read_job
from shared.storage import Storage
from tests.support import Azurite, request_kind, wait_for


def test_azurite_access_log_lines_are_counted_by_method_and_service() -> None:
    assert request_kind("PUT", "jobs(PartitionKey='a',RowKey='job')") == "PUT table"
    assert request_kind("POST", "$batch") == "POST table"
    assert request_kind("POST", "quire-conversions/messages?visibilitytimeout=0") == "POST queue"
    assert request_kind("PUT", "quire-manuscripts/abc/original") == "PUT blob"


def logged(azurite: Azurite, storage: Storage, job_id: str) -> Counter[str]:
    """The requests counted up to now, that read included, once a read of the job's row is in the
    log: the access log is written in order, so every request before the read is in it too."""
    reads = azurite.requests["GET table"]
    read_job(storage, job_id)
    wait_for(lambda: azurite.requests["GET table"] > reads, 10, "the job's read in Azurite's access log")
    return azurite.requests.copy()


def test_a_form_upload_stores_its_manuscript_and_job_in_three_puts(azurite: Azurite) -> None:
    storage = Storage(azurite.connection_string)
    manuscript = identify(Upload(filename="book.md", data=b"# A book\n\nIts text.\n"))
    now = datetime.now(UTC)
    warm_up = store_manuscript(storage, manuscript, new_job_id(), now, "warm-up", 1)  # the container and table exist
    before = logged(azurite, storage, warm_up.id)
    job = store_manuscript(storage, manuscript, new_job_id(), now, "book", 1)
    # The upload's three PUTs, and the read that ends the count.
    assert logged(azurite, storage, job.id) - before == Counter({"PUT table": 2, "PUT blob": 1, "GET table": 1})
