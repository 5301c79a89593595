"""HTTP side of feeds: a book's feed list (GET anonymous, PUT with the owner key), and its updates (anonymous).

A feed's address may carry a subscriber's credentials (`?token=…`, `user:password@`): the owner sees
the addresses whole, anyone else sees them with their credentials masked."""

from __future__ import annotations

from datetime import UTC, datetime

import azure.functions as func

from shared.feeds.guard import BlockedURL
from shared.feeds.sources import list_sources, public_source, set_sources, validate_feed_urls
from shared.feeds.updates import book_news
from shared.formats import JSONRefused, bounded_json
from shared.library.erasure import erase_feeds
from shared.library.record import Book
from shared.library.store import BookState, read_book
from shared.logs import redact
from shared.services import Services
from shared.storage import NotFound, StorageUnavailable
from shared.web.editions import owned_book, presented_owner_key, readable_book, refusal_response
from shared.web.responses import NOSNIFF, json_response, problem, storage_unavailable

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag"}


def book_feeds(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    book_id = req.route_params.get("id", "")
    try:
        if req.method.upper() == "PUT":
            owned = owned_book(req, services, book_id)
            if isinstance(owned, func.HttpResponse):
                return owned
            try:
                body = bounded_json(req.get_body())
            except JSONRefused as refused:
                return problem(
                    400, "Not JSON", f'{refused} Send JSON such as {{"feeds": ["https://example.com/feed.xml"]}}.'
                )
            urls = body.get("feeds") if isinstance(body, dict) else None
            if not isinstance(urls, list):
                return problem(400, "No feed list", 'Send JSON such as {"feeds": ["https://example.com/feed.xml"]}.')
            try:
                cleaned = validate_feed_urls(urls, services.settings.feeds_allow_private_addresses)
            except BlockedURL as error:
                return problem(400, "Feed not accepted", f"This feed list was not accepted: {error}.")
            set_sources(services.storage, book_id, cleaned, datetime.now(UTC), replace=True)
            _undo_if_erased(services, book_id)
            whole = True
        else:
            found = readable_book(services, book_id)
            if isinstance(found, func.HttpResponse):
                return found
            owner_key = presented_owner_key(req)
            if owner_key is not None and not found.owner_key_matches(owner_key):
                return refusal_response(BookState.WRONG_KEY)
            whole = owner_key is not None
        sources = [public_source(p) for p in list_sources(services.storage, book_id)]
        if not whole:
            sources = [{**s, "url": redact(s["url"]), "last_error": redact(s["last_error"])} for s in sources]
    except StorageUnavailable:
        return storage_unavailable()
    return json_response({"book": book_id, "feeds": sources})


def _undo_if_erased(services: Services, book_id: str) -> None:
    """An erasure that began while the feeds were being written may have swept before they landed."""
    try:
        book: Book | None = read_book(services.storage, book_id)
    except NotFound:
        book = None
    if book is None or book.erasing:
        erase_feeds(services.storage, book_id)


def book_updates(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    book_id = req.route_params.get("id", "")
    try:
        found = readable_book(services, book_id)
        if isinstance(found, func.HttpResponse):
            return found
        data, etag = book_news(list_sources(services.storage, book_id), services.settings.feeds_max_items)
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
