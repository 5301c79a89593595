"""The web tier: each module answers one family of HTTP requests, from the request and the app's
services to the response.

    upload      POST /api/manuscripts: check, store the manuscript and its job, answer 202
    status      GET /api/manuscripts/{id} (and the job lookup the others share), GET /api/health
    books       the published EPUB and web-app book of a succeeded job
    feeds       a book's news feeds (GET/PUT) and their items (/updates)
    pages       the upload page and its static files (static/)
    responses   JSON and problem+json answers, the headers every answer carries
"""
