"""Names of Quire's storage resources: its queues, containers and tables.

Fixed in code, not settings, because the web tier and the worker must agree on them and
`function_app.py` needs the queue names at import time for its bindings. Only the stores (and
the trigger wiring) use them; the web tier names none (tests/unit/test_layers.py).
"""

CONVERSION_QUEUE = "quire-conversions"
CONVERSION_POISON_QUEUE = f"{CONVERSION_QUEUE}-poison"  # where the host moves failing messages
MANUSCRIPT_CONTAINER = "quire-manuscripts"
WORK_CONTAINER = "quire-work"  # checkpoints between steps; deleted when a job ends
BOOK_CONTAINER = "quire-books"  # published books: {job}/book.epub, {job}/book.pdf and {job}/app/...
JOB_TABLE = "quireJobs"
BOOK_TABLE = "quireBooks"  # PK = book id, RK = "book"; an erased book: PK = a hash of its id, RK = "erased"
FEED_TABLE = "quireFeedSources"  # PK = one of 16 shards of the book id, RK = "{book}:{hash of the feed URL}"
# PK = shelf id, RK = "shelf" or "book:{book id}"; PK = "book:{book id}", RK = a shelf holding it;
# an erased shelf: PK = a hash of its id, RK = "erased"
SHELF_TABLE = "quireShelves"
FEED_CONTAINER = "quire-feeds"  # slots/{slot}, scans/{slot}/{page}.json (a message a line), claims/{slot}/{batch}
FEED_QUEUE = "quire-feeds"  # scan pages and fetch batches
