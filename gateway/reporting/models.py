"""Stored Peppol reports and the monthly schedule's claims."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store import Base, utcnow


class PeppolReport(Base):
    """One generated TSR or EUSR: the XML exactly as validated (and sent), its validation."""

    __tablename__ = "peppol_reports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # tsr | eusr
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    xml: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    valid: Mapped[bool] = mapped_column(Boolean)
    #: the validation report (JSON): scenario, findings
    validation: Mapped[str] = mapped_column(Text)
    #: the counts the report states (JSON), for the admin list
    summary: Mapped[str] = mapped_column(Text)
    #: outbound queue document that carries it (None until sent)
    document_id: Mapped[str | None] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(16), default="cli")  # cli | schedule | api
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PeppolReportClaim(Base):
    """The schedule's "this month's report is mine": one row per (kind, month), primary key, so
    of several gateway processes exactly one sends it."""

    __tablename__ = "peppol_report_claims"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    #: claimed | sent | invalid (an invalid report is retried by a later run)
    state: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
