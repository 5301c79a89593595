"""Quire's Azure Functions app: trigger wiring only. Each handler hands its work to `shared/`."""

from __future__ import annotations

from typing import TYPE_CHECKING, List  # noqa: UP035 - see QueueMessages

import azure.functions as func

from shared import logs
from shared.lazy import lazy_module
from shared.services import get_feed_refresher, get_services
from shared.storage.names import CONVERSION_POISON_QUEUE, CONVERSION_QUEUE, FEED_QUEUE

# Each function's code loads when it first runs (shared/lazy.py): cold start is paid on every scale-out.
if TYPE_CHECKING:
    from shared.web import books, direct_uploads, editions, opds, openapi, pages, shelves, status
    from shared.worker import protocol, recovery
else:
    books, direct_uploads, editions, opds, openapi, pages, shelves, status = (
        lazy_module(f"shared.web.{name}")
        for name in ("books", "direct_uploads", "editions", "opds", "openapi", "pages", "shelves", "status")
    )
    protocol, recovery = lazy_module("shared.worker.protocol"), lazy_module("shared.worker.recovery")

# Before any line is logged: no credential a request carries reaches the logs (shared/logs.py).
logs.install_redaction()

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

# A queue output that sends several messages. The worker's indexer only accepts `typing.List` inside
# `Out[...]`: it refuses the builtin `list[str]` (azure-functions-python-worker #1034, #1176).
QueueMessages = func.Out[List[str]]  # noqa: UP006


