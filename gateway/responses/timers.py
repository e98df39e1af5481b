"""Background work of Invoice Response handling: re-matching and the overdue timer.

Re-matching (``rematch_interval``, off by default: responses follow the lifecycle's events)
picks up responses that arrived before their invoice and any left ``pending``. The overdue
timer (``overdue_timer``, off by default) runs :func:`gateway.lifecycle.overdue.run_timer`: it
tells the tenant (history note + ``document.overdue`` event) when a sales invoice falls due
unpaid; the status is never changed (overdue is a condition).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from gateway.lifecycle import run_overdue_timer
from gateway.responses.service import ResponseService

log = logging.getLogger("gateway.responses")


class Timers:
    def __init__(
        self,
        service: ResponseService,
        *,
        rematch_interval: float,
        overdue: bool,
        overdue_interval: float,
    ) -> None:
        self.service = service
        self.rematch_interval = rematch_interval
        self.overdue = overdue
        self.overdue_interval = overdue_interval
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self.rematch_interval > 0:
            self._tasks.append(
                asyncio.create_task(
                    self._every(self.rematch_interval, self._sweep), name="imr-rematch"
                )
            )
        if self.overdue and self.overdue_interval > 0:
            self._tasks.append(
                asyncio.create_task(
                    self._every(self.overdue_interval, self._overdue), name="imr-overdue"
                )
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _sweep(self) -> None:
        await self.service.sweep()

    async def _overdue(self) -> None:
        svc = self.service
        today = dt.datetime.now(dt.UTC).date()
        if await run_overdue_timer(svc.db, svc.lifecycle, today) and svc.forwarder is not None:
            svc.forwarder.wake()  # the document.overdue events

    async def _every(self, interval: float, job: object) -> None:
        assert callable(job)
        while True:
            try:
                await job()
            except Exception:  # keep the timer alive; the next round retries
                log.exception("invoice response timer failed")
            await asyncio.sleep(interval)
