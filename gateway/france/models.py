"""The table of France's lifecycle messages, on the store's shared ``Base``.

``cdar_statuses`` keeps every CDAR the gateway received or sent, with what became of it
(``state``: the counterpart-status states of :mod:`gateway.responses`, shared with Invoice
Responses) and the message's facts (emitter, reasons, amounts). It is the memory behind the
sequencing rules: the last *applied* status of an invoice decides what may follow.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.responses import RECEIVED, SENT, CounterpartColumns
from gateway.store import Base

__all__ = ["RECEIVED", "SENT", "CdarRecord"]


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
