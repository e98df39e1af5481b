"""The pull inbox: ``GET /v1/inbox?cursor=N`` for accounting systems that poll.

Cursors are the item sequence numbers. Asking for the page after ``N`` acknowledges every item
up to ``N``: the client only moves its cursor forward after it has safely processed a page, so
acknowledged items are exactly the ones it confirmed. Acknowledgement moves a document from
``received`` to ``forwarded`` (source ``inbox``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.forwarding.events import mark_forwarded
from gateway.lifecycle import Cause, Lifecycle
from gateway.store import Document, InboxItem, document_summary, utcnow


async def acknowledge(
    lifecycle: Lifecycle, session: AsyncSession, tenant: str, cursor: int, cause: Cause
) -> int:
    """Acknowledge the tenant's items with ``seq <= cursor``; returns how many were new."""
    rows = (
        await session.execute(
            select(InboxItem, Document)
            .join(Document, Document.id == InboxItem.document_id)
            .where(
                InboxItem.tenant == tenant,
                InboxItem.seq <= cursor,
                InboxItem.acknowledged_at.is_(None),
            )
        )
    ).all()
    for item, doc in rows:
        item.acknowledged_at = utcnow()
        await mark_forwarded(lifecycle, session, doc, cause)
    return len(rows)


async def page(session: AsyncSession, tenant: str, cursor: int, limit: int) -> dict[str, Any]:
    rows = (
        await session.execute(
            select(InboxItem, Document)
            .join(Document, Document.id == InboxItem.document_id)
            .where(InboxItem.tenant == tenant, InboxItem.seq > cursor)
            .order_by(InboxItem.seq)
            .limit(limit)
        )
    ).all()
    items = [
        {
            "cursor": str(item.seq),
            "document": document_summary(doc),
            "content_url": f"/v1/documents/{doc.id}/content",
        }
        for item, doc in rows
    ]
    next_cursor = items[-1]["cursor"] if items else str(cursor)
    return {"items": items, "next_cursor": next_cursor, "more": len(items) == limit}
