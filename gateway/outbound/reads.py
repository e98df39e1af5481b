"""The queue's read side: one item with its attempts, pages of items, depth and ages, and
when the next item falls due. Reads only (``db.read()``), for the API, the console, /health,
the metrics and an idle worker; :class:`~gateway.outbound.queue.OutboundQueue` has them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select

from gateway.outbound.items import aware
from gateway.outbound.models import QUEUED, RETRYING, SENDING, STATES, OutboundAttempt, OutboundItem
from gateway.store import Database, Document, utcnow


@dataclass
class QueueStats:
    depth: dict[str, int] = field(default_factory=dict)
    #: Age in seconds of the oldest item still waiting for delivery (queued/retrying/sending).
    oldest_pending_age: float = 0.0
    #: Age of the oldest item that is due now but not yet claimed (back-pressure signal).
    oldest_due_age: float = 0.0


class QueueReads:
    """The read-only queries of the queue (needs only ``self.db``)."""

    db: Database

    async def get(
        self, document_id: str, tenant: str | None = None
    ) -> tuple[OutboundItem, list[OutboundAttempt]] | None:
        async with self.db.read() as s:
            stmt = select(OutboundItem).where(OutboundItem.document_id == document_id)
            if tenant is not None:
                stmt = stmt.where(OutboundItem.tenant == tenant)
            item = await s.scalar(stmt)
            if item is None:
                return None
            attempts = await s.scalars(
                select(OutboundAttempt)
                .where(OutboundAttempt.document_id == document_id)
                .order_by(OutboundAttempt.seq)
            )
            return item, list(attempts)

    async def next_due(self) -> dt.datetime | None:
        """When the earliest waiting item (queued or retrying) is due; None when none waits.
        One ``ix_outbound_due`` lookup: an idle worker asks it to sleep until then."""
        async with self.db.read() as s:
            when = await s.scalar(
                select(func.min(OutboundItem.next_attempt_at)).where(
                    OutboundItem.state.in_((QUEUED, RETRYING))
                )
            )
        return aware(when) if when else None

    async def oldest_due_age(self) -> float:
        """Seconds the oldest due item has waited for a worker (one ``ix_outbound_due``
        lookup: cheap enough for every ``/health`` probe)."""
        now = utcnow()
        async with self.db.read() as s:
            oldest_due = await s.scalar(
                select(func.min(OutboundItem.next_attempt_at)).where(
                    OutboundItem.state.in_((QUEUED, RETRYING)),
                    OutboundItem.next_attempt_at <= now,
                )
            )
        return (now - aware(oldest_due)).total_seconds() if oldest_due else 0.0

    async def list_items(
        self,
        tenant: str | None,
        *,
        state: str | None = None,
        receiver: str | None = None,
        after_seq: int = 0,
        limit: int = 50,
    ) -> list[tuple[int, OutboundItem]]:
        """(document seq, item) pages in submission order; the document's seq is the cursor."""
        stmt = (
            select(Document.seq, OutboundItem)
            .join(Document, Document.id == OutboundItem.document_id)
            .where(Document.seq > after_seq)
        )
        if tenant is not None:
            stmt = stmt.where(OutboundItem.tenant == tenant)
        if state:
            stmt = stmt.where(OutboundItem.state == state)
        if receiver:
            stmt = stmt.where(OutboundItem.receiver == receiver)
        async with self.db.read() as s:
            rows = await s.execute(stmt.order_by(Document.seq).limit(limit))
            return [(seq, item) for seq, item in rows.all()]

    async def stats(self) -> QueueStats:
        now = utcnow()
        async with self.db.read() as s:
            depth = dict.fromkeys(STATES, 0)
            for state, count in (
                await s.execute(
                    select(OutboundItem.state, func.count()).group_by(OutboundItem.state)
                )
            ).all():
                depth[state] = count
            pending = (QUEUED, RETRYING, SENDING)
            oldest = await s.scalar(
                select(func.min(OutboundItem.queued_at)).where(OutboundItem.state.in_(pending))
            )
            oldest_due = await s.scalar(
                select(func.min(OutboundItem.next_attempt_at)).where(
                    OutboundItem.state.in_((QUEUED, RETRYING)),
                    OutboundItem.next_attempt_at <= now,
                )
            )
        return QueueStats(
            depth=depth,
            oldest_pending_age=(now - aware(oldest)).total_seconds() if oldest else 0.0,
            oldest_due_age=(now - aware(oldest_due)).total_seconds() if oldest_due else 0.0,
        )
