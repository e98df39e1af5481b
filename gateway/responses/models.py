"""Tables of Invoice Response handling, on the store's shared ``Base``.

``invoice_responses`` keeps every Invoice Response the gateway received or sent, with what
became of it (``state``) and the structured details (reason/action codes with texts, notes,
responding party). It is the memory behind the sequencing rules: the last *applied* response
of an invoice decides what may follow, independently of ``documents.status`` (which the
overdue timer or the outbound queue may also write).

``invoice_response_owed`` keeps the responses owed by a tenant's status changes until they are
sent (written in the move's transaction: a crash between the move and the sending loses none).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.owed import OwedColumns
from gateway.responses.records import (  # noqa: F401  (the states, re-exported)
    APPLIED,
    CONFLICT,
    DELIVERED,
    DELIVERED_LOCALLY,
    DUPLICATE,
    FAILED,
    HELD,
    INVALID,
    NOT_SENT,
    PENDING,
    QUEUED,
    RECEIVED,
    REFUSED,
    SENT,
    SENT_STATE,
    UNMATCHED,
    WAITING,
    CounterpartColumns,
)
from gateway.store import Base, utcnow

#: The states of Invoice Responses (a received one is never ``noted``: every code moves).
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


class InvoiceResponseRecord(CounterpartColumns, Base):
    """One Invoice Response (the shared columns: :class:`CounterpartColumns`)."""

    __tablename__ = "invoice_responses"

    #: The Invoice Response document (received: inbound doc; sent: outbound or local copy).
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), unique=True)
    imr_id: Mapped[str] = mapped_column(String(200))
    referenced_type_code: Mapped[str | None] = mapped_column(String(8))
    response_code: Mapped[str | None] = mapped_column(String(8))
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The mapped status (e.g. ``paid``); None when the code is unknown.
    status: Mapped[str | None] = mapped_column(String(32))
    issue_date: Mapped[str | None] = mapped_column(String(32))
    issue_time: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_invoice_responses_state", "state", "seq"),)


class ResponseSettings(Base):
    """Per-tenant choices: send Invoice Responses when the tenant changes a purchase invoice."""

    __tablename__ = "invoice_response_settings"

    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), primary_key=True)
    emit_responses: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Trusted e-mail senders: ``[{"sender": address, "participant": id or ""}]`` (None: none).
    email_trust: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ResponseOwed(OwedColumns, Base):
    """An Invoice Response owed for a tenant's status change of a purchase invoice, written in
    the move's transaction and paid after the commit (or by the recovery pass after a crash:
    :class:`gateway.owed.Outbox`). ``key`` is ``<document id>|<status>|<token>``; the response's
    IMR id and issue date derive from it and ``created_at``, so paying twice sends one."""

    __tablename__ = "invoice_response_owed"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    tenant: Mapped[str | None] = mapped_column(String(100))
    #: The canonical status the invoice moved to (the rule is read when the debt is paid).
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))
    key_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_invoice_response_owed_state", "state", "created_at"),)
