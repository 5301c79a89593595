"""The queue trigger listener, following the Storage Queues extension 5.x.

Receive a batch with 10-minute visibility; run each message as its own task; wait for the
in-flight count to drop to newBatchThreshold before the next receive; back off with randomised
exponential delays (100 ms up to maxPollingInterval) while the queue is empty, and poll at once
when this host writes to the queue. Success deletes; failure releases with visibilityTimeout or,
at maxDequeueCount, moves the message to `<queue>-poison`. A message that is not valid base64 goes
to poison without running. The listener never creates its queue.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from devhost.config import QueueOptions
from devhost.functions import FunctionEntry, Invoker
from devhost.wire import Datum

log = logging.getLogger("devhost.queues")

# The receive visibility is hard-coded in the host; the variable exists so tests can shorten it.
RECEIVE_VISIBILITY = timedelta(seconds=float(os.environ.get("DEVHOST_QUEUE_RECEIVE_VISIBILITY_SECONDS", "600")))
MIN_POLL = 0.1


class Backoff:
    """RandomizedExponentialBackoffStrategy(min=100 ms, max=maxPollingInterval)."""

    def __init__(self, maximum: float) -> None:
        self.maximum = maximum
        self.exponent = 0
        self.current = MIN_POLL

    def after_messages(self) -> float:
        self.exponent = 0
        self.current = MIN_POLL
        return MIN_POLL

    def after_empty(self) -> float:
        if self.current < self.maximum:
            self.exponent += 1
            jitter = random.uniform(0.8, 1.2)
            self.current = min(MIN_POLL + jitter * (2 ** (self.exponent - 1)) * MIN_POLL, self.maximum)
        return self.current


def poison_queue_name(queue_name: str) -> str | None:
    if queue_name.endswith("-poison"):
        return None
    name = f"{queue_name}-poison"
    return name if len(name) <= 63 else None


class QueueListener:
    def __init__(
        self,
        entry: FunctionEntry,
        queue_service: Any,
        options: QueueOptions,
        invoker: Invoker,
    ) -> None:
        self.entry = entry
        self.queue_name = str(entry.trigger["queueName"]).lower()
        self.options = options
        self.invoker = invoker
        # Raw text both ways: decoding is done here so a bad message can go to poison untouched.
        self.queue = queue_service.get_queue_client(self.queue_name)
        poison = poison_queue_name(self.queue_name)
        self.poison = queue_service.get_queue_client(poison) if poison else None
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self._slot_free = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name=f"queue:{self.entry.name}")

    def notify(self) -> None:
        self.wake.set()

    async def stop(self, timeout: float) -> None:
        """Stop polling, then let in-flight messages finish (and complete) within `timeout`."""
        self.stopping.set()
        self.wake.set()
        if self._runner:
            # A poll stuck retrying unreachable storage must not hold the host up past its grace period.
            done, _ = await asyncio.wait({self._runner}, timeout=timeout)
            if not done:
                self._runner.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._runner
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=timeout)

    async def _run(self) -> None:
        backoff = Backoff(self.options.max_polling_interval.total_seconds())
        checked_exists = False
        while not self.stopping.is_set():
            try:
                if not checked_exists:
                    await self.queue.get_queue_properties()  # 404 while the queue does not exist
                    checked_exists = True
                messages = [
                    m
                    async for m in self.queue.receive_messages(
                        messages_per_page=self.options.batch_size,
                        max_messages=self.options.batch_size,
                        visibility_timeout=int(RECEIVE_VISIBILITY.total_seconds()),
                    )
                ]
            except Exception as error:
                checked_exists = False
                log.debug("queue '%s' not ready: %s", self.queue_name, type(error).__name__)
                await self._sleep(backoff.after_empty())
                continue
            if not messages:
                await self._sleep(backoff.after_empty())
                continue
            for message in messages:
                task = asyncio.create_task(self._process(message))
                self.tasks.add(task)
                task.add_done_callback(self._task_done)
            while len(self.tasks) > self.options.new_batch_threshold and not self.stopping.is_set():
                self._slot_free.clear()
                await self._slot_free.wait()
            await self._sleep(backoff.after_messages())

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self._slot_free.set()

    async def _sleep(self, seconds: float) -> None:
        self.wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds)

    async def _process(self, message: Any) -> None:
        try:
            await self._process_one(message)
        except Exception:
            # The message stays invisible until its receive visibility ends, then comes back.
            log.exception("Processing message %s on '%s' failed in the host", message.id, self.queue_name)

    async def _process_one(self, message: Any) -> None:
        state = {"pop_receipt": message.pop_receipt}
        if message.dequeue_count > self.options.max_dequeue_count:
            await self._move_to_poison(message, state)
            return
        if self.options.message_encoding == "base64":
            try:
                body = base64.b64decode(message.content, validate=True)
            except (binascii.Error, ValueError, TypeError):
                log.warning("Message decoding has failed! Check MessageEncoding settings. MessageId=%s", message.id)
                await self._move_to_poison(message, state)
                return
        else:
            body = (message.content or "").encode("utf-8")

        finished = asyncio.Event()
        renewal = asyncio.create_task(self._keep_invisible(message, state, finished))
        try:
            result = await self.invoker.invoke(
                self.entry,
                message_datum(body),
                f"New queue message detected on '{self.queue_name}'.",
                trigger_metadata=message_metadata(
                    message.id,
                    message.pop_receipt,
                    message.dequeue_count,
                    message.inserted_on,
                    message.expires_on,
                    message.next_visible_on,
                ),
                trigger_data=_payload_fields(body),
            )
        finally:
            # Stopped, not cancelled: a renewal the queue has applied changed the pop receipt, and
            # completing the message with the old one would fail and bring it back (a duplicate).
            finished.set()
            await renewal
        try:
            if result.succeeded:
                await self.queue.delete_message(message.id, state["pop_receipt"])
            elif message.dequeue_count >= self.options.max_dequeue_count:
                await self._move_to_poison(message, state)
            else:
                await self.queue.update_message(
                    message.id,
                    state["pop_receipt"],
                    visibility_timeout=int(self.options.visibility_timeout.total_seconds()),
                )
        except Exception as error:  # pop receipt mismatch or 404: someone else owns it now
            log.debug("completing message %s: %s", message.id, type(error).__name__)

    async def _keep_invisible(self, message: Any, state: dict[str, str], finished: asyncio.Event) -> None:
        """Renew the receive visibility every half period until the invocation has `finished`."""
        period = RECEIVE_VISIBILITY.total_seconds()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), period / 2)
            if finished.is_set():
                return
            try:
                receipt = await self.queue.update_message(
                    message.id, state["pop_receipt"], visibility_timeout=int(period)
                )
                state["pop_receipt"] = receipt.pop_receipt
            except Exception as error:
                log.debug("visibility renewal for %s stopped: %s", message.id, type(error).__name__)
                return

    async def _move_to_poison(self, message: Any, state: dict[str, str]) -> None:
        if self.poison is None:
            return  # no poison queue: leave it invisible rather than loop fast
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        log.warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
            self.options.max_dequeue_count,
            self.poison.queue_name,
        )
        try:
            await self.poison.send_message(message.content)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                await self.poison.create_queue()
            await self.poison.send_message(message.content)
        try:
            await self.queue.delete_message(message.id, state["pop_receipt"])
        except Exception as error:
            log.debug("deleting poisoned message %s: %s", message.id, type(error).__name__)


def message_datum(body: bytes) -> Datum:
    """The message body as the host sends it: text when it is UTF-8, bytes otherwise."""
    try:
        return Datum("string", body.decode("utf-8"))
    except UnicodeDecodeError:
        return Datum("bytes", body)


def message_metadata(
    message_id: str,
    pop_receipt: str,
    dequeue_count: int,
    inserted: datetime | None,
    expires: datetime | None,
    next_visible: datetime | None,
) -> dict[str, Datum]:
    """The queue trigger's metadata, typed as the host types it: strings, and the rest as JSON."""

    def moment(value: datetime | None) -> Datum:
        return Datum("json", json.dumps(value.astimezone(UTC).isoformat() if value else None))

    return {
        "Id": Datum("string", message_id),
        "PopReceipt": Datum("string", pop_receipt),
        "DequeueCount": Datum("json", json.dumps(dequeue_count)),
        "InsertionTime": moment(inserted),
        "ExpirationTime": moment(expires),
        "NextVisibleTime": moment(next_visible),
    }


def manual_queue_input(text: str) -> tuple[Datum, dict[str, Datum]]:
    """`POST /admin/functions/{name}` for a queue function: the input as a fresh message."""
    now = datetime.now(UTC)
    return Datum("string", text), message_metadata(str(uuid.uuid4()), "", 1, now, now + timedelta(days=7), now)


def _payload_fields(body: bytes) -> dict[str, Any]:
    """JSON payload properties, usable in other bindings' expressions."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
