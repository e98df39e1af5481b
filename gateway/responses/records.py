"""The counterpart-status store: what Invoice Responses (T111) and France's CDAR messages share.

A counterpart status is the other party's word on a sales invoice, whatever the network calls
it. Every message received or sent is one row with the same core (direction, tenant, sender and
receiver, the invoice it names and the one it matched, a state from :data:`STATES`, a detail
and structured details, a de-duplication key on the first copy only) plus the columns of its
own rule set; ``invoice_responses`` and ``cdar_statuses`` both declare :class:`CounterpartColumns`
(the same columns and index names their migrations create, so no data moves). The queries the
two services, their list routes and document views run are here, once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store import SeqKey, utcnow

RECEIVED, SENT = "received", "sent"

# States of a received message.
PENDING = "pending"  # stored with its document, not judged yet (intake's hook or the start does)
APPLIED = "applied"  # moved the invoice's status
NOTED = "noted"  # recorded in the invoice's history; its code moves no status (CDAR)
CONFLICT = "conflict"  # matched, but broke the sequencing rules: recorded, status unchanged
REFUSED = "refused"  # from/to a party that is not the invoice's buyer/seller, or forged
HELD = "held"  # the channel does not prove the sender: kept for an admin, never applied by itself
INVALID = "invalid"  # e.g. reason PPD without response code PD, unknown code
UNMATCHED = "unmatched"  # no invoice (yet); re-matched when it arrives
WAITING = "waiting"  # the invoice is still being sent; applied once the queue is done with it
DUPLICATE = "duplicate"  # same sender + message id as one handled before
# States of a sent message (one going out follows its outbound item).
QUEUED = "queued"  # handed to the outbound queue
SENT_STATE = "sent"  # a worker is delivering it (attempts under way)
DELIVERED = "delivered"  # the receiving access point confirmed it
FAILED = "failed"  # delivery failed for good
DELIVERED_LOCALLY = "delivered-locally"  # the seller is a tenant of this gateway
NOT_SENT = "not-sent"  # the generated message did not validate or was refused (logged)

#: Received messages a re-match tries again.
RETRY_STATES = (UNMATCHED, WAITING)


class CounterpartColumns:
    """The columns every counterpart-status table has (declared by each model)."""

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(8))  # received | sent
    tenant: Mapped[str | None] = mapped_column(String(100), index=True)
    sender: Mapped[str | None] = mapped_column(String(300))
    receiver: Mapped[str | None] = mapped_column(String(300))
    #: SHA-256 of the rule set's identity of a message, on the first copy only: the database
    #: keeps it applied once.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    referenced_id: Mapped[str | None] = mapped_column(String(200), index=True)
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


async def received_of(s: AsyncSession, model: type[Any], document_id: str) -> Any:
    """The received row of the stored message ``document_id`` (None: not handled yet)."""
    return await s.scalar(
        select(model).where(model.document_id == document_id, model.direction == RECEIVED)
    )


async def first_with_key(s: AsyncSession, model: type[Any], key: str) -> Any:
    return await s.scalar(select(model).where(model.dedupe_key == key))


async def page(
    s: AsyncSession,
    model: type[Any],
    tenant: str,
    *,
    state: str | None,
    direction: str | None,
    after: int,
    limit: int,
) -> list[Any]:
    """One page of a tenant's rows by ``seq`` (the list routes)."""
    stmt = select(model).where(model.tenant == tenant, model.seq > after)
    if state:
        stmt = stmt.where(model.state == state)
    if direction:
        stmt = stmt.where(model.direction == direction)
    return list(await s.scalars(stmt.order_by(model.seq).limit(limit)))


async def of_invoice(s: AsyncSession, model: type[Any], invoice_id: str) -> list[Any]:
    """Every row that matched sales invoice ``invoice_id`` (received and sent), oldest first."""
    return list(
        await s.scalars(select(model).where(model.invoice_id == invoice_id).order_by(model.seq))
    )


__all__ = [
    "APPLIED",
    "CONFLICT",
    "DELIVERED",
    "DELIVERED_LOCALLY",
    "DUPLICATE",
    "FAILED",
    "HELD",
    "INVALID",
    "NOTED",
    "NOT_SENT",
    "PENDING",
    "QUEUED",
    "RECEIVED",
    "REFUSED",
    "RETRY_STATES",
    "SENT",
    "SENT_STATE",
    "UNMATCHED",
    "WAITING",
    "CounterpartColumns",
    "first_with_key",
    "of_invoice",
    "page",
    "received_of",
]
