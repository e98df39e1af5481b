"""The table of France's lifecycle messages, on the store's shared ``Base``.

``cdar_statuses`` keeps every CDAR the gateway received or sent, with what became of it
(``state``: the same words as Invoice Responses, :mod:`gateway.responses.models`) and the
message's facts (emitter, reasons, amounts). It is the memory behind the sequencing rules: the
last *applied* status of an invoice decides what may follow.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.db import Base
from gateway.store.models import SeqKey, utcnow

RECEIVED, SENT = "received", "sent"


class CdarRecord(Base):
    __tablename__ = "cdar_statuses"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(8))  # received | sent
    #: The CDAR document (received: inbound document; sent: the outbound item's document).
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), index=True)
    tenant: Mapped[str | None] = mapped_column(String(100), index=True)
    message_id: Mapped[str] = mapped_column(String(200))
    #: ``0225:<SIREN>`` of the party the status speaks for (MDT-38, or the buyer for a
    #: receiver-platform status); the invoice's seller it is addressed to.
    sender: Mapped[str | None] = mapped_column(String(300))
    receiver: Mapped[str | None] = mapped_column(String(300))
    #: SHA-256 of "sender|message id|code" on the first copy only: applied once.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    referenced_id: Mapped[str | None] = mapped_column(String(200), index=True)
    referenced_issue_date: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(8))
    #: The canonical sales status the code moves to (None: recorded, status unchanged).
    sales_status: Mapped[str | None] = mapped_column(String(32))
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_cdar_statuses_state", "state", "seq"),)
