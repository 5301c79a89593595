"""No-op functions for measuring the stand-in host's own overhead (bench/devhost.py)."""

from __future__ import annotations

import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="noop", methods=["GET"])
def noop_http(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok")


@app.route(route="size", methods=["POST"])
def body_size(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(str(len(req.get_body())))


@app.queue_trigger(arg_name="msg", queue_name="bench-noop", connection="AzureWebJobsStorage")
def noop_queue(msg: func.QueueMessage) -> None:
    with open(os.environ["BENCH_DONE_FILE"], "a") as done:
        done.write("x")
