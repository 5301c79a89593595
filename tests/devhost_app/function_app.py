"""A small app for testing the stand-in host: every trigger kind, with behaviour chosen per message.

Each invocation appends a JSON line to $RECORD_DIR/<function>.jsonl so tests can see what ran.
"""

from __future__ import annotations

import json
import logging
import os
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def record(name: str, **fields: object) -> None:
    path = os.path.join(os.environ["RECORD_DIR"], f"{name}.jsonl")
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"pid": os.getpid(), "at": time.time(), **fields}) + "\n")


@app.route(route="items/{n:int}", methods=["GET"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"n": req.route_params["n"]}), mimetype="application/json")


@app.route(route="items/{name:alpha}", methods=["GET"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"name={req.route_params['name']}")


@app.route(route="things/{id?}")
def things(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(dict(req.route_params)), mimetype="application/json")


@app.route(route="files/{*path}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("path", ""), headers={"X-Served-By": "files"})


@app.route(route="echo", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = {
        "method": req.method,
        "headers": dict(req.headers),
        "params": dict(req.params),
        "body": req.get_body().decode("latin-1"),
        "url": req.url,
    }
    return func.HttpResponse(json.dumps(body), status_code=201, mimetype="application/json")


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("deliberate failure")


@app.route(route="pid", methods=["GET"])
def pid(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(str(os.getpid()))


@app.route(route="slow", methods=["GET"])
def slow(req: func.HttpRequest) -> func.HttpResponse:
    record("slow", started=True)
    time.sleep(float(req.params.get("s", "5")))
    return func.HttpResponse("done")


@app.route(route="blocking-async")
async def blocking_async(req: func.HttpRequest) -> func.HttpResponse:
    record("blocking_async", started=True)
    time.sleep(float(req.params.get("s", "3")))  # a blocking call inside async def: stalls this worker's loop
    return func.HttpResponse("unblocked")


@app.route(route="slow-async")
async def slow_async(req: func.HttpRequest) -> func.HttpResponse:
    import asyncio

    record("slow_async", event="start")
    await asyncio.sleep(float(req.params.get("s", "0.5")))
    record("slow_async", event="end")
    return func.HttpResponse("done")


@app.route(route="enqueue", methods=["POST"])
@app.queue_output(arg_name="out", queue_name="devhost-work", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode("utf-8"))
    if req.params.get("fail"):
        raise RuntimeError("failing after setting the output")
    return func.HttpResponse("queued", status_code=202)


@app.queue_trigger(arg_name="msg", queue_name="devhost-work", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage):  # returns a value when asked to
    body = json.loads(msg.get_body())
    record(
        "work",
        id=msg.id,
        body=body,
        dequeue_count=msg.dequeue_count,
        pop_receipt=msg.pop_receipt,
        inserted=str(msg.insertion_time),
        next_visible=str(msg.time_next_visible),
    )
    logging.info("working on %s", body.get("tag"))
    if body.get("sleep") and not (body.get("sleep_once") and (msg.dequeue_count or 0) > 1):
        time.sleep(float(body["sleep"]))
        record("work_done", id=msg.id, body=body)
    if body.get("fail"):
        raise RuntimeError("deliberate queue failure")
    if body.get("return_value"):
        return "a value, though there is no $return binding"  # the worker fails this invocation


@app.schedule(schedule="%TICK_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def tick(timer: func.TimerRequest) -> None:
    record("tick", past_due=timer.past_due, status=getattr(timer, "schedule_status", None))