@app.function_name("upload_manuscript")
@app.route(route="manuscripts", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@app.queue_output(arg_name="conversion", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
def upload_manuscript(req: func.HttpRequest, conversion: func.Out[str], context: func.Context) -> func.HttpResponse:
    """The first upload's address before books had editions: creates a book, as POST /books does."""
    with logs.bound(invocation=context.invocation_id):
        response, message = editions.create(req, get_services())
        if message is not None:
            conversion.set(message)
        return response


@app.function_name("create_book")
@app.route(route="books", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@app.queue_output(arg_name="conversion", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
def create_book(req: func.HttpRequest, conversion: func.Out[str], context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        response, message = editions.create(req, get_services())
        if message is not None:
            conversion.set(message)
        return response


@app.function_name("publish_edition")
@app.route(route="books/{id}/editions", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.queue_output(arg_name="conversion", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
def publish_edition(req: func.HttpRequest, conversion: func.Out[str], context: func.Context) -> func.HttpResponse:
    # Anonymous to the host: the book's owner key guards it (shared/web/editions.py).
    with logs.bound(invocation=context.invocation_id):
        response, message = editions.publish_edition(req, get_services())
        if message is not None:
            conversion.set(message)
        return response


@app.function_name("request_upload")
@app.route(route="uploads", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def request_upload(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """A direct upload (valet key) for a new book: a SAS to write the manuscript straight to storage."""
    with logs.bound(invocation=context.invocation_id):
        return direct_uploads.ask_for_new_book(req, get_services())


@app.function_name("request_edition_upload")
@app.route(route="books/{id}/uploads", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def request_edition_upload(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    # Anonymous to the host: the book's owner key guards it.
    with logs.bound(invocation=context.invocation_id):
        return direct_uploads.ask_for_edition(req, get_services())


@app.function_name("submit_upload")
@app.route(route="uploads/{id}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@app.queue_output(arg_name="conversion", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
def submit_upload(req: func.HttpRequest, conversion: func.Out[str], context: func.Context) -> func.HttpResponse:
    # Anonymous to the host: the owner key handed out with the upload guards it.
    with logs.bound(invocation=context.invocation_id):
        response, message = direct_uploads.submit(req, get_services())
        if message is not None:
            conversion.set(message)
        return response


@app.function_name("book")
@app.route(route="books/{id}", methods=["GET", "HEAD", "DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
@app.queue_output(arg_name="erasure", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
def book(req: func.HttpRequest, erasure: func.Out[str], context: func.Context) -> func.HttpResponse:
    # Reading is anonymous (the id is the capability); DELETE needs the owner key.
    with logs.bound(invocation=context.invocation_id):
        response, message = editions.book(req, get_services())
        if message is not None:
            erasure.set(message)
        return response


@app.function_name("rotate_owner_key")
@app.route(route="books/{id}/owner-key", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def rotate_owner_key(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return editions.rotate_key(req, get_services())


@app.function_name("download_book_epub")
@app.route(route="books/{id}/book.epub", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def download_book_epub(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return books.download_epub(req, get_services())


@app.function_name("download_book_pdf")
@app.route(route="books/{id}/book.pdf", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def download_book_pdf(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return books.download_pdf(req, get_services())


@app.function_name("book_opds")
@app.route(route="books/{id}/opds", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def book_opds(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return opds.book_catalog(req, get_services(), version=1)


@app.function_name("book_opds_json")
@app.route(route="books/{id}/opds.json", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def book_opds_json(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return opds.book_catalog(req, get_services(), version=2)


@app.function_name("create_shelf")
@app.route(route="shelves", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def create_shelf(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return shelves.create(req, get_services())


@app.function_name("shelf")
@app.route(route="shelves/{id}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
def shelf(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    # Anonymous to the host: the shelf key guards it (shared/web/shelves.py).
    with logs.bound(invocation=context.invocation_id):
        return shelves.shelf(req, get_services())


@app.function_name("shelf_book")
@app.route(route="shelves/{id}/books/{book}", methods=["PUT", "DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
def shelf_book(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return shelves.shelf_book(req, get_services())


@app.function_name("shelf_opds")
@app.route(route="shelves/{id}/opds", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def shelf_opds(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return shelves.catalog(req, get_services(), version=1)


@app.function_name("shelf_opds_json")
@app.route(route="shelves/{id}/opds.json", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def shelf_opds_json(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return shelves.catalog(req, get_services(), version=2)


@app.function_name("shelf_opensearch")
@app.route(route="shelves/{id}/opensearch.xml", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def shelf_opensearch(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return shelves.opensearch(req, get_services())


@app.function_name("openapi")
@app.route(route="openapi.json", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi_description(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """The API's OpenAPI 3.1 description (shared/web/openapi.json)."""
    with logs.bound(invocation=context.invocation_id):
        return openapi.serve(req)


@app.function_name("get_manuscript")
@app.route(route="manuscripts/{id}", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def get_manuscript(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return status.get_job(req, get_services())


@app.function_name("health")
@app.route(route="health", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return status.health(get_services())


@app.function_name("download_epub")
@app.route(route="manuscripts/{id}/book.epub", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def download_epub(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return books.download_edition_epub(req, get_services())


@app.function_name("serve_app")
@app.route(route="books/{id}/app/{*path}", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def serve_app(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return books.serve_app_file(req, get_services())


@app.function_name("convert")
@app.queue_trigger(arg_name="msg", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
@app.queue_output(arg_name="next_steps", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
def convert(msg: func.QueueMessage, next_steps: QueueMessages, context: func.Context) -> None:
    with logs.bound(invocation=context.invocation_id):
        services = get_services()
        messages = protocol.run_conversion_message(services, msg.get_body(), msg.id or "")
        if messages:
            next_steps.set(messages)


@app.function_name("convert_poison")
@app.queue_trigger(arg_name="msg", queue_name=CONVERSION_POISON_QUEUE, connection="AzureWebJobsStorage")
@app.queue_output(arg_name="redrive", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
def convert_poison(msg: func.QueueMessage, redrive: QueueMessages, context: func.Context) -> None:
    with logs.bound(invocation=context.invocation_id):
        messages = recovery.handle_poison_message(get_services().storage, msg.get_body())
        if messages:
            redrive.set(messages)


@app.function_name("reconcile")
@app.timer_trigger(arg_name="timer", schedule="%RECONCILE_SCHEDULE%", run_on_startup=False, use_monitor=True)
@app.queue_output(arg_name="redrive", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
def reconcile(timer: func.TimerRequest, redrive: QueueMessages, context: func.Context) -> None:
    with logs.bound(invocation=context.invocation_id):
        services = get_services()
        settings = services.settings
        messages = recovery.reconcile(
            services.storage,
            settings.job_stall_seconds,
            settings.abandoned_upload_seconds,
            sas_seconds=settings.direct_upload_sas_seconds,
        )
        if messages:
            redrive.set(messages)


@app.function_name("book_feeds")
@app.route(route="books/{id}/feeds", methods=["GET", "HEAD", "PUT"], auth_level=func.AuthLevel.ANONYMOUS)
def book_feeds(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    # Reading is anonymous; PUT needs the book's owner key (shared/web/feeds.py).
    with logs.bound(invocation=context.invocation_id):
        from shared.web import feeds  # loaded on first use: keeps the app's cold start short

        return feeds.book_feeds(req, get_services())


@app.function_name("book_updates")
@app.route(route="books/{id}/updates", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def book_updates(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        from shared.web import feeds

        return feeds.book_updates(req, get_services())


@app.function_name("refresh")
@app.timer_trigger(arg_name="timer", schedule="%REFRESH_SCHEDULE%", run_on_startup=False, use_monitor=True)
@app.queue_output(arg_name="work", queue_name=FEED_QUEUE, connection="AzureWebJobsStorage")
def refresh(timer: func.TimerRequest, work: QueueMessages, context: func.Context) -> None:
    with logs.bound(invocation=context.invocation_id):
        from shared.feeds import refresh as feeds

        messages = feeds.start_from_timer(get_services().storage, timer.schedule_status)  # type: ignore[attr-defined]
        if messages:
            work.set(messages)


@app.function_name("refresh_feeds")
@app.queue_trigger(arg_name="msg", queue_name=FEED_QUEUE, connection="AzureWebJobsStorage")
@app.queue_output(arg_name="more", queue_name=FEED_QUEUE, connection="AzureWebJobsStorage")
async def refresh_feeds(msg: func.QueueMessage, more: QueueMessages, context: func.Context) -> None:
    with logs.bound(invocation=context.invocation_id):
        from shared.feeds import refresh as feeds

        services = get_services()
        messages = await feeds.handle_queue_message(
            services.storage,
            services.settings,
            get_feed_refresher(),
            msg.get_body(),
        )
        if messages:
            more.set(messages)


@app.function_name("upload_page")
@app.route(route="{page?}", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def upload_page(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return pages.upload_page(req, get_services())


@app.function_name("static_files")
@app.route(route="static/{name}", methods=["GET", "HEAD"], auth_level=func.AuthLevel.ANONYMOUS)
def static_files(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    with logs.bound(invocation=context.invocation_id):
        return pages.static_file(req)
