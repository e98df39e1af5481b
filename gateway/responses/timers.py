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

from gateway.lifecycle import Cause, Lifecycle
from gateway.lifecycle.vocabulary import (
    FAILED,
    QUEUED,
    REJECTED_BY_RECIPIENT,
    RETRYING,
    SENDING,
)
from gateway.responses.mapping import Mapping
from gateway.responses.service import ForwarderLike, ResponseService
from gateway.store import Database, Document, StatusChange

OVERDUE = "overdue"

log = logging.getLogger("gateway.responses")


async def mark_overdue(
    db: Database,
    mapping: Mapping,
    forwarder: ForwarderLike | None,
    today: dt.date,
    lifecycle: Lifecycle | None = None,
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
        REJECTED_BY_RECIPIENT,
    }
    lifecycle = lifecycle or Lifecycle()
    cause = Cause("timer", actor="overdue-timer")
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
            if not lifecycle.model_of(doc).allows(doc.status, OVERDUE, cause.role):
                continue
            why = f"not paid by its due date {doc.due_date} (was {doc.status})"
            await lifecycle.move(s, doc, OVERDUE, cause, reason=why, status_reason=why)
            marked.append(doc.id)
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
        today = dt.datetime.now(dt.UTC).date()
        await mark_overdue(svc.db, svc.mapping, svc.forwarder, today, svc.lifecycle)

    async def _every(self, interval: float, job: object) -> None:
        assert callable(job)
        while True:
            try:
                await job()
            except Exception:  # keep the timer alive; the next round retries
                log.exception("invoice response timer failed")
            await asyncio.sleep(interval)
