"""AS4 tables on the store's shared ``Base``: duplicate elimination, stable outbound identity,
Peppol reporting rows.

- ``as4_inbound_messages`` / ``as4_inbound_instances``: the primary keys (ebMS MessageId and
  ``"{sender}|{InstanceIdentifier}"``) are what make duplicate elimination hold across
  concurrent copies and several gateway processes: only one inserter wins a key.
- ``as4_outbound``: the ebMS MessageId and the exact SBD bytes of an outbound document, written
  on its first attempt and reused on every retry, so the receiver can recognise repeats.
- ``peppol_reporting``: one row per exchanged message with what the Peppol Transaction
  Statistics and End User Statistics reports need.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.owed import OwedColumns
from gateway.store import Base, SeqKey, utcnow

#: Inbound message states: a claim being delivered, or done (receipt on record).
DELIVERING, DONE = "delivering", "done"


class As4InboundMessage(Base):
    __tablename__ = "as4_inbound_messages"

    message_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    instance_key: Mapped[str] = mapped_column(String(700), index=True)
    state: Mapped[str] = mapped_column(String(16), default=DELIVERING)
    #: Who holds a ``delivering`` claim, and since when (a crashed holder's claim goes stale).
    claim_owner: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    #: The signed receipt we answered with; a repeated MessageId gets these exact bytes again.
    receipt: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    from_party: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class As4InboundInstance(Base):
    __tablename__ = "as4_inbound_instances"

    instance_key: Mapped[str] = mapped_column(String(700), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300))
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class As4Outbound(Base):
    __tablename__ = "as4_outbound"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    #: SBDH InstanceIdentifier: what an MLS from the receiving AP refers to.
    instance_id: Mapped[str] = mapped_column(String(200), unique=True)
    sbd: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    receiver_party: Mapped[str] = mapped_column(String(300), default="")
    receipt: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PeppolReportRow(Base):
    """One exchanged Peppol message (either direction), for TSR/EUSR."""

    __tablename__ = "peppol_reporting"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(16))  # inbound | outbound
    tenant: Mapped[str | None] = mapped_column(String(100))
    document_id: Mapped[str | None] = mapped_column(String(40))
    message_id: Mapped[str] = mapped_column(String(300))
    #: When the message was exchanged (receipt sent / receipt verified).
    exchanged_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sender_ap: Mapped[str] = mapped_column(String(100))  # C2 seat id
    receiver_ap: Mapped[str] = mapped_column(String(100))  # C3 seat id
    sender: Mapped[str] = mapped_column(String(300))  # C1 participant id
    receiver: Mapped[str] = mapped_column(String(300))  # C4 participant id
    document_type_id: Mapped[str] = mapped_column(Text)
    process_id: Mapped[str] = mapped_column(Text)
    country_c1: Mapped[str] = mapped_column(String(8), default="")
    country_c4: Mapped[str] = mapped_column(String(8), default="")
    #: How C4 was determined (:data:`gateway.as4.reporting.C4_SOURCES`): ``participant`` /
    #: ``tenant`` (registered), ``document`` (buyer address), ``config`` (``[as4] country``, a
    #: guess), ``admin`` (set through the API), ``unknown``.
    c4_source: Mapped[str] = mapped_column(String(16), default="unknown")
    #: "business" or "mls" (Peppol counts them separately).
    kind: Mapped[str] = mapped_column(String(16), default="business")

    __table_args__ = (Index("ix_peppol_reporting_at", "exchanged_at"),)


class As4MlsOutbox(OwedColumns, Base):
    """An MLS we owe for a received message (a :mod:`gateway.owed` table), written in the
    intake's transaction with the document and settled ``queued`` once the MLS is in the
    outbound queue, or ``skipped`` when the SBDH asks for none (``failed`` when it could not be
    queued ``max_attempts`` times). A row still ``pending`` after a crash is paid by the
    recovery pass or a sweep (:class:`gateway.as4.MlsOutbox`), so no owed MLS is lost; the
    queue's idempotency key (``mls:<sender>|<instance>``) keeps it to one."""

    __tablename__ = "as4_mls_outbox"

    #: ``<sender>|<InstanceIdentifier>`` (the owed-work key; the column kept its old name).
    key: Mapped[str] = mapped_column("instance_key", String(700), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300))
    tenant: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str] = mapped_column(String(300))
    instance_id: Mapped[str] = mapped_column(String(300))
    mls_to: Mapped[str] = mapped_column(String(300))
    mls_type: Mapped[str] = mapped_column(String(32), default="")

    __table_args__ = (Index("ix_as4_mls_outbox_due", "state", "created_at"),)


class PeppolEndUserCountry(Base):
    """The country of a receiving end user, as its registration says: per participant id, or
    the tenant's (``participant = ""``). The first source of C4 (see
    :func:`gateway.as4.reporting.receiver_country`)."""

    __tablename__ = "peppol_end_user_countries"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: Lower-cased ``scheme:id`` as in ``participants``; "" for the tenant's own country.
    participant: Mapped[str] = mapped_column(String(300), primary_key=True, default="")
    country: Mapped[str] = mapped_column(String(2))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
