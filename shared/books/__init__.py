"""The application layer: every use case of a book, each a function that takes storage and plain
values, raises the domain errors drawn in shared/errors.py, and knows nothing of HTTP or queues
(it returns the message to send, and the tier that called it sends it).

    editions    create a book, publish an edition, rotate the owner key, start an erasure; and the
                one check every change makes first (`book_to_change`)
    reading     a book, a job's status, the edition a book's address serves, an edition's files
    uploads     ask for and submit a direct upload (how a direct upload becomes a job)
    feeds       a book's feed list: read it, set it (then undo if the book is being erased)
    publishing  publish a packaged edition: point the book at it, register its feeds, drop the
                editions no longer kept, mark its job succeeded

The stores below (shared/library/, shared/jobs/, shared/feeds/) name the tables and containers;
nothing here does.
"""
