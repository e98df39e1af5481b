"""Generate, validate, store and send Peppol reports; the monthly schedule.

Every report is validated with the pinned XSD + Schematron (scenarios ``peppol-tsr-1.0`` and
``peppol-eusr-1.1``) before it is stored as valid or handed to the outbound queue, which sends
it over AS4 to OpenPeppol (``9925:be0848934496``) with the reporting document types, retried
like any document. The schedule runs between day 1 and 15 of each month for the previous month;
a (kind, month) claim row - a primary key - makes it once per month across gateway processes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from gateway.as4 import export_rows as export
from gateway.owner import owner_id
from gateway.reporting.build import (
    EUSR_DOCUMENT_TYPE,
    REPORTING_PROCESS,
    REPORTING_RECEIVER,
    SEAT_SCHEME,
    TSR_DOCUMENT_TYPE,
    build_eusr,
    build_tsr,
    month_bounds,
)
from gateway.reporting.models import PeppolReport, PeppolReportClaim
from gateway.store import Database, Document, utcnow

log = logging.getLogger(__name__)

KINDS = {
    "tsr": (build_tsr, "peppol-tsr-1.0", TSR_DOCUMENT_TYPE),
    "eusr": (build_eusr, "peppol-eusr-1.1", EUSR_DOCUMENT_TYPE),
}
#: Tenant under which reports travel through the outbound queue (they belong to the AP).
REPORTING_TENANT = "_peppol-reporting"

Validate = Callable[[bytes, str], Awaitable[Any]]


def previous_month(today: dt.date) -> str:
    return (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


class ReportingService:
    def __init__(
        self,
        db: Database,
        reporter: str,
        validate: Validate,
        outbound: Any | None = None,
        *,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.reporter = reporter
        self.validate = validate
        self.outbound = outbound
        self.owner = owner or owner_id()

    async def generate(self, kind: str, month: str, origin: str = "cli") -> PeppolReport:
        """Build the report of ``month`` from the rows, validate it, store it."""
        build, scenario, _ = KINDS[kind]
        first, last = month_bounds(month)
        start = dt.datetime.combine(first, dt.time(), dt.UTC)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
        rows = await export(self.db, start, end)
        xml = build(rows, month, self.reporter)
        report = await self.validate(xml, scenario)
        record = PeppolReport(
            id=str(uuid.uuid4()),
            kind=kind,
            month=month,
            xml=xml,
            valid=bool(report.accepted),
            validation=json.dumps(report.to_dict(), default=str),
            summary=json.dumps(_summary(kind, xml)),
            origin=origin,
        )
        async with self.db.write() as s:
            s.add(record)
        log.info("peppol %s %s generated (%s)", kind, month, "valid" if record.valid else "INVALID")
        return record

    async def send(self, record: PeppolReport) -> str:
        """Queue a valid report for OpenPeppol; returns the outbound document id."""
        if not record.valid:
            raise ValueError(f"{record.kind} {record.month} is not valid; it is not sent")
        if self.outbound is None:
            raise RuntimeError("no outbound service: AS4 is not configured")
        _, _, doctype = KINDS[record.kind]
        submitted = await self.outbound.submit(
            REPORTING_TENANT,
            record.xml,
            receiver=REPORTING_RECEIVER,
            idempotency_key=f"peppol-report:{record.id}",
            actor="peppol-reporting",
            channel="reporting",
            document_type=doctype,
            process=REPORTING_PROCESS,
            sender=f"{SEAT_SCHEME}:{self.reporter}",
        )
        document_id = submitted.item.document_id
        async with self.db.write() as s:
            await s.execute(
                update(PeppolReport)
                .where(PeppolReport.id == record.id)
                .values(document_id=document_id)
            )
        record.document_id = document_id
        return document_id

    # --- the monthly schedule ------------------------------------------------------------------

    async def run_schedule(self, today: dt.date | None = None) -> list[PeppolReport]:
        """Between day 1 and 15: send last month's TSR and EUSR unless a process already did."""
        today = today or dt.datetime.now(dt.UTC).date()
        if not 1 <= today.day <= 15:
            return []
        month = previous_month(today)
        done = []
        for kind in KINDS:
            if not await self._claim(kind, month):
                continue
            record = await self.generate(kind, month, origin="schedule")
            state = "invalid"
            if record.valid:
                await self.send(record)
                state = "sent"
            async with self.db.write() as s:
                await s.execute(
                    update(PeppolReportClaim)
                    .where(PeppolReportClaim.kind == kind, PeppolReportClaim.month == month)
                    .values(state=state, report_id=record.id, updated_at=utcnow())
                )
            done.append(record)
        return done

    async def _claim(self, kind: str, month: str) -> bool:
        """Insert the claim (one winner), or take over an ``invalid`` one (retried next run)."""
        try:
            async with self.db.write() as s:
                s.add(PeppolReportClaim(kind=kind, month=month, state="claimed", owner=self.owner))
            return True
        except IntegrityError:
            pass
        async with self.db.write() as s:
            result = await s.execute(
                update(PeppolReportClaim)
                .where(
                    PeppolReportClaim.kind == kind,
                    PeppolReportClaim.month == month,
                    PeppolReportClaim.state == "invalid",
                )
                .values(state="claimed", owner=self.owner, updated_at=utcnow())
            )
            return bool(result.rowcount)

    # --- admin view ------------------------------------------------------------------------------

    async def list(self, month: str | None = None) -> list[dict[str, Any]]:
        stmt = (
            select(PeppolReport, Document.status)
            .outerjoin(Document, Document.id == PeppolReport.document_id)
            .order_by(PeppolReport.created_at.desc())
        )
        if month:
            stmt = stmt.where(PeppolReport.month == month)
        async with self.db.read() as s:
            rows = (await s.execute(stmt)).all()
        return [
            {
                "id": r.id,
                "kind": r.kind,
                "month": r.month,
                "origin": r.origin,
                "created_at": r.created_at.isoformat(),
                "valid": r.valid,
                "findings": [
                    f
                    for f in json.loads(r.validation).get("findings", [])
                    if f.get("severity") in ("fatal", "error")
                ],
                "summary": json.loads(r.summary),
                "document_id": r.document_id,
                "delivery": status or ("not sent" if r.document_id is None else "unknown"),
            }
            for r, status in rows
        ]

    async def xml(self, report_id: str) -> bytes | None:
        async with self.db.read() as s:
            return await s.scalar(select(PeppolReport.xml).where(PeppolReport.id == report_id))


def _summary(kind: str, xml: bytes) -> dict[str, Any]:
    from lxml import etree

    root = etree.fromstring(xml)
    ns = {"r": root.nsmap[None]}
    if kind == "tsr":
        return {
            "incoming": int(root.findtext("r:Total/r:Incoming", namespaces=ns) or 0),
            "outgoing": int(root.findtext("r:Total/r:Outgoing", namespaces=ns) or 0),
            "subtotals": len(root.findall("r:Subtotal", ns)),
        }
    return {
        "sending_end_users": int(root.findtext("r:FullSet/r:SendingEndUsers", namespaces=ns) or 0),
        "receiving_end_users": int(
            root.findtext("r:FullSet/r:ReceivingEndUsers", namespaces=ns) or 0
        ),
        "subsets": len(root.findall("r:Subset", ns)),
    }
