"""Queue tables, on the store's shared ``Base``: one queue item per outbound document.

The document itself (bytes, metadata, status, history) lives in the store's ``documents``
table; the queue item holds only what delivery needs: its own state, the lease that makes a
claim exclusive, retry bookkeeping and the stable message id. Keeping the queue state in its
own column (not ``documents.status``) lets later statuses such as ``paid`` (set by an Invoice
Response) coexist with "this item is done" without the queue having to understand them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store import Base, SeqKey, utcnow

QUEUED, SENDING, RETRYING = "queued", "sending", "retrying"
DELIVERED, FAILED = "delivered", "failed"
STATES = (QUEUED, SENDING, RETRYING, DELIVERED, FAILED)
#: States a worker may claim (``sending`` only once its lease has expired: a crashed worker).
CLAIMABLE = (QUEUED, RETRYING, SENDING)


class OutboundItem(Base):
    __tablename__ = "outbound_items"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"))
    #: Sent with every attempt, never changes: lets the receiver discard repeats.
    message_id: Mapped[str] = mapped_column(String(100), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    sender: Mapped[str] = mapped_column(String(300), default="")
    receiver: Mapped[str] = mapped_column(String(300))
    document_type: Mapped[str] = mapped_column(Text, default="")
    process: Mapped[str] = mapped_column(Text, default="")

    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    #: Attempts in the current cycle (reset by requeue); ``total_attempts`` never resets.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    total_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    endpoint: Mapped[str | None] = mapped_column(Text)
    #: Start of the current cycle (submission or requeue); ``max_age`` counts from here.
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key", name="uq_outbound_idempotency"),
        Index("ix_outbound_due", "state", "next_attempt_at"),
        Index("ix_outbound_receiver_state", "receiver", "state"),
    )


class OutboundAttempt(Base):
    """One delivery attempt: when, where, how it ended."""

    __tablename__ = "outbound_attempts"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    endpoint: Mapped[str | None] = mapped_column(Text)
    transport: Mapped[str | None] = mapped_column(String(32))
    #: delivered | transient | permanent
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
