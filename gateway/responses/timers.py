"""Background work of Invoice Response handling: re-matching and the overdue timer.

Re-matching picks up responses that arrived before their invoice (and any response intake
could not apply, e.g. after a crash between storing and applying). The overdue timer (off by
default) marks sales invoices that are not paid by their due date ``overdue``; the response
that set the previous status stays in the history and keeps deciding what may follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from sqlalchemy import exists, select

from gateway.responses.mapping import Mapping
from gateway.responses.rules import FAILED, MLS_STATUSES, OVERDUE, QUEUED, RETRYING, SENDING
from gateway.responses.service import ForwarderLike, ResponseService
from gateway.store import Database, Document, StatusChange, repo

log = logging.getLogger("gateway.responses")


async def mark_overdue(
    db: Database, mapping: Mapping, forwarder: ForwarderLike | None, today: dt.date
) -> list[str]:
    """Mark delivered sales invoices past their due date and not paid as ``overdue`` (once)."""
    skip = {
        mapping.codes["PD"].status,
        mapping.codes["RE"].status,
        OVERDUE,
        QUEUED,
        SENDING,
        RETRYING,
        FAILED,
        MLS_STATUSES[1],
    }
    marked: list[str] = []
    async with db.write() as s:
        docs = await s.scalars(
            select(Document)
            .where(
                Document.direction == "outbound",
                Document.kind == "Invoice",
                Document.due_date.is_not(None),
                Document.due_date < today.isoformat(),
                Document.status.not_in(skip),
                ~exists().where(
                    StatusChange.document_id == Document.id, StatusChange.to_status == OVERDUE
                ),
            )
            .order_by(Document.seq)
            .limit(500)
        )
        for doc in docs:
            repo.record_status(
                s,
                doc,
                OVERDUE,
                source="timer",
                actor="overdue-timer",
                reason=f"not paid by its due date {doc.due_date} (was {doc.status})",
            )
            marked.append(doc.id)
            if forwarder is not None and doc.tenant is not None:
                await forwarder.enqueue(s, doc)
    if marked and forwarder is not None:
        forwarder.wake()
    return marked


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
        await mark_overdue(svc.db, svc.mapping, svc.forwarder, dt.datetime.now(dt.UTC).date())

    async def _every(self, interval: float, job: object) -> None:
        assert callable(job)
        while True:
            try:
                await job()
            except Exception:  # keep the timer alive; the next round retries
                log.exception("invoice response timer failed")
            await asyncio.sleep(interval)
