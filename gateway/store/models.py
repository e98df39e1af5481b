"""Tables of the document store (SQLAlchemy 2 typed ORM).

One ``documents`` table serves both directions (``direction`` = inbound | outbound) so the
outbound queue, Invoice Responses and duplicate detection share one record per document.
Raw bytes live in the row itself (deferred, so listings never load them): one transaction then
makes the bytes, the metadata and the first history entry durable together, which is the
simplest way to honour "committed before any 2xx" without a second storage system to fsync.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.db import Base

#: Auto-increment keys: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
SeqKey = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_document_id() -> str:
    """Time-ordered, unguessable id: 12 hex digits of milliseconds + 80 random bits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


class Tenant(Base):
    """A customer of the gateway; owns documents, API keys, participant ids and a webhook."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    #: Kept in clear text because signing needs it; only ever shown once, when set.
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    #: Event types sent to the webhook (``document.received``, ...); None = every event.
    webhook_events: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    """An API key: ``gw_<id>_<secret>``; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class Participant(Base):
    """A receiving participant id (``scheme:id``, lower-cased) owned by one tenant."""

    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Document(Base):
    __tablename__ = "documents"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    #: The insert sentinel (client-generated, unique): with it SQLAlchemy inserts a batch of
    #: documents in one ``INSERT ... RETURNING`` and matches the returned ``seq`` values to
    #: their rows; without it SQLite got one INSERT (one driver round trip) per document.
    id: Mapped[str] = mapped_column(
        String(40), unique=True, default=new_document_id, insert_sentinel=True
    )
    direction: Mapped[str] = mapped_column(String(16))  # inbound | outbound
    channel: Mapped[str] = mapped_column(String(32))  # api | email | as4 | ...
    tenant: Mapped[str | None] = mapped_column(ForeignKey("tenants.name"))
    status: Mapped[str] = mapped_column(String(32))
    #: Why the document is in its status when that is not obvious (unroutable, invalid, ...).
    status_reason: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))

    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100), default="application/xml")

    doc_type: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(64))
    syntax: Mapped[str | None] = mapped_column(String(16))
    customization_id: Mapped[str | None] = mapped_column(Text)
    scenario: Mapped[str | None] = mapped_column(String(100))
    validation_status: Mapped[str] = mapped_column(String(32))
    number: Mapped[str | None] = mapped_column(String(200))
    issue_date: Mapped[str | None] = mapped_column(String(32))
    due_date: Mapped[str | None] = mapped_column(String(32))
    seller_id: Mapped[str | None] = mapped_column(String(300))
    buyer_id: Mapped[str | None] = mapped_column(String(300))
    sender_endpoint: Mapped[str | None] = mapped_column(String(300))
    receiver_endpoint: Mapped[str | None] = mapped_column(String(300))
    currency: Mapped[str | None] = mapped_column(String(8))
    #: Exactly as written in the document (no float rounding).
    payable_amount: Mapped[str | None] = mapped_column(String(40))
    business_key: Mapped[str | None] = mapped_column(Text)

    report: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    #: Channel facts: e-mail sender/subject, AS4 message id, API key id, ...
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_documents_tenant_dir_seq", "tenant", "direction", "seq"),
        Index("ix_documents_tenant_status", "tenant", "status"),
        # The Flow API's search (gateway.france.flow.search): a tenant's documents by last
        # update, then row, read in that order from a cursor (migration f20_flow_search_index).
        Index("ix_documents_tenant_updated_seq", "tenant", "updated_at", "seq"),
    )


class StatusChange(Base):
    """Append-only history; database triggers refuse UPDATE and DELETE on these rows.

    Rows are written only by :mod:`gateway.lifecycle` (a test keeps it that way)."""

    __tablename__ = "status_history"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    #: Who/what decided: system, api, admin, webhook, inbox, invoice-response, timer, ...
    source: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(200))
    #: The tenant and API key that caused the change (not necessarily the document's tenant).
    tenant: Mapped[str | None] = mapped_column(String(100))
    key_id: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocumentClaim(Base):
    """Uniqueness claims of originals: the primary key makes the database pick one winner.

    ``kind`` is ``sha256`` (value = hash of the bytes) or ``business-key`` (value = SHA-256 of
    the business key, which bounds its length). Only originals hold claims, so a duplicate that
    an admin releases never blocks anything, and invalid documents never block a corrected one.
    """

    __tablename__ = "document_claims"

    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)


class Attachment(Base):
    """Files that came with a document (other e-mail attachments, multipart parts).

    The bytes are in :class:`Blob` under ``sha256`` (rows written before revision 0005 keep
    them in ``data``): a mail's raw message and attachments are stored once, however many
    documents the mail produced and however often it is delivered again.
    """

    __tablename__ = "attachments"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class Blob(Base):
    """Content-addressed bytes (attachments, raw messages): one row per distinct content."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InboundMessage(Base):
    """A received message (e-mail) and the documents stored from it, written in the same
    transaction as those documents: the same message delivered again (an SMTP retry after a
    lost reply) is recognised by ``sha256`` and answered with the documents already stored."""

    __tablename__ = "inbound_messages"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    #: Document ids in the order of the message's invoices.
    documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Headers, envelope, parts (name/type/size/sha256) and what was not a document, and why.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InboxItem(Base):
    """One entry of a tenant's pull inbox; ``seq`` is the cursor."""

    __tablename__ = "inbox_items"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_inbox_tenant_seq", "tenant", "seq"),)


class WebhookDelivery(Base):
    """One webhook event for a tenant (pending -> delivered | failed).

    ``event`` is its type (``document.received``, ``document.status_changed``, ...);
    ``payload`` the event's own data (e.g. from/to of a status change)."""

    __tablename__ = "webhook_deliveries"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"))
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(40), default="document.received")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The process sending it now and until when (gateway.forwarding.claims); None = no one.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DeliveryAttempt(Base):
    """Every HTTP attempt of a webhook delivery, so operators can see what happened."""

    __tablename__ = "delivery_attempts"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    delivery_seq: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.seq"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(default=0.0)
