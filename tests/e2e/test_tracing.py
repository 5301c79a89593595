"""One upload, one trace: the request's span in the web tier, then every conversion step as a child
span in the worker, the context carried inside each queue message, across two processes (a host
serving only the web functions and another running only the worker), exported over OTLP/HTTP to a
local receiver as it would be to a collector."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.feeds.servers import FeedServer
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.pipeline_support import create_book, follow, http_json
from tests.support import ROOT, AppHost, start_azurite, start_host, wait_for

WEB = ["--functions", "create_book", "get_manuscript", "health", "book_feeds", "book_updates"]
WORKER = ["--functions", "convert", "convert_poison", "refresh", "refresh_feeds"]
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5  # OTLP span kinds


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OtlpReceiver, AppHost, AppHost, FeedServer]]:
    # An Azurite of its own: the session's has other hosts listening on its queues, whose steps
    # would run untraced (and with their own settings).
    azurite = start_azurite()
    receiver = OtlpReceiver().start()
    feeds = FeedServer().start()
    logs = tmp_path_factory.mktemp("tracing")
    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 0.2 s, not every 5 s
        "IMAGES_IN_PLAN_BYTES": "0",  # every image fans out to a batch step of its own
        "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true",  # the feed server is on this machine
    }
    hosts: list[AppHost] = []
    try:
        hosts.append(start_host(ROOT, settings, logs / "web.log", extra_args=WEB))
        hosts.append(start_host(ROOT, settings, logs / "worker.log", extra_args=WORKER, wait_path=None))
        yield receiver, hosts[0], hosts[1], feeds
    finally:
        for host in reversed(hosts):
            host.stop()
        feeds.stop()
        receiver.stop()
        azurite.stop()


def test_one_upload_is_one_trace_from_request_to_publish(
    traced: tuple[OtlpReceiver, AppHost, AppHost, FeedServer],
) -> None:
    receiver, web, worker, _ = traced
    book, _ = create_book(web.base_url, (ROOT / "examples" / "harbour.zip").read_bytes(), "harbour.zip")
    job = follow(web.base_url, book, timeout=120)
    assert job["status"] == "succeeded", job
    steps_total = job["progress"]["steps_total"]
    assert steps_total >= 3, "harbour.zip has images, so its plan fans out at least one batch"

    def spans_of_job() -> list[ReceivedSpan] | None:
        spans = [s for s in receiver.spans if s.attributes.get("quire.job") == book]
        return spans if any(s.name == "step package" for s in spans) else None

    wait_for(spans_of_job, 30, "the package step's span exported")
    request = next(
        s
        for s in receiver.spans
        if s.name == "create book" and s.trace_id in {x.trace_id for x in spans_of_job() or []}
    )
    trace = [s for s in receiver.spans if s.trace_id == request.trace_id]
    by_id = {s.span_id: s for s in trace}
    steps = [s for s in trace if s.name.startswith("step ")]

    # The request is the root; the worker's steps hang under it.
    assert request.parent_id == "" and request.kind == SERVER
    plan = [s for s in steps if s.name == "step plan"]
    images = [s for s in steps if s.name == "step images"]
    pdf = [s for s in steps if s.name == "step pdf"]
    package = [s for s in steps if s.name == "step package"]
    assert len(plan) == 1 and plan[0].parent_id == request.span_id
    assert {s.attributes["quire.step"] for s in images} == {f"images:{i}" for i in range(steps_total - 3)}
    assert all(s.parent_id == plan[0].span_id for s in images)
    # The batch that completed the set sent the pdf step's message (fan-in), and that the package's.
    assert len(pdf) == 1 and pdf[0].parent_id in {s.span_id for s in images}
    assert len(package) == 1 and package[0].parent_id == pdf[0].span_id
    assert all(s.kind == CONSUMER and s.attributes["quire.job"] == book for s in steps)
    assert package[0].start_ns >= max(s.end_ns for s in images) - 1_000_000_000  # publish comes last
    # Every parent is in the trace: nothing dangles.
    assert all(s.parent_id in by_id for s in trace if s is not request)
    # Two processes: the web tier's and the worker's.
    assert request.process != plan[0].process and request.process and plan[0].process
    # The worker's log lines carry the trace, so a log search leads to it.
    assert f"trace={request.trace_id}" in worker.log()
    assert f"trace={request.trace_id}" in web.log()


def test_a_feed_refresh_is_one_trace_from_timer_to_fetches(
    traced: tuple[OtlpReceiver, AppHost, AppHost, FeedServer],
) -> None:
    receiver, web, worker, feeds = traced
    book, owner_key = create_book(web.base_url, b"# One\n\nText.\n", "book.md")
    feed_list = json.dumps({"feeds": [feeds.url("/rss"), feeds.url("/json")]}).encode()
    headers = {"Authorization": f"Bearer {owner_key}", "Content-Type": "application/json"}
    assert http_json("PUT", f"{web.base_url}/api/books/{book}/feeds", feed_list, headers)[0] == 200
    assert http_json("POST", f"{worker.base_url}/admin/functions/refresh", b'{"input": ""}')[0] == 202

    def fetches() -> list[ReceivedSpan] | None:
        """Both fetches' spans, once their batch's span (which ends after them) is exported too."""
        found = [s for s in receiver.spans if s.name == "fetch feed" and s.attributes.get("quire.book") == book]
        exported = {s.span_id for s in receiver.spans}
        return found if len(found) == 2 and all(s.parent_id in exported for s in found) else None

    fetched = wait_for(fetches, 30, "both feeds' fetch spans exported")
    trace = [s for s in receiver.spans if s.trace_id == fetched[0].trace_id]
    by_id = {s.span_id: s for s in trace}
    assert {s.trace_id for s in fetched} == {fetched[0].trace_id}
    assert all(s.kind == CLIENT and s.attributes["quire.host"] == "127.0.0.1" for s in fetched)
    batch = by_id[fetched[0].parent_id]
    assert batch.name == "refresh batch" and batch.kind == CONSUMER
    chain = [batch]
    while chain[-1].parent_id:
        chain.append(by_id[chain[-1].parent_id])
    assert [s.name for s in chain][-1] == "refresh slot" and chain[-1].kind == PRODUCER
    assert "refresh scan" in [s.name for s in chain]
