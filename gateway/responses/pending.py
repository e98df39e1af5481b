"""Received Invoice Responses get a ``pending`` row in the transaction that stores them.

The lifecycle listeners :func:`attach` plugs in (every composition root that stores or routes
documents calls it: the app factory's setup, ``gateway participants add``): a valid response
stored for a tenant, or a stranded one routed to a tenant, is marked ``pending`` with the
document, so a crash before it is judged loses nothing (the recovery sweep,
:mod:`gateway.responses.recovery`, finds it by the state index, not by scanning documents).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle import UNROUTABLE, Lifecycle, Moved
from gateway.responses import models as rm
from gateway.responses.counterpart import HANDLED_DOC_STATUSES
from gateway.responses.models import InvoiceResponseRecord
from gateway.responses.parse import is_invoice_response
from gateway.store import Document


def attach(lifecycle: Lifecycle) -> None:
    """Mark received responses ``pending`` in the transactions of ``lifecycle`` that store them
    or route them to a tenant (every composition root that stores or routes documents calls
    this: the app factory's setup, ``gateway participants add``)."""
    lifecycle.on_start(mark_pending)
    lifecycle.on_move(_routed)


async def mark_pending(session: AsyncSession, doc: Document) -> None:
    """A valid response stored for a tenant gets a ``pending`` row in the transaction that
    stores it, so a crash before it is judged loses nothing (the recovery at start finds it by
    the state index, not by scanning documents)."""
    if (
        doc.direction == "inbound"
        and doc.tenant is not None
        and doc.status in HANDLED_DOC_STATUSES
        and doc.validation_status == "accepted"
        and is_invoice_response(doc.customization_id)
    ):
        session.add(
            InvoiceResponseRecord(
                direction=rm.RECEIVED,
                document_id=doc.id,
                tenant=doc.tenant,
                imr_id=doc.number or "",
                partial=False,
                state=rm.PENDING,
                details={},
            )
        )


async def _routed(session: AsyncSession, moved: Moved) -> None:
    """A stranded document got its tenant: a response among them is judged next (its pending
    row survives a crash like a response stored for a tenant)."""
    if moved.direction == "inbound" and moved.previous == UNROUTABLE:
        doc = await session.scalar(select(Document).where(Document.id == moved.document_id))
        if doc is not None:
            await mark_pending(session, doc)
