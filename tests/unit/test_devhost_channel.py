"""The host's channel to a worker process: a frame that meets backpressure leaves the host idle."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

from devhost.workers import WorkerProcess


def test_a_large_frame_with_an_empty_part_leaves_no_busy_loop_behind() -> None:
    host_end, worker_end = socket.socketpair()
    frame = [b"header", b"x" * (8 << 20), b""]

    def slow_reader() -> None:
        time.sleep(0.2)  # the host's write fills the socket's buffer first: a partial write
        expected = sum(len(part) for part in frame)
        while expected > 0:  # and the worker's end stays open, as a live worker's does
            expected -= len(worker_end.recv(1 << 20))

    reader = threading.Thread(target=slow_reader)
    reader.start()

    async def send_then_idle() -> float:
        worker = WorkerProcess(1, process=Any, channel=host_end)  # type: ignore[arg-type]
        await worker.open()
        await worker.send(frame)
        await asyncio.to_thread(reader.join)  # every byte delivered: nothing is left to send
        idle_started = time.process_time()
        await asyncio.sleep(0.5)
        cpu = time.process_time() - idle_started
        host_end.close()
        worker_end.close()
        return cpu

    cpu_while_idle = asyncio.run(send_then_idle())
    # Spinning on an empty buffer uses nearly all of the half second; an idle loop uses next to none.
    assert cpu_while_idle < 0.2, f"the event loop used {cpu_while_idle:.2f} s of CPU while it had nothing to do"
