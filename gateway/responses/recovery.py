"""The recovery sweep of received Invoice Responses: what a crash left undecided.

Run at start (and every ``responses.rematch_interval`` when set) by
:class:`gateway.responses.timers.Timers` through :meth:`ResponseService.sweep`. Kept apart from
the rule set (:mod:`gateway.responses.service`): it decides nothing itself, it only finds the
rows to hand back to the service, by index lookups only: pending rows by
``ix_invoice_responses_state``; the retry rows (unmatched, waiting) page by the same index, each
page probing ``ix_documents_dir_number`` for the numbers it references (one query per page), so
only responses with a candidate invoice are re-matched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from gateway.responses import models as rm
from gateway.responses.models import InvoiceResponseRecord
from gateway.responses.records import RETRY_STATES
from gateway.store import Document

if TYPE_CHECKING:
    from gateway.responses.service import ResponseService


async def sweep(service: ResponseService, *, page: int = 200) -> int:
    """Judge the responses left ``pending`` (a crash between storing and judging) and re-match
    the unmatched/waiting ones whose invoice exists now; returns how many changed."""
    changed = 0
    async with service.db.read() as s:
        pending = list(
            await s.scalars(
                select(InvoiceResponseRecord.document_id)
                .where(InvoiceResponseRecord.state == rm.PENDING)
                .order_by(InvoiceResponseRecord.seq)
            )
        )
    for doc_id in pending:
        if doc_id is not None:
            await service.handle_document(doc_id)
            changed += 1
    after = 0
    while True:
        async with service.db.read() as s:
            rows = (
                await s.execute(
                    select(
                        InvoiceResponseRecord.seq,
                        InvoiceResponseRecord.tenant,
                        InvoiceResponseRecord.referenced_id,
                    )
                    .where(
                        InvoiceResponseRecord.state.in_(RETRY_STATES),
                        InvoiceResponseRecord.seq > after,
                    )
                    .order_by(InvoiceResponseRecord.seq)
                    .limit(page)
                )
            ).all()
            refs = {r.referenced_id for r in rows if r.referenced_id}
            found = set(
                (
                    await s.execute(
                        select(Document.tenant, Document.number).where(
                            Document.direction == "outbound", Document.number.in_(refs)
                        )
                    )
                ).all()
                if refs
                else ()
            )
        for r in rows:
            if (r.tenant, r.referenced_id) in found and await service.rematch_one(r.seq):
                changed += 1
        if len(rows) < page:
            break
        after = rows[-1].seq
    if changed and service.forwarder is not None:
        service.forwarder.wake()
    return changed
