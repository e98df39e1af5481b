"""Tables of Invoice Response handling, on the store's shared ``Base``.

``invoice_responses`` keeps every Invoice Response the gateway received or sent, with what
became of it (``state``) and the structured details (reason/action codes with texts, notes,
responding party). It is the memory behind the sequencing rules: the last *applied* response
of an invoice decides what may follow, independently of ``documents.status`` (which the
overdue timer or the outbound queue may also write).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.db import Base
from gateway.store.models import SeqKey, utcnow

RECEIVED, SENT = "received", "sent"

# States of a received response.
PENDING = "pending"  # stored with its document, not judged yet (intake's hook or the start does)
APPLIED = "applied"  # moved the invoice's status
CONFLICT = "conflict"  # matched, but broke the sequencing rules: recorded, status unchanged
REFUSED = "refused"  # from/to a party that is not the invoice's buyer/seller, or forged
HELD = "held"  # the channel does not prove the sender: kept for an admin, never applied by itself
INVALID = "invalid"  # e.g. reason PPD without response code PD, unknown response code
UNMATCHED = "unmatched"  # no invoice (yet); re-matched when it arrives
WAITING = "waiting"  # the invoice is still being sent; applied once the queue is done with it
DUPLICATE = "duplicate"  # same sender + IMR id as one handled before
# States of a sent response (one going out follows its outbound item: queued, sent, delivered,
# failed).
QUEUED = "queued"  # handed to the outbound queue
SENT_STATE = "sent"  # a worker is delivering it (attempts under way)
DELIVERED = "delivered"  # the receiving access point confirmed it
FAILED = "failed"  # delivery failed for good
DELIVERED_LOCALLY = "delivered-locally"  # the seller is a tenant of this gateway
NOT_SENT = "not-sent"  # the generated response did not validate (a bug, logged)

STATES = (
    PENDING,
    APPLIED,
    CONFLICT,
    REFUSED,
    HELD,
    INVALID,
    UNMATCHED,
    WAITING,
    DUPLICATE,
    QUEUED,
    SENT_STATE,
    DELIVERED,
    FAILED,
    DELIVERED_LOCALLY,
    NOT_SENT,
)


class InvoiceResponseRecord(Base):
    __tablename__ = "invoice_responses"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(8))  # received | sent
    #: The Invoice Response document (received: inbound doc; sent: outbound or local copy).
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), unique=True)
    tenant: Mapped[str | None] = mapped_column(String(100), index=True)
    imr_id: Mapped[str] = mapped_column(String(200))
    sender: Mapped[str | None] = mapped_column(String(300))
    receiver: Mapped[str | None] = mapped_column(String(300))
    #: SHA-256 of "sender|IMR id" on the first copy only: the database keeps it applied once.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    referenced_id: Mapped[str | None] = mapped_column(String(200), index=True)
    referenced_type_code: Mapped[str | None] = mapped_column(String(8))
    response_code: Mapped[str | None] = mapped_column(String(8))
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The mapped status (e.g. ``paid``); None when the code is unknown.
    status: Mapped[str | None] = mapped_column(String(32))
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    issue_date: Mapped[str | None] = mapped_column(String(32))
    issue_time: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_invoice_responses_state", "state", "seq"),)


class ResponseSettings(Base):
    """Per-tenant choices: send Invoice Responses when the tenant changes a purchase invoice."""

    __tablename__ = "invoice_response_settings"

    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), primary_key=True)
    emit_responses: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Trusted e-mail senders: ``[{"sender": address, "participant": id or ""}]`` (None: none).
    email_trust: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
