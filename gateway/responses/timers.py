"""Background work of Invoice Response handling: re-matching and the overdue timer.

Re-matching (``rematch_interval``, off by default: responses follow the lifecycle's events)
picks up responses that arrived before their invoice and any left ``pending``. The overdue
timer (``overdue_timer``, off by default) runs :func:`gateway.lifecycle.overdue.run_timer`: it
tells the tenant (history note + ``document.overdue`` event) when a sales invoice falls due
unpaid; the status is never changed (overdue is a condition).

At shutdown the timers are told to stop and woken (:func:`gateway.wake.ended`): a round in
hand finishes its statements, and the sleep between rounds ends at once. Cancelled (as they
were), a round could be cut inside a statement, which can leave an aiosqlite close pending when
the event loop closes (what hung a CI teardown for the outbound worker).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from gateway.lifecycle import run_overdue_timer
from gateway.responses.service import ResponseService
from gateway.wake import ended, woken

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
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._stopping.clear()
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
        self._stopping.set()  # told and woken: each leaves after the round in hand
        await asyncio.gather(*(ended(task) for task in self._tasks))
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
        while not self._stopping.is_set():
            try:
                await job()
            except Exception:  # keep the timer alive; the next round retries
                log.exception("invoice response timer failed")
            await woken(self._stopping, interval)
