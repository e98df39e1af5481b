"""What became of a received Invoice Response: one JSON log line and one count per decision.

Both happen after the transaction that decided commits (a rolled-back decision, e.g. a lost
dedupe race that is retried, is never reported). The line names the response, its document,
tenant, sender, outcome (``applied``, ``refused``, ``held``, ``unmatched``, ``conflict``, ...),
code and the invoice it moved; never the document's content. The count's labels are bounded:
outcomes are :data:`gateway.responses.models.STATES`, unknown codes count as ``other``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle import Lifecycle
from gateway.responses.models import InvoiceResponseRecord

log = logging.getLogger("gateway.responses")


class OutcomeObserver(Protocol):
    def response_outcome(self, direction: str, outcome: str, code: str) -> None: ...


def report_outcome(
    session: AsyncSession,
    rec: InvoiceResponseRecord,
    observer: OutcomeObserver | None,
    codes: Collection[str],
) -> None:
    """Log and count ``rec``'s state once ``session`` commits."""
    facts = {
        "response_id": rec.imr_id,
        "document_id": rec.document_id,
        "tenant": rec.tenant,
        "direction": rec.direction,
        "outcome": rec.state,
        "response_code": rec.response_code,
        "sender": rec.sender,
        "invoice_id": rec.invoice_id,
        "referenced_id": rec.referenced_id,
        "detail": (rec.detail or "")[:300] or None,
    }
    code = rec.response_code if rec.response_code in codes else "other"

    def told() -> None:
        log.info("invoice response outcome", extra=facts)
        if observer is not None:
            observer.response_outcome(rec.direction, rec.state, code or "other")

    Lifecycle.after_commit(session, told)
