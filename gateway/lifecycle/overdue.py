"""Overdue is a condition, never a status: notices when a sales invoice becomes overdue.

An invoice is overdue while it is issued, not fully paid and past its due date
(:func:`~gateway.lifecycle.profile.conditions_of`; profiles show it, e.g. ``Overdue`` in
``smb-invoicing``). Nothing writes ``documents.status`` for it. What the gateway does is tell the
tenant once per *overdue episode*, with a reason: a history note (source ``timer`` or the move's
source, status unchanged) and a webhook event ``document.overdue``. An episode starts when

- the due date passes while the invoice is open (episode ``due``): found by the opt-in timer
  (``[responses] overdue_timer``), or at once when an invoice already past due is issued
  (queued, e.g. a draft sent late);
- a payment past due leaves it open (episode ``payment-N``): a new amount is overdue.

Notices are opt-in (``overdue_timer``; the condition itself always shows). Each episode is one
``overdue_notices`` row; its unique (document, episode) key keeps it once across processes.
The timer does not sweep: it walks ``ix_documents_due`` (due date, seq) from
its cursor in ``lifecycle_timers`` to yesterday, so each round reads only
the invoices that fell due since the last one. The cursor row is locked (``FOR UPDATE`` on
PostgreSQL; SQLite has one writer) and moves in the transaction that writes the notices and
queues the events: a crash loses nothing and repeats nothing, and two processes never notify
the same invoice twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle.cause import Cause, Moved
from gateway.lifecycle.payments import PARTIALLY_PAID, paid_so_far
from gateway.lifecycle.profile import conditions_of
from gateway.lifecycle.tables import LifecycleTimer, OverdueNotice
from gateway.store import Document, utcnow

if TYPE_CHECKING:  # the mover registers the listener; the functions are handed the mover
    from gateway.lifecycle.mover import Lifecycle
    from gateway.store import Database

EVENT = "document.overdue"
OVERDUE = "overdue"
TIMER = "overdue"
TIMER_CAUSE = Cause("timer", actor="overdue-timer")
DUE = "due"


def is_overdue(doc: Document, today: dt.date | None = None) -> bool:
    return OVERDUE in conditions_of(doc, today)


async def notify(
    lifecycle: Lifecycle,
    session: AsyncSession,
    doc: Document,
    episode: str,
    cause: Cause,
    why: str,
) -> bool:
    """One notice for (``doc``, ``episode``): the row, a history note, the webhook event.
    False when that episode was told before."""
    told = await session.scalar(
        select(OverdueNotice.seq).where(
            OverdueNotice.document_id == doc.id, OverdueNotice.episode == episode
        )
    )
    if told is not None:
        return False
    session.add(OverdueNotice(document_id=doc.id, episode=episode, reason=why, source=cause.source))
    await lifecycle.note(session, doc, cause, f"overdue: {why}")
    prof = await lifecycle.profile(session, doc.tenant, doc.direction)
    await lifecycle.announce(
        session,
        document_id=doc.id,
        tenant=doc.tenant,
        event=EVENT,
        data={
            "condition": OVERDUE,
            "episode": episode,
            "reason": why,
            "due_date": doc.due_date,
            "status": prof.name_of(doc.status, conditions_of(doc)),
            "canonical_status": doc.status,
            "source": cause.source,
            "actor": cause.actor,
        },
    )
    return True


async def reason(session: AsyncSession, doc: Document) -> str:
    paid = await paid_so_far(session, doc.id)
    open_part = f"; paid {paid} of {doc.payable_amount}" if paid else ""
    return f"not fully paid by its due date {doc.due_date}{open_part} (status {doc.status})"


async def on_issued(
    lifecycle: Lifecycle, session: AsyncSession, doc: Document, cause: Cause
) -> None:
    """An invoice queued after its due date is overdue from the start."""
    if lifecycle.overdue_notices and doc.kind == "Invoice" and is_overdue(doc):
        await notify(lifecycle, session, doc, DUE, cause, await reason(session, doc))


async def after_payment(lifecycle: Lifecycle, session: AsyncSession, moved: Moved) -> None:
    """Lifecycle listener: a payment past due that leaves the invoice open starts an episode."""
    if moved.direction != "outbound" or moved.kind != "Invoice" or moved.status != PARTIALLY_PAID:
        return
    if not lifecycle.overdue_notices:
        return
    doc = await session.scalar(select(Document).where(Document.id == moved.document_id))
    if doc is None or not is_overdue(doc):
        return
    told = await session.scalar(select(func.count()).where(OverdueNotice.document_id == doc.id))
    why = f"still not fully paid after a payment past its due date {doc.due_date}"
    if moved.reason:
        why += f": {moved.reason}"
    await notify(lifecycle, session, doc, f"payment-{int(told or 0) + 1}", moved.cause, why)


async def run_timer(
    db: Database, lifecycle: Lifecycle, today: dt.date, *, batch: int = 500
) -> list[str]:
    """Notify the invoices that fell due (before ``today``) since the cursor; their ids."""
    told: list[str] = []
    while True:
        async with db.write() as s:
            stmt = select(LifecycleTimer).where(LifecycleTimer.name == TIMER)
            if not db.is_sqlite:
                stmt = stmt.with_for_update()
            cursor = await s.scalar(stmt)
            if cursor is None:  # a store migrated without the seed row
                cursor = LifecycleTimer(name=TIMER, cursor_date="", cursor_seq=0)
                s.add(cursor)
            rows = await _fallen_due(s, cursor.cursor_date, cursor.cursor_seq, today, batch)
            for doc in await _invoices(s, rows):
                if is_overdue(doc, today) and await notify(
                    lifecycle, s, doc, DUE, TIMER_CAUSE, await reason(s, doc)
                ):
                    told.append(doc.id)
            if rows:
                cursor.cursor_date, cursor.cursor_seq = rows[-1].due_date or "", rows[-1].seq
                cursor.updated_at = utcnow()
        if len(rows) < batch:
            return told


async def _fallen_due(
    s: AsyncSession, after_date: str, after_seq: int, today: dt.date, limit: int
) -> list[Any]:
    """(seq, id, due_date, direction, kind) of the documents after (``after_date``,
    ``after_seq``) and due before ``today``, in index order: the rest of the cursor's day, then
    the following days. Only the due date is in the query (two ranges of ``ix_documents_due``;
    with "direction = ?" in it, planners without statistics took another index)."""
    cols = select(Document.seq, Document.id, Document.due_date, Document.direction, Document.kind)
    same_day = list(
        (
            await s.execute(
                cols.where(Document.due_date == after_date, Document.seq > after_seq)
                .order_by(Document.seq)
                .limit(limit)
            )
        ).all()
    )
    if len(same_day) >= limit:
        return same_day
    later = await s.execute(
        cols.where(Document.due_date > after_date, Document.due_date < today.isoformat())
        .order_by(Document.due_date, Document.seq)
        .limit(limit - len(same_day))
    )
    return same_day + list(later.all())


async def _invoices(s: AsyncSession, rows: list[Any]) -> list[Document]:
    ids = [r.id for r in rows if r.direction == "outbound" and r.kind == "Invoice"]
    if not ids:
        return []
    docs = await s.scalars(select(Document).where(Document.id.in_(ids)).order_by(Document.seq))
    return list(docs)


def describe(doc: Any) -> dict[str, str]:
    """Why each condition holds, for the API (read-time, no database)."""
    if OVERDUE in conditions_of(doc):
        return {OVERDUE: f"not fully paid by its due date {doc.due_date}"}
    return {}
