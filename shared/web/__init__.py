"""The web tier: each module answers one family of HTTP requests: it parses the request, calls one
use case (shared/books/), and answers; what the use case raises is answered in problems.

    editions    POST /api/manuscripts and /api/books: create a book; its editions, key and erasure
    uploads     direct uploads: ask for one, submit it
    status      GET /api/manuscripts/{id} (and the job lookup the others share), GET /api/health
    books       the published EPUB and web-app book of a succeeded job
    feeds       a book's news feeds (GET/PUT) and their items (/updates)
    openapi     GET /api/openapi.json: the API's OpenAPI 3.1 description (openapi.json beside it)
    pages       the upload page and its static files (static/)
    problems    the one place an error (a Problem, or a use case's domain error) becomes problem+json
    responses   JSON and problem+json answers, the headers every answer carries
"""
