"""The shapes of Quire's API as scripts/quire_client.py reads and sends them: one TypedDict per
schema of the OpenAPI description (shared/web/openapi.json, `components.schemas`, same names),
checked against it by tests/unit/test_client_shapes.py. Standard library only."""

from typing import Any, Literal, NotRequired, TypedDict


class Problem(TypedDict):
    type: str
    title: str
    status: int
    detail: str
    accepted: NotRequired[list[str]]


class Job(TypedDict):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: dict[str, Any]
    created: str
    updated: str
    manuscript: dict[str, Any]
    metadata: dict[str, str]
    book: str
    edition: int
    links: dict[str, str]
    queue: NotRequired[dict[str, int]]
    error: NotRequired[str]
    warnings: NotRequired[list[str]]
    release_notes: NotRequired[str]
    changes: NotRequired[dict[str, Any]]


class CreatedBook(Job):
    owner_key: str
    owner_key_note: str
    book_links: dict[str, str]


class SubmittedUpload(Job):
    book_links: dict[str, str]


class Book(TypedDict):
    id: str
    title: str
    created: str
    updated: str
    published_edition: int | None
    editions: list[dict[str, Any]]
    links: dict[str, str]
    release_notes: NotRequired[str]
    changes: NotRequired[dict[str, Any] | None]


class Erasing(TypedDict):
    id: str
    status: str
    detail: str


class RotatedKey(TypedDict):
    id: str
    owner_key: str


class DirectUploadRequest(TypedDict):
    filename: str
    size: int
    title: NotRequired[str]
    author: NotRequired[str]
    language: NotRequired[str]
    split_level: NotRequired[int | str]
    pdf_page: NotRequired[str]
    release_notes: NotRequired[str]


class DirectUpload(TypedDict):
    id: str
    upload: dict[str, Any]
    submit: dict[str, str]
    owner_key: NotRequired[str]
    book: NotRequired[str]


class Feeds(TypedDict):
    book: str
    feeds: list[dict[str, Any]]


class FeedsRequest(TypedDict):
    feeds: list[str]


class ShelfRequest(TypedDict, total=False):
    title: str


class CreatedShelf(TypedDict):
    id: str
    title: str
    shelf_key: str
    shelf_key_note: str
    links: dict[str, str]


class ShelfBook(TypedDict):
    shelf: str
    book: str
    on_shelf: bool
    changed: bool


class ErasedShelf(TypedDict):
    id: str
    status: str
