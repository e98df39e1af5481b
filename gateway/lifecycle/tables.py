"""Tables of the lifecycle, on the store's shared ``Base`` (migration 0005_lifecycle).

- ``lifecycle_settings``: per tenant, the status profile of each direction and whether webhook
  events carry the document body;
- ``outbound_drafts``: unsent sales documents (what the queue item will need, and ``send_at``
  for scheduled sending);
- ``payments``: payments recorded against a sales invoice (API, or Invoice Response PD/PPD);
- ``document_links``: a credit note and the invoice it credits (both directions are queried).

Migration r13_lifecycle_overdue adds:

- ``overdue_notices``: one row per overdue episode of a sales invoice (the due date passed while
  it was open, or a payment past due left it open); its unique (document, episode) key is what
  makes "once per episode" hold across processes;
- ``lifecycle_timers``: the overdue timer's cursor (due date, seq) over ``ix_documents_due``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store import Base, SeqKey, utcnow


class LifecycleSettings(Base):
    __tablename__ = "lifecycle_settings"

    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), primary_key=True)
    inbound_profile: Mapped[str | None] = mapped_column(String(64))
    outbound_profile: Mapped[str | None] = mapped_column(String(64))
    webhook_content: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboundDraft(Base):
    __tablename__ = "outbound_drafts"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"))
    receiver: Mapped[str] = mapped_column(String(300))
    sender: Mapped[str] = mapped_column(String(300), default="")
    document_type: Mapped[str] = mapped_column(Text, default="")
    process: Mapped[str] = mapped_column(Text, default="")
    send_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Payment(Base):
    __tablename__ = "payments"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    #: Decimal as text (never a float).
    amount: Mapped[str] = mapped_column(String(40))
    paid_on: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocumentLink(Base):
    __tablename__ = "document_links"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # "credits"
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OverdueNotice(Base):
    __tablename__ = "overdue_notices"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    #: ``due`` (the due date passed while open) or ``payment-N`` (still open after a payment).
    episode: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("document_id", "episode", name="uq_overdue_notices"),)


class LifecycleTimer(Base):
    """Where a timer got to: the last (due date, seq) it looked at."""

    __tablename__ = "lifecycle_timers"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    cursor_date: Mapped[str] = mapped_column(String(32), default="")
    cursor_seq: Mapped[int] = mapped_column(SeqKey, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
