"""HTTP side of feeds: a book's feed list (GET anonymous, PUT with the owner key), and its updates
(anonymous). The use cases are shared/books/feeds.py.

A feed's address may carry a subscriber's credentials (`?token=…`, `user:password@`): the owner sees
the addresses whole, anyone else sees them with their credentials masked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from shared.books import feeds
from shared.formats import JSONRefused, bounded_json
from shared.services import Services
from shared.web.editions import checked_book_id, presented_owner_key
from shared.web.problems import Problem, answers_problems
from shared.web.responses import NOSNIFF, json_response

CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag"}


@answers_problems
def book_feeds(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    book_id = checked_book_id(req)
    owner_key = presented_owner_key(req)
    if req.method.upper() == "PUT":
        allow_private = services.settings.feeds_allow_private_addresses
        sources = feeds.set_feeds(
            services.storage, book_id, owner_key, lambda: _feed_list(req), allow_private, datetime.now(UTC)
        )
    else:
        sources = feeds.feeds_of(services.storage, book_id, owner_key)
    return json_response({"book": book_id, "feeds": sources})


def _feed_list(req: func.HttpRequest) -> list[Any]:
    try:
        body = bounded_json(req.get_body())
    except JSONRefused as refused:
        raise Problem(
            400, "Not JSON", f'{refused} Send JSON such as {{"feeds": ["https://example.com/feed.xml"]}}.'
        ) from None
    urls = body.get("feeds") if isinstance(body, dict) else None
    if not isinstance(urls, list):
        raise Problem(400, "No feed list", 'Send JSON such as {"feeds": ["https://example.com/feed.xml"]}.')
    return urls


@answers_problems
def book_updates(req: func.HttpRequest, services: Services) -> func.HttpResponse:
    book_id = checked_book_id(req)
    data, etag = feeds.book_updates(services.storage, book_id, services.settings.feeds_max_items)
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
