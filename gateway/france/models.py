"""The table of France's lifecycle messages, on the store's shared ``Base``.

``cdar_statuses`` keeps every CDAR the gateway received or sent, with what became of it
(``state``: the counterpart-status states of :mod:`gateway.responses`, shared with Invoice
Responses) and the message's facts (emitter, reasons, amounts). It is the memory behind the
sequencing rules: the last *applied* status of an invoice decides what may follow.

``cdar_owed`` keeps the CDAR the gateway owes and has not finished sending (issue 20: written in
the transaction of the move that calls for it, so a crash cannot lose it; see
:mod:`gateway.france.owed`).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.owed import OwedColumns
from gateway.responses import RECEIVED, SENT, CounterpartColumns
from gateway.store import Base

__all__ = ["RECEIVED", "SENT", "CdarOwed", "CdarRecord"]


class CdarRecord(CounterpartColumns, Base):
    """One CDAR (the shared columns: :class:`gateway.responses.CounterpartColumns`).

    ``sender`` is ``0225:<SIREN>`` of the party the status speaks for (MDT-38, or the buyer for
    a receiver-platform status), ``receiver`` the invoice's seller it is addressed to, and the
    de-duplication key hashes "sender|message id|code"."""

    __tablename__ = "cdar_statuses"

    #: The CDAR document (received: inbound document; sent: the outbound item's document).
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(200))
    referenced_issue_date: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(8))
    #: The canonical sales status the code moves to (None: recorded, status unchanged).
    sales_status: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_cdar_statuses_state", "state", "seq"),)


class CdarOwed(OwedColumns, Base):
    """One CDAR owed about a document: a status code to send (with its state-platform copy
    when mandatory), written with the move that calls for it and settled once its messages
    are built, queued and recorded (the debt's columns: :class:`gateway.owed.OwedColumns`).

    ``key`` is ``<document id>|<code>`` for a status owed once per document (200, 201, a
    DOUBLON's 213), ``<document id>|<code>|<token>`` for a tenant's action (each one owes its
    own)."""

    __tablename__ = "cdar_owed"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    tenant: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_cdar_owed_state", "state", "created_at"),)
