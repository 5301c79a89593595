"""Feeds: each book's external news sources, refreshed on a schedule and shown in the web-app book.

guard.py     the SSRF policy: which URLs and addresses may be fetched, checked at connect time
fetch.py     one shared httpx client: conditional GET, total deadline, decoded-byte cap, redirects
parse.py     RSS, Atom and JSON Feed into sanitised items (pure)
refresh.py   sources in Table Storage, slot claiming, fan-out, fetch batches, updates.json
"""
