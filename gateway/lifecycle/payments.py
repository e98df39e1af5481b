"""Payments of sales invoices: recorded with amount and date; the invoice is ``paid`` when they
reach its payable amount, ``partially_paid`` before.

Amounts are decimals (the payable amount is stored exactly as written in the document). A
payment recorded by the issuer (``POST /v1/documents/{id}/status`` with ``amount``) chooses
the status from the sum; a full payment without an amount pays what is left. The buyer's
Invoice Response PD counts too: when it moves the invoice to ``paid`` the rest is recorded as
paid by the counterpart.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle.cause import Cause, Moved
from gateway.lifecycle.tables import Payment
from gateway.lifecycle.vocabulary import COUNTERPART
from gateway.store import Document

if TYPE_CHECKING:  # the mover registers counterpart_paid; pay() is handed the mover
    from gateway.lifecycle.mover import Lifecycle

PAID, PARTIALLY_PAID = "paid", "partially_paid"


class BadAmount(ValueError):
    """The amount is not a positive decimal; the message says so."""


def parse_amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise BadAmount(f"amount must be a decimal number such as 100.50, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise BadAmount(f"amount must be positive, got {value!r}")
    return amount


def payable(doc: Document) -> Decimal | None:
    try:
        return Decimal(doc.payable_amount) if doc.payable_amount else None
    except InvalidOperation:
        return None


async def paid_so_far(session: AsyncSession, doc_id: str) -> Decimal:
    rows = await session.scalars(select(Payment.amount).where(Payment.document_id == doc_id))
    return sum((Decimal(a) for a in rows), Decimal(0))


async def pay(
    lifecycle: Lifecycle,
    session: AsyncSession,
    doc: Document,
    cause: Cause,
    *,
    amount: Decimal | None,
    paid_on: str | None = None,
    reason: str | None = None,
) -> None:
    """Record a payment and move the invoice to partially_paid or paid by the new sum."""
    total = payable(doc)
    before = await paid_so_far(session, doc.id)
    if amount is None:
        if total is None:
            raise BadAmount("the invoice has no payable amount; give the amount paid")
        amount = max(total - before, Decimal(0))
    after = before + amount
    target = PAID if total is not None and after >= total else PARTIALLY_PAID
    why = f"payment of {amount} {doc.currency or ''}".strip() + f" (paid {after} of {total})"
    await lifecycle.move(session, doc, target, cause, reason=reason or why, status_reason=why)
    session.add(
        Payment(
            document_id=doc.id,
            amount=str(amount),
            paid_on=paid_on or dt.datetime.now(dt.UTC).date().isoformat(),
            source=cause.source,
            actor=cause.actor,
        )
    )


async def payments(session: AsyncSession, doc: Document) -> dict[str, Any]:
    rows = list(
        await session.scalars(
            select(Payment).where(Payment.document_id == doc.id).order_by(Payment.seq)
        )
    )
    total = payable(doc)
    paid = sum((Decimal(p.amount) for p in rows), Decimal(0))
    return {
        "payments": [
            {"amount": p.amount, "paid_on": p.paid_on, "source": p.source, "actor": p.actor}
            for p in rows
        ],
        "paid_amount": str(paid),
        "open_amount": str(max(total - paid, Decimal(0))) if total is not None else None,
    }


async def counterpart_paid(session: AsyncSession, moved: Moved) -> None:
    """Lifecycle listener: a counterpart's full payment (Invoice Response PD) records the rest."""
    if moved.status != PAID or moved.cause.role != COUNTERPART or moved.direction != "outbound":
        return
    doc = await session.scalar(select(Document).where(Document.id == moved.document_id))
    total = payable(doc) if doc is not None else None
    if doc is None or total is None:
        return
    rest = total - await paid_so_far(session, doc.id)
    if rest > 0:
        session.add(
            Payment(
                document_id=doc.id,
                amount=str(rest),
                paid_on=dt.datetime.now(dt.UTC).date().isoformat(),
                source=moved.cause.source,
                actor=moved.cause.actor,
            )
        )
