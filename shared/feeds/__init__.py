"""Feeds: each book's external news sources, refreshed on a schedule and shown in the web-app book.

guard.py     the SSRF policy: which URLs and addresses may be fetched, checked at connect time
fetch.py     one shared aiohttp session: conditional GET, total deadline, decoded-byte cap, redirects
parse.py     RSS, Atom and JSON Feed into sanitised items (pure)
sources.py   a book's feeds and their fetch state, in Table Storage
slots.py     the timer's slot claim, and scanning due sources into fetch batches
messages.py  the queue's two messages, typed: ScanPage and FetchBatch (with its DueSources)
batch.py     one fetch batch: claim, fetch, record states (group commit), merge items
updates.py   a book's news: its feeds' items, kept in their rows, merged on reading
refresh.py   the entry points: the timer, and the feeds queue's scan and fetch messages
"""
