"""Changing a document's status on request: ``POST /v1/documents/{id}/status`` and the
console's "Change status" both come here, so both check the same model, guards and payments.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.lifecycle import Cause, IllegalTransition, payments
from gateway.store import document_summary
from gateway.web import (
    DB,
    FORWARDER,
    LIFECYCLE,
    Problem,
    StatusChanged,
    document_or_404,
    status_changed,
    status_refusal,
    status_refused,
)


async def set_status(
    app: web.Application,
    doc_id: str,
    tenant: str | None,
    target: str,
    cause: Cause,
    reason: str | None,
    amount: Any = None,
    paid_on: Any = None,
) -> dict[str, Any]:
    """Move ``doc_id`` (of ``tenant``; None = any, operators) to ``target`` (a status in the
    tenant's vocabulary) for ``cause``; the document as the API shows it, or a Problem (409
    when the model or a guard refuses, 422 for a bad payment)."""
    lifecycle = app[LIFECYCLE]
    async with app[DB].write() as s:
        doc = await document_or_404(s, doc_id, tenant, for_update=True)
        previous = doc.status
        canonical = await lifecycle.resolve(s, doc, target)
        refused = await status_refusal(app, s, doc, canonical)
        if refused is None:
            try:
                if amount is not None or _is_payment(doc, canonical):
                    await _pay(lifecycle, s, doc, cause, amount, paid_on, reason)
                else:
                    await lifecycle.move(s, doc, canonical, cause, reason=reason)
            except IllegalTransition as exc:
                raise Problem(
                    409,
                    exc.code,
                    exc.reason,
                    current_status=exc.current,
                    requested_status=target,
                    allowed=await lifecycle.next_statuses(s, doc, cause.role),
                ) from exc
        body = {**document_summary(doc), **await lifecycle.describe(s, doc)}
    change = StatusChanged(
        doc.id, doc.direction, previous, canonical, reason, cause.actor, cause.key_id
    )
    if refused is not None:  # nothing was written; the refusal itself is recorded by listeners
        await status_refused(app, change, refused)
        raise Problem(409, "response-refused", refused, current_status=previous)
    app[FORWARDER].wake()  # the document.status_changed event is committed
    await status_changed(app, change)
    return body


def _is_payment(doc: Any, canonical: str) -> bool:
    """``paid`` of a sales invoice records the open amount as paid (partially_paid without an
    amount is only a status)."""
    return doc.direction == "outbound" and canonical == payments.PAID


async def _pay(
    lifecycle: Any, s: Any, doc: Any, cause: Any, amount: Any, paid_on: Any, reason: Any
) -> None:
    """A payment of a sales invoice (with ``amount``; without it, the rest is paid)."""
    if doc.direction != "outbound":
        raise Problem(422, "invalid-request", "amount applies to sales invoices only.")
    if paid_on is not None and not isinstance(paid_on, str):
        raise Problem(422, "invalid-request", "paid_on must be a date such as 2026-12-01.")
    try:
        value = payments.parse_amount(amount) if amount is not None else None
        await payments.pay(lifecycle, s, doc, cause, amount=value, paid_on=paid_on, reason=reason)
    except payments.BadAmount as exc:
        raise Problem(422, "bad-amount", str(exc)) from exc
