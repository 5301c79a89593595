"""HTTP side of feeds: an author's feed list (GET/PUT, function key), and a book's updates (anonymous)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import azure.functions as func

from shared.feeds.guard import BlockedURL
from shared.feeds.sources import list_sources, public_source, set_sources, validate_feed_urls
from shared.feeds.updates import updates_blob
from shared.jobs.record import Job, JobStatus
from shared.services import Services
from shared.settings import BOOK_CONTAINER
from shared.storage import NotFound, StorageUnavailable
from shared.web.responses import NOSNIFF, json_response, problem, storage_unavailable
from shared.web.status import job_or_problem

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag"}


def _book(services: Services, book_id: str) -> Job | func.HttpResponse:
    job = job_or_problem(services, book_id)
    if isinstance(job, func.HttpResponse):
        return job
    if job.status is JobStatus.FAILED:
        return problem(404, "No book", "This manuscript could not be converted, so it has no book to follow feeds for.")
    return job


def book_feeds(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    book_id = req.route_params.get("id", "")
    try:
        found = _book(services, book_id)
        if isinstance(found, func.HttpResponse):
            return found
        if req.method.upper() == "PUT":
            try:
                body = req.get_json()
            except ValueError:
                return problem(400, "Not JSON", 'Send JSON such as {"feeds": ["https://example.com/feed.xml"]}.')
            urls = body.get("feeds") if isinstance(body, dict) else None
            if not isinstance(urls, list):
                return problem(400, "No feed list", 'Send JSON such as {"feeds": ["https://example.com/feed.xml"]}.')
            try:
                cleaned = validate_feed_urls(urls, services.settings.feeds_allow_private_addresses)
            except BlockedURL as error:
                return problem(400, "Feed not accepted", f"This feed list was not accepted: {error}.")
            set_sources(services.storage, book_id, cleaned, datetime.now(UTC), replace=True)
        sources = [public_source(p) for p in list_sources(services.storage, book_id)]
    except StorageUnavailable:
        return storage_unavailable()
    return json_response({"book": book_id, "feeds": sources})


def book_updates(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    book_id = req.route_params.get("id", "")
    try:
        found = _book(services, book_id)
        if isinstance(found, func.HttpResponse):
            return found
        try:
            data, etag = services.storage.read_blob_with_etag(BOOK_CONTAINER, updates_blob(book_id))
        except NotFound:
            data, etag = (json.dumps({"updated": None, "items": []}) + "\n").encode(), '"none"'
    except StorageUnavailable:
        return storage_unavailable()
    headers = {
        "ETag": etag,
        "Cache-Control": "no-cache",
        **NOSNIFF,
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",  # data, never a page
        **CORS,
    }
    if req.headers.get("if-none-match") == etag:
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(data, status_code=200, mimetype="application/json", charset="utf-8", headers=headers)
