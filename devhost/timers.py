"""The timer trigger listener, following WebJobs extensions' TimerListener.

Schedules are NCRONTAB (6 fields with seconds, or 5) with day-of-month AND day-of-week, or a
TimeSpan. With useMonitor the status blob `azure-webjobs-hosts/timers/{hostId}/Host.Functions.<fn>/status`
records Last/Next/LastUpdated; at start a status whose Next has passed gives one run with
past_due=True. Runs never overlap. Only the host holding the blob lease
`azure-webjobs-hosts/locks/{hostId}/Host.Functions.<fn>.Listener` runs the listener, so two hosts
sharing storage and host id fire each occurrence once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from devhost.config import SingletonOptions, parse_timespan
from devhost.functions import FunctionEntry, Invoker
from devhost.wire import Datum

log = logging.getLogger("devhost.timers")

HOSTS_CONTAINER = "azure-webjobs-hosts"
NEVER = datetime(1, 1, 1)


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class Schedule:
    expression: str
    cron: str | None = None
    interval: timedelta | None = None

    @classmethod
    def parse(cls, expression: str, environ: Any) -> Schedule:
        resolved = re.sub(r"%([^%]+)%", lambda m: environ.get(m.group(1), ""), expression).strip()
        fields = resolved.split()
        if len(fields) in (5, 6):
            from croniter import croniter

            if croniter.is_valid(resolved, second_at_beginning=len(fields) == 6):
                return cls(expression=resolved, cron=resolved)
        interval = parse_timespan(resolved)
        if interval is not None and interval > timedelta(0):
            return cls(expression=resolved, interval=interval)
        raise ValueError(
            f"The schedule expression '{resolved}' was not recognized as a valid cron expression or timespan string."
        )

    def next_after(self, moment: datetime) -> datetime:
        """The next occurrence strictly after `moment`, at whole-second resolution."""
        if self.interval is not None:
            return moment + self.interval
        from croniter import croniter

        assert self.cron is not None
        base = moment.replace(microsecond=0)
        iterator = croniter(self.cron, base, day_or=False, second_at_beginning=len(self.cron.split()) == 6)
        following: datetime = iterator.get_next(datetime)
        return following

    def more_than_once_a_minute(self, now: datetime) -> bool:
        if self.interval is not None:
            return self.interval < timedelta(minutes=1)
        first = self.next_after(now)
        return self.next_after(first) - first < timedelta(minutes=1) or (
            self.next_after(self.next_after(first)) - first < timedelta(minutes=1)
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    if value.year <= 1:
        return None
    return value if value.tzinfo else value.astimezone()


class TimerListener:
    def __init__(
        self,
        entry: FunctionEntry,
        blob_service: Any,
        host_id: str,
        singleton: SingletonOptions,
        invoker: Invoker,
        environ: Any,
    ) -> None:
        self.entry = entry
        self.schedule = Schedule.parse(str(entry.trigger["schedule"]), environ)
        self.run_on_startup = bool(entry.trigger.get("runOnStartup", False))
        use_monitor = entry.trigger.get("useMonitor")
        self.use_monitor = (True if use_monitor is None else bool(use_monitor)) and not (
            self.schedule.more_than_once_a_minute(_now())
        )
        self.invoker = invoker
        self.singleton = singleton
        self.container = blob_service.get_container_client(HOSTS_CONTAINER)
        timer_name = f"Host.Functions.{entry.name}"
        self.status_blob = self.container.get_blob_client(f"timers/{host_id}/{timer_name}/status")
        self.lock_blob = self.container.get_blob_client(f"locks/{host_id}/{timer_name}.Listener")
        self.lease: Any = None
        self.lock = asyncio.Lock()  # runs never overlap
        self.stopping = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self.status: dict[str, datetime | None] = {}

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name=f"timer:{self.entry.name}")

    async def stop(self, timeout: float) -> None:
        self.stopping.set()
        if self._runner:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        try:
            await asyncio.wait_for(self.lock.acquire(), timeout)
            self.lock.release()
        except TimeoutError:
            pass
        # Releasing the lease early is a courtesy to the next host; with storage gone it expires anyway.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release_lock(), timeout)

    # -- singleton lock ---------------------------------------------------------------------------

    async def _acquire_lock(self) -> bool:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

        period = int(self.singleton.listener_lock_period.total_seconds())
        for _attempt in range(2):
            try:
                self.lease = await self.lock_blob.acquire_lease(lease_duration=period)
                return True
            except ResourceNotFoundError:
                await self._ensure_container()
                with contextlib.suppress(ResourceExistsError, HttpResponseError):
                    await self.lock_blob.upload_blob(b"", overwrite=False)
            except HttpResponseError as error:
                if error.status_code == 409:
                    return False
                raise
        return False

    async def _renew_lock(self) -> None:
        period = self.singleton.listener_lock_period.total_seconds()
        while not self.stopping.is_set():
            await asyncio.sleep(period / 2)
            try:
                await self.lease.renew()
            except Exception as error:
                log.warning("Singleton lock renewal failed for '%s': %s", self.entry.name, type(error).__name__)

    async def _release_lock(self) -> None:
        if self.lease is not None:
            with contextlib.suppress(Exception):
                await self.lease.release()
            self.lease = None

    async def _ensure_container(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            await self.container.create_container()

    # -- status blob ------------------------------------------------------------------------------

    async def _read_status(self) -> dict[str, datetime | None] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            raw = await (await self.status_blob.download_blob()).readall()
        except ResourceNotFoundError:
            return None
        data = json.loads(raw)
        return {key: _parse(data.get(key)) for key in ("Last", "Next", "LastUpdated")}

    async def _write_status(self) -> None:
        if not self.use_monitor:
            return
        never = NEVER.isoformat()
        body = {
            key: (_iso(value) if value else never)
            for key, value in ((k, self.status.get(k)) for k in ("Last", "Next", "LastUpdated"))
        }
        try:
            await self._ensure_container()
            await self.status_blob.upload_blob(json.dumps(body).encode("utf-8"), overwrite=True)
        except Exception as error:  # best effort, as the host's monitor
            log.warning("Timer status for '%s' not written: %s", self.entry.name, type(error).__name__)

    async def _check_past_due(self, now: datetime) -> bool:
        status = await self._read_status()
        if status is None:
            self.status = {"Last": None, "Next": self.schedule.next_after(now), "LastUpdated": now}
            await self._write_status()
            return False
        base = status.get("Last") or status.get("LastUpdated") or now
        expected = self.schedule.next_after(base)
        self.status = status
        if status.get("Next") != expected:
            # The schedule changed since the status was written: rebase, not past due on that account.
            if expected < now:
                expected = self.schedule.next_after(now)
            self.status = {**status, "Next": expected, "LastUpdated": now}
            await self._write_status()
            return False
        return now > expected

    # -- the loop ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        recovery = self.singleton.listener_lock_recovery_polling_interval.total_seconds()
        while not await self._acquire_lock():
            log.debug("Unable to acquire Singleton lock for '%s'; retrying in %.0fs", self.entry.name, recovery)
            await asyncio.sleep(recovery)
        renewal = asyncio.create_task(self._renew_lock())
        try:
            await self._schedule_loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("The timer listener for '%s' stopped", self.entry.name)
        finally:
            renewal.cancel()

    async def _schedule_loop(self) -> None:
        now = _now()
        past_due = await self._check_past_due(now) if self.use_monitor else False
        if not self.status.get("Next"):
            self.status = {"Last": None, "Next": self.schedule.next_after(now), "LastUpdated": now}
        # From now, as the host's TimerInfo.FormatNextOccurrences lists them (not from a past-due status).
        upcoming = [self.schedule.next_after(now)]
        for _ in range(4):
            upcoming.append(self.schedule.next_after(upcoming[-1]))
        log.info(
            "The next 5 occurrences of the '%s' schedule (%s) will be:\n%s",
            self.entry.name,
            self.schedule.expression,
            "\n".join(str(moment) for moment in upcoming),
        )
        if past_due:
            await self.fire(past_due=True, reason="Timer fired at %s (past due)")
        elif self.run_on_startup:
            await self.fire(past_due=False, reason="Timer fired at %s (run on startup)")
        while not self.stopping.is_set():
            delay = (self.status["Next"] - _now()).total_seconds()  # type: ignore[operator]
            if delay > 0:
                await asyncio.sleep(delay)
            await self.fire(past_due=False, reason="Timer fired at %s")

    async def fire(self, past_due: bool, reason: str, manual: bool = False) -> None:
        async with self.lock:
            invoked_at = _now()
            request = Datum(
                "json",
                json.dumps(
                    {
                        "Schedule": {"AdjustForDST": True},
                        "ScheduleStatus": {k: (_iso(v) if v else NEVER.isoformat()) for k, v in self.status.items()}
                        if self.use_monitor
                        else None,
                        "IsPastDue": past_due,
                    }
                ),
            )
            why = "This function was programmatically called via the host APIs." if manual else reason % invoked_at
            await self.invoker.invoke(self.entry, request, why)
            if manual:
                return
            last = invoked_at
            scheduled = self.status.get("Next")
            if scheduled and last < scheduled:
                last = scheduled  # fired slightly early
            self.status = {"Last": last, "Next": self.schedule.next_after(last), "LastUpdated": last}
            await self._write_status()
