"""Feed refresh benchmark: 2,000 sources on a local server that answers after 100 ms.

Half the sources already hold the server's ETag (so they get 304), half get a feed. The refresh
runs as the queue runs it (scan pages, then fetch batches, as many at once as host.json lets one
worker take, over one client of 100 connections) against Azurite. Prints the wall time as a ratio of the floor (sources × latency ÷
concurrency), the bytes conditional GET saved, the peak memory at 500 and 2,000 sources, and the
refresher's CPU per source against the floor of a bare client (aiohttp alone) fetching the same URLs
with the same validators and concurrency in the same run.

With `--processes N`, the fetch batches are shared out among N worker processes (as N hosts, or
FUNCTIONS_WORKER_PROCESS_COUNT, would take them off the queue), each with 100/N connections.

Run: `.venv/bin/python bench/refresh.py [--sources 2000] [--feeds-per-book 10] [--processes 1] [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from shared.feeds import batch as feed_batch  # noqa: E402
from shared.feeds import slots  # noqa: E402
from shared.feeds import sources as feed_sources  # noqa: E402
from shared.feeds.fetch import make_client  # noqa: E402
from shared.feeds.messages import FetchBatch, ScanPage, parse_feed_message  # noqa: E402
from shared.feeds.refresh import FeedRefresher  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.storage import Storage  # noqa: E402
from shared.storage.aio import AsyncStorage  # noqa: E402
from shared.storage.names import FEED_TABLE  # noqa: E402
from tests.feeds.servers import RSS  # noqa: E402
from tests.support import start_azurite  # noqa: E402

LATENCY = 0.1
CONCURRENCY = 100
# Azurite and the feed server run on the same cores as the refresher: their CPU is counted too.
NEIGHBOURS: list[psutil.Process] = []


def neighbours_cpu() -> float:
    return sum(sum(process.cpu_times()[:2]) for process in NEIGHBOURS)


def seed(storage: Storage, server: RemoteFeedServer, count: int, tag: str, now: datetime, per_book: int) -> None:
    for index in range(count):
        book = f"{tag}{index // per_book:05d}".ljust(22, "x")[:22]
        source = feed_sources.new_source(book, server.url(f"/rss?n={index}"), now - timedelta(minutes=1))
        source["etag"] = '"v1"' if index % 2 else ""  # every other source answers 304
        storage.upsert_entity(FEED_TABLE, source)


async def bare_client_fetch(server: RemoteFeedServer, count: int, concurrency: int) -> int:
    """The floor: a bare client (aiohttp's, which does little besides HTTP) fetching the same URLs
    with the same validators (every other one answers 304), `concurrency` at a time, reading each
    body and nothing else: no guard, no parsing, no storage. (httpx with one default pool is no
    floor: its pool's CPU grows with the square of its size, shared/feeds/fetch.py.)"""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(index: int) -> int:
            headers = {"If-None-Match": '"v1"'} if index % 2 else {}
            async with gate, session.get(server.url(f"/rss?n={index}"), headers=headers) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(one(index) for index in range(count)))
    return sum(1 for status in statuses if status in (200, 304))


def host_messages_in_flight() -> int:
    """How many queue messages the host runs at once on one worker: batchSize + newBatchThreshold."""
    queues = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    return int(queues["batchSize"]) + int(queues["newBatchThreshold"])


# (pages, seconds) of each slot's scan: the pages follow one another, so their pace bounds how
# many sources one slot can reach (docs/operations.md, "Scaling on paper").
SCANS: list[tuple[int, float]] = []


def scan_all(storage: Storage, slot: str, now: datetime) -> list[FetchBatch]:
    started = time.perf_counter()
    pending = slots.start_refresh(storage, slot)
    batches: list[FetchBatch] = []
    pages = 0
    while pending:
        message = parse_feed_message(pending.pop(0))
        if isinstance(message, ScanPage):
            pages += 1
            pending.extend(slots.scan(storage, message.slot, message.continuation, now))
        elif isinstance(message, FetchBatch):
            batches.append(message)
    SCANS.append((pages, time.perf_counter() - started))
    return batches


# A worker process's event loop and refresher, kept between its invocations as the Python worker
# keeps its loop and Quire keeps its refresher (shared/services.py).
_WORKER: dict[str, Any] = {}


def _worker_refresher(connection: str, concurrency: int) -> tuple[asyncio.AbstractEventLoop, FeedRefresher]:
    if not _WORKER:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        refresher = loop.run_until_complete(made_refresher(connection, concurrency))
        atexit.register(lambda: loop.run_until_complete(refresher.close()))  # as the worker shuts down
        _WORKER.update(loop=loop, refresher=refresher)
    return _WORKER["loop"], _WORKER["refresher"]


def worker_fetch(
    connection: str, batches: list[FetchBatch], now: datetime, concurrency: int
) -> tuple[dict[str, int], float, int]:
    """One worker process's share of the batches: its totals, CPU seconds and peak memory (MiB)."""
    settings = Settings.from_env({"AzureWebJobsStorage": connection, "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true"})
    loop, refresher = _worker_refresher(connection, concurrency)
    gc.collect()  # each measured run starts from a collected heap, as the floor's does
    cpu = time.process_time()
    totals = loop.run_until_complete(fetch_all(settings, refresher, batches, now))
    return totals, time.process_time() - cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def warm_up(connection: str, batch: FetchBatch, now: datetime, concurrency: int) -> None:
    """A worker process as it is after its first batch of any slot: modules loaded, its feed client
    and storage clients made, the container and table known. A one-off per process, not per slot."""
    settings = Settings.from_env({"AzureWebJobsStorage": connection, "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true"})
    loop, refresher = _worker_refresher(connection, concurrency)
    loop.run_until_complete(fetch_all(settings, refresher, [batch], now))
    time.sleep(0.5)  # long enough that each worker process gets one of these


async def fetch_all(
    settings: Settings, refresher: FeedRefresher, batches: list[FetchBatch], now: datetime
) -> dict[str, int]:
    """The batches as one worker process runs them: its shared feed client and asyncio storage."""
    totals = {"fetched": 0, "not_modified": 0, "errors": 0}
    in_flight = asyncio.Semaphore(host_messages_in_flight())  # as the host hands one worker messages

    async def one(batch: FetchBatch) -> None:
        async with in_flight:
            counts = await feed_batch.fetch_batch(refresher.storage, refresher.client, batch, settings, now)
        for key, value in counts.items():
            totals[key] += value

    await asyncio.gather(*(one(b) for b in batches))
    return totals


async def run_refresh(
    storage: Storage, settings: Settings, refresher: FeedRefresher, slot: str, now: datetime
) -> dict[str, int]:
    batches = await asyncio.to_thread(scan_all, storage, slot, now)
    return await fetch_all(settings, refresher, batches, now)


async def made_refresher(connection: str, concurrency: int) -> FeedRefresher:
    """A process's refresher, made on the loop that uses it (aiohttp binds a session to its loop)."""
    return FeedRefresher(make_client(True, concurrency=concurrency), AsyncStorage(connection))


async def timed_refresh(
    storage: Storage, server: RemoteFeedServer, settings: Settings, refresher: FeedRefresher, tag: str, count: int,
    per_book: int,
) -> tuple[float, float, dict[str, int], float]:  # fmt: skip
    """(wall, CPU, totals, neighbours' CPU) of one slot's refresh of `count` fresh sources."""
    now = datetime.now(UTC)
    seed(storage, server, count, tag, now, per_book)
    gc.collect()  # each measured run starts from a collected heap, as the floor's does
    started, cpu_started, side_started = time.perf_counter(), time.process_time(), neighbours_cpu()
    totals = await run_refresh(storage, settings, refresher, f"bench-{tag}", now)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return elapsed, cpu, totals, neighbours_cpu() - side_started


def floor_in_loop(runner: asyncio.Runner, server: RemoteFeedServer, count: int) -> tuple[float, float]:
    """(CPU seconds per source, wall seconds) of the bare client over `count` sources."""
    gc.collect()  # from a collected heap, as each measured refresh
    started, cpu_started = time.perf_counter(), time.process_time()
    answered = runner.run(bare_client_fetch(server, count, CONCURRENCY))
    cpu, elapsed = time.process_time() - cpu_started, time.perf_counter() - started
    assert answered == count, f"the bare client got {answered} answers of {count}"
    return cpu / count, elapsed


# (refresh wall, refresh CPU, totals, neighbours' CPU, floor CPU per source, floor wall) of each repeat
Run = tuple[float, float, dict[str, int], float, float, float]


def measure_one_process(
    count: int, storage: Storage, server: RemoteFeedServer, settings: Settings, per_book: int, repeats: int
) -> tuple[list[Run], str]:
    """A quarter of the sources first (the process's first use of its refresher), then `repeats`
    times: the floor, and right after it a refresh of `count` fresh sources, on one loop and one
    refresher (as a worker keeps both between invocations)."""
    runs: list[Run] = []
    with asyncio.Runner() as runner:
        refresher = runner.run(made_refresher(settings.storage_connection, CONCURRENCY))
        try:
            small = runner.run(timed_refresh(storage, server, settings, refresher, "s", count // 4, per_book))
            rss_small = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            for repeat in range(repeats):
                floor_cpu, floor_wall = floor_in_loop(runner, server, count)
                run = runner.run(timed_refresh(storage, server, settings, refresher, f"b{repeat}", count, per_book))
                runs.append((*run, floor_cpu, floor_wall))
            rss_big = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        finally:
            runner.run(refresher.close())
    memory = f"{rss_small} MiB after {count // 4} sources ({small[0]:.1f} s), {rss_big} MiB after {repeats} × {count}"
    return runs, memory


def measure_processes(
    count: int, storage: Storage, server: RemoteFeedServer, connection: str, per_book: int, processes: int,
    repeats: int,
) -> tuple[list[Run], str]:  # fmt: skip
    """The same refreshes with the fetch batches shared out among worker processes, started and
    warmed beforehand (each has run one batch of another slot); the floor before each."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    now = datetime.now(UTC)
    seed(storage, server, processes, "w", now, 1)
    warming = [
        FetchBatch(batch.slot, f"{batch.batch}-{index}", [source])
        for batch in scan_all(storage, "bench-w", now)
        for index, source in enumerate(batch.sources)
    ]
    share = CONCURRENCY // processes
    runs: list[Run] = []
    rss_worker = 0
    with (
        asyncio.Runner() as runner,
        ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool,
    ):
        for warmed in [pool.submit(warm_up, connection, batch, now, share) for batch in warming]:
            warmed.result()
        for repeat in range(repeats):
            floor_cpu, floor_wall = floor_in_loop(runner, server, count)
            now = datetime.now(UTC)
            seed(storage, server, count, f"p{repeat}", now, per_book)
            gc.collect()
            started, cpu_started, side_started = time.perf_counter(), time.process_time(), neighbours_cpu()
            batches = scan_all(storage, f"bench-p{repeat}", now)
            shares = [batches[i::processes] for i in range(processes)]
            results = list(pool.map(worker_fetch, [connection] * processes, shares, [now] * processes,
                                    [share] * processes))  # fmt: skip
            elapsed, side = time.perf_counter() - started, neighbours_cpu() - side_started
            totals = {key: sum(r[0][key] for r in results) for key in results[0][0]}
            cpu = time.process_time() - cpu_started + sum(r[1] for r in results)
            runs.append((elapsed, cpu, totals, side, floor_cpu, floor_wall))
            rss_worker = max(rss_worker, *(r[2] for r in results))
    return runs, f"{rss_worker} MiB in the largest of {processes} worker processes"


SERVER = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from tests.feeds.servers import FeedServer
server = FeedServer(latency={LATENCY}).start()
print(server.port, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
"""


class RemoteFeedServer:
    """The feed server in its own process: its work must not compete with the refresher's for the GIL."""

    def __init__(self) -> None:
        import subprocess

        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.port = int(self.process.stdout.readline())  # type: ignore[union-attr]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.terminate()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--feeds-per-book", type=int, default=10, help="most real books follow one or two")
    parser.add_argument("--processes", type=int, default=1, help="worker processes sharing the fetch batches")
    parser.add_argument("--repeats", type=int, default=3, help="refreshes, each right after a floor run")
    args = parser.parse_args()
    azurite = start_azurite()
    server = RemoteFeedServer()
    try:
        NEIGHBOURS.extend(psutil.Process(p.pid) for p in (azurite.process, server.process))
        storage = Storage(azurite.connection_string)
        settings = Settings.from_env(
            {"AzureWebJobsStorage": azurite.connection_string, "FEEDS_ALLOW_PRIVATE_ADDRESSES": "true"}
        )
        if args.processes == 1:
            runs, memory = measure_one_process(
                args.sources, storage, server, settings, args.feeds_per_book, args.repeats
            )
        else:
            runs, memory = measure_processes(
                args.sources, storage, server, azurite.connection_string, args.feeds_per_book, args.processes,
                args.repeats,
            )  # fmt: skip
    finally:
        server.stop()
        azurite.stop()
    floor = args.sources * LATENCY / CONCURRENCY
    ratios = sorted(run[1] / args.sources / run[4] for run in runs)
    elapsed, cpu, totals, side, _, floor_wall = sorted(runs, key=lambda run: run[1] / run[4])[len(runs) // 2]
    saved = totals["not_modified"] * len(RSS)
    sent = totals["fetched"] * len(RSS)  # every 200 carried the whole feed
    print(
        f"{args.sources} sources ({args.feeds_per_book} per book), server latency {LATENCY * 1000:.0f} ms,"
        f" concurrency {CONCURRENCY} over {args.processes} process(es), {len(runs)} runs (the median run shown)"
    )
    print(f"  results     : {totals}")
    walls = sorted(run[0] / floor for run in runs)
    print(
        f"  wall time   : {elapsed:.2f} s; floor {floor:.2f} s; ratio {elapsed / floor:.2f}×"
        f" (runs {walls[0]:.2f}–{walls[-1]:.2f}×)  (target ≤ 2× with two processes)"
    )
    per_run = sorted(run[1] / args.sources * 1e6 for run in runs)
    floors = sorted(run[4] * 1e6 for run in runs)
    print(
        f"  refresher CPU: {cpu:.2f} s ({cpu / args.sources * 1e6:.0f} µs per source: scan, fetch, parse, storage;"
        f" runs {per_run[0]:.0f}–{per_run[-1]:.0f} µs), so {args.processes} process(es) cannot go below"
        f" {cpu / args.processes / floor:.2f}× the floor"
    )
    # Each run is set against the floor measured just before it: the machine's pace drifts.
    print(
        f"  bare client : {floors[0]:.0f}–{floors[-1]:.0f} µs CPU per source (aiohttp alone, same URLs, same"
        f" concurrency, {floor_wall:.2f} s); refresher / bare client: median {ratios[len(ratios) // 2]:.2f}×,"
        f" runs {', '.join(f'{r:.2f}' for r in ratios)}  (target ≤ 2×)"
    )
    cores = os.cpu_count() or 1
    print(
        f"  machine CPU : refresher {cpu:.2f} s + Azurite and feed server {side:.2f} s = {cpu + side:.2f} s"
        f" in {elapsed:.2f} s on {cores} cores ({(cpu + side) / (elapsed * cores):.0%} busy)"
    )
    print(f"  bytes       : {sent:,} received; {saved:,} saved by conditional GET ({saved / (saved + sent):.0%})")
    print(f"  peak memory : {memory}")
    if SCANS:
        pages, seconds = SCANS[-1]
        per_page = seconds / pages
        reach = 900 / per_page * slots.SCAN_PAGE
        print(
            f"  scan        : {pages} pages of up to {slots.SCAN_PAGE} in {seconds:.2f} s ({per_page * 1000:.0f} ms a page,"
            f" one after another: at this pace one slot's scan reaches {reach:,.0f} sources in 15 minutes)"
        )


if __name__ == "__main__":
    main()
