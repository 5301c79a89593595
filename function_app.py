"""Quire's Azure Functions app: trigger wiring only. Each handler hands its work to `shared/`."""

from __future__ import annotations

import azure.functions as func

from shared import api
from shared.services import get_services
from shared.settings import CONVERSION_QUEUE

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.function_name("upload_manuscript")
@app.route(route="manuscripts", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@app.queue_output(arg_name="conversion", queue_name=CONVERSION_QUEUE, connection="AzureWebJobsStorage")
def upload_manuscript(req: func.HttpRequest, conversion: func.Out[str]) -> func.HttpResponse:
    response, message = api.submit_manuscript(req, get_services())
    if message is not None:
        conversion.set(message)
    return response


@app.function_name("get_manuscript")
@app.route(route="manuscripts/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_manuscript(req: func.HttpRequest) -> func.HttpResponse:
    return api.get_job(req, get_services())


@app.function_name("health")
@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return api.health(get_services())
