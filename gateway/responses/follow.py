"""Invoice Responses as listeners of the lifecycle (instead of a sweep over all documents).

- A response we *sent* follows its outbound item: when the lifecycle moves its document
  (queued -> sending -> delivered | failed), the ``sent`` row's state moves with it, in the same
  transaction (:func:`follow_outbound`, :func:`keep_sent`: also France's sent CDAR).
- A received response that arrived before its invoice (``unmatched``) or while the invoice was
  still being sent (``waiting``) is applied the moment the invoice leaves the queue: the move
  out of queued/sending/retrying schedules, after its commit, a re-match of exactly the
  responses that reference that invoice's number. Nothing scans all documents; the one sweep
  left runs at startup, for rows a crash left between commit and re-match (index lookups:
  :meth:`ResponseService.sweep`).
- A received response gets a ``pending`` row in the transaction that stores it (or routes it
  to a tenant; :func:`gateway.responses.pending.attach`), so the recovery finds the ones never
  judged by the state index.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle import (
    DELIVERED,
    DELIVERED_TO_RECIPIENT,
    FAILED,
    IN_FLIGHT,
    QUEUED,
    REJECTED_BY_RECIPIENT,
    RETRYING,
    SENDING,
    Lifecycle,
    Moved,
)
from gateway.responses import models as rm
from gateway.responses.matching import INVOICE_KINDS
from gateway.responses.models import InvoiceResponseRecord
from gateway.responses.service import RETRY_STATES, ResponseService
from gateway.store import Database, Document, utcnow
from gateway.wake import ended

log = logging.getLogger("gateway.responses")

#: Status of a sent response's outbound document -> state of its ``sent`` row.
SENT_STATE_OF = {
    QUEUED: rm.QUEUED,
    SENDING: rm.SENT_STATE,
    RETRYING: rm.SENT_STATE,
    DELIVERED: rm.DELIVERED,
    DELIVERED_TO_RECIPIENT: rm.DELIVERED,
    FAILED: rm.FAILED,
    REJECTED_BY_RECIPIENT: rm.FAILED,
}


async def follow_outbound(session: AsyncSession, moved: Moved, record: Any) -> None:
    """Move the ``sent`` rows of ``record`` (a counterpart-status table with ``document_id``,
    ``direction``, ``state`` and ``updated_at``: Invoice Responses, France's CDAR) whose
    outbound document ``moved``, in the move's transaction."""
    state = SENT_STATE_OF.get(moved.status)
    if state is None:
        return
    await session.execute(
        update(record)
        .where(record.document_id == moved.document_id, record.direction == rm.SENT)
        .values(state=state, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def keep_sent(db: Database, rec: Any) -> None:
    """Insert a ``sent`` row, ordered with the queue's moves of its outbound document.

    The queue may move the message's document (queued -> sending -> delivered) between its
    submission and this insert; :func:`follow_outbound` updates the row in the queue's
    transaction, and cannot see a row not yet committed. So the document's row is locked first
    (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time anyway): a move that
    committed before is read here, and a move that comes after waits for this commit, and its
    listener then finds the row."""
    async with db.write() as s:
        if rec.document_id is not None:
            stmt = select(Document.status).where(Document.id == rec.document_id)
            if not db.is_sqlite:
                stmt = stmt.with_for_update()
            status = await s.scalar(stmt)
            if status is not None:
                rec.state = SENT_STATE_OF.get(status, rec.state)
        s.add(rec)


class ResponseFollower:
    def __init__(self, service: ResponseService, lifecycle: Lifecycle) -> None:
        self.service = service
        self.lifecycle = lifecycle
        self._settled: set[str] = set()
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        lifecycle.on_move(self.on_move)

    async def on_move(self, session: AsyncSession, moved: Moved) -> None:
        if moved.direction != "outbound":
            return
        if moved.kind == "ApplicationResponse":
            await follow_outbound(session, moved, InvoiceResponseRecord)
        elif (
            moved.kind in INVOICE_KINDS
            and moved.previous in IN_FLIGHT
            and moved.status not in IN_FLIGHT
        ):
            doc_id = moved.document_id
            self.lifecycle.after_commit(session, lambda: self._invoice_settled(doc_id))

    def _invoice_settled(self, doc_id: str) -> None:
        self._settled.add(doc_id)
        self._kick.set()

    async def rematch_invoice(self, doc_id: str) -> int:
        """Apply the responses that wait for sales invoice ``doc_id``; returns how many moved."""
        svc = self.service
        async with svc.db.read() as s:
            doc = await s.scalar(select(Document).where(Document.id == doc_id))
            if doc is None or not doc.number:
                return 0
            seqs = list(
                await s.scalars(
                    select(InvoiceResponseRecord.seq)
                    .where(
                        InvoiceResponseRecord.state.in_(RETRY_STATES),
                        InvoiceResponseRecord.referenced_id == doc.number,
                        or_(
                            InvoiceResponseRecord.tenant == doc.tenant,
                            InvoiceResponseRecord.tenant.is_(None),
                        ),
                    )
                    .order_by(InvoiceResponseRecord.seq)
                )
            )
        changed = 0
        for seq in seqs:
            if await svc.rematch_one(seq):
                changed += 1
        if changed and svc.forwarder is not None:
            svc.forwarder.wake()
        return changed

    # --- the background task (one per app) -----------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="imr-follow")

    async def stop(self) -> None:
        """Told and woken, the task finishes the invoice in hand and leaves (cancelled only
        after 10 s); invoices settled but not yet re-matched are the next start's sweep's."""
        self._stopping = True
        self._kick.set()
        await ended(self._task)
        self._task = None

    async def _run(self) -> None:
        try:
            # Leftovers of a previous run (a crash after commit): the index-backed part only.
            await self.service.sweep()
        except Exception:
            log.exception("startup re-match of invoice responses failed")
        while not self._stopping:
            await self._kick.wait()
            self._kick.clear()
            batch, self._settled = self._settled, set()
            for doc_id in sorted(batch):
                if self._stopping:
                    break
                try:
                    await self.rematch_invoice(doc_id)
                except Exception:  # keep following; the admin rematch or the next start retries
                    log.exception("re-matching responses for %s failed", doc_id)
