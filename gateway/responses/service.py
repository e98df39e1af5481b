"""Applying received Invoice Responses to the sales invoices they answer.

One write transaction per response: de-duplicate (sender + IMR id), check validity (PPD only
with PD), match the invoice (referenced id + type, IMR sender = invoice buyer, IMR receiver =
invoice seller), check the sequencing rules, then move the invoice's status, append history
and queue a webhook event for the invoice's tenant. Every outcome is a row in
``invoice_responses``; nothing but an applied response changes an invoice.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Protocol

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.documents import ParseLimits, XmlRefused, identify, parse_xml
from gateway.lifecycle import Cause, IllegalTransition, Lifecycle
from gateway.lifecycle.vocabulary import COUNTERPART, SOURCE_INVOICE_RESPONSE
from gateway.lifecycle.vocabulary import IN_FLIGHT as QUEUE_STATUSES
from gateway.responses import models as rm
from gateway.responses.mapping import Mapping
from gateway.responses.models import InvoiceResponseRecord
from gateway.responses.parse import (
    CREDIT_NOTE_CODES,
    CUSTOMIZATION_ID,
    InvoiceResponse,
    is_invoice_response,
    parse_response,
)
from gateway.responses.rules import Step, conflict
from gateway.store import Database, Document, repo
from gateway.store.models import utcnow

log = logging.getLogger("gateway.responses")

SOURCE = SOURCE_INVOICE_RESPONSE
#: Inbound statuses of an Invoice Response document that mean "valid, go ahead".
HANDLED_DOC_STATUSES = ("received", "forwarded", "unroutable")
INVOICE_KINDS = ("Invoice", "CreditNote")
#: Transient state between matching and applying (never committed).
MATCHED = "matched"
#: Outbound statuses the queue will still move (an Invoice Response waits for them to end).
IN_FLIGHT = QUEUE_STATUSES
#: Received responses the sweep tries again.
RETRY_STATES = (rm.UNMATCHED, rm.WAITING)


class ForwarderLike(Protocol):
    async def enqueue(self, session: Any, doc: Document) -> None: ...

    def wake(self) -> None: ...


class IntakeResultLike(Protocol):
    document_id: str
    status: str
    report: Any


def normalise(pid: str | None) -> str | None:
    if not pid:
        return None
    try:
        return repo.normalise_participant(pid)
    except ValueError:
        return pid.strip().lower()


def dedupe_key(sender: str | None, imr_id: str) -> str:
    return repo.sha256_hex(f"{sender or ''}|{imr_id}")


class ResponseService:
    def __init__(
        self,
        db: Database,
        mapping: Mapping,
        forwarder: ForwarderLike | None = None,
        limits: ParseLimits | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.db = db
        self.mapping = mapping
        self.forwarder = forwarder
        self.limits = limits or ParseLimits()
        self.lifecycle = lifecycle or Lifecycle()

    # --- entry points ------------------------------------------------------------------------

    async def on_intake(self, result: IntakeResultLike) -> None:
        """Intake hook: apply a stored, valid Invoice Response. Never raises (the doc is stored;
        a failure here is retried by :meth:`sweep`)."""
        info = result.report.document or {}
        if not is_invoice_response(info.get("customization_id")):
            return
        if result.status not in HANDLED_DOC_STATUSES or not result.report.accepted:
            return
        try:
            await self.handle_document(result.document_id)
        except Exception:
            log.exception(
                "applying invoice response failed", extra={"document": result.document_id}
            )

    async def handle_document(self, doc_id: str) -> InvoiceResponseRecord:
        """Record and (if it matches and the rules allow) apply the stored response ``doc_id``."""
        for attempt in range(3):
            try:
                rec = await self._handle_once(doc_id)
                break
            except IntegrityError:  # a concurrent copy took the dedupe key first
                if attempt == 2:
                    raise
        if self.forwarder is not None:
            self.forwarder.wake()
        return rec

    async def sweep(self) -> int:
        """Handle responses intake could not apply and re-match unmatched ones; returns how many
        changed state."""
        changed = 0
        async with self.db.read() as s:
            pending = list(
                await s.scalars(
                    select(Document.id)
                    .where(
                        Document.direction == "inbound",
                        Document.customization_id == CUSTOMIZATION_ID,
                        Document.validation_status == "accepted",
                        Document.status.in_(HANDLED_DOC_STATUSES),
                        ~exists().where(InvoiceResponseRecord.document_id == Document.id),
                    )
                    .order_by(Document.seq)
                    .limit(200)
                )
            )
            waiting = list(
                await s.scalars(
                    select(InvoiceResponseRecord.seq)
                    .where(
                        InvoiceResponseRecord.state.in_(RETRY_STATES),
                        exists().where(
                            Document.direction == "outbound",
                            Document.number == InvoiceResponseRecord.referenced_id,
                        ),
                    )
                    .order_by(InvoiceResponseRecord.seq)
                    .limit(200)
                )
            )
        for doc_id in pending:
            await self.handle_document(doc_id)
            changed += 1
        for seq in waiting:
            if await self._rematch_one(seq):
                changed += 1
        if changed and self.forwarder is not None:
            self.forwarder.wake()
        return changed

    # --- one response ------------------------------------------------------------------------

    async def _handle_once(self, doc_id: str) -> InvoiceResponseRecord:
        async with self.db.write() as s:
            existing = await s.scalar(
                select(InvoiceResponseRecord).where(InvoiceResponseRecord.document_id == doc_id)
            )
            if existing is not None:
                return existing
            doc = await repo.get_document(s, doc_id, None)
            raw, _ = await repo.get_raw(s, doc_id, None)
            try:
                imr = parse_response(raw, self.mapping, self.limits)
            except XmlRefused as exc:  # validated before, so this is unexpected
                imr = None
                log.warning("stored invoice response does not parse: %s", exc)
            rec = self._record(doc, imr)
            s.add(rec)
            if rec.state == "":
                await self._decide(s, rec)
            await s.flush()
            return rec

    def _record(self, doc: Document, imr: InvoiceResponse | None) -> InvoiceResponseRecord:
        rec = InvoiceResponseRecord(
            direction=rm.RECEIVED,
            document_id=doc.id,
            tenant=doc.tenant,
            imr_id=(imr.imr_id if imr else doc.number) or "",
            partial=False,
            state="",
            details={},
        )
        if imr is None:
            rec.state, rec.detail = rm.INVALID, "the stored document does not parse"
            return rec
        rec.sender, rec.receiver = normalise(imr.sender), normalise(imr.receiver)
        rec.referenced_id, rec.referenced_type_code = imr.referenced_id, imr.referenced_type_code
        rec.response_code, rec.partial = imr.response_code, imr.partial
        rec.issue_date, rec.issue_time = imr.issue_date, imr.issue_time
        rec.details = {**imr.details(), "referenced_issue_date": imr.referenced_issue_date}
        code = imr.response_code or ""
        if code in self.mapping.codes:
            rec.status = self.mapping.status_for(code, imr.partial)
        return rec

    async def _decide(self, s: AsyncSession, rec: InvoiceResponseRecord) -> None:
        key = dedupe_key(rec.sender, rec.imr_id)
        first = await s.scalar(
            select(InvoiceResponseRecord).where(InvoiceResponseRecord.dedupe_key == key)
        )
        if first is not None:
            rec.state = rm.DUPLICATE
            rec.invoice_id = first.invoice_id
            rec.detail = (
                f"same sender and response id as response #{first.seq} "
                f"({first.state}); applied once"
            )
            return
        rec.dedupe_key = key
        invalid = self._invalid(rec)
        if invalid:
            rec.state, rec.detail = rm.INVALID, invalid
            return
        await self._match_and_apply(s, rec)

    def _invalid(self, rec: InvoiceResponseRecord) -> str | None:
        code = rec.response_code or ""
        if code not in self.mapping.codes:
            return f"unknown response code {code!r}; Peppol uses {', '.join(self.mapping.codes)}"
        if rec.partial and code != "PD":
            return (
                f"status reason PPD (partially paid) requires response code PD, not {code} "
                "(PEPPOL-T111-R005, checked by the gateway)"
            )
        if not rec.referenced_id:
            return "the response references no document id"
        return None

    async def _rematch_one(self, seq: int) -> bool:
        async with self.db.write() as s:
            rec = await s.get(InvoiceResponseRecord, seq)
            if rec is None or rec.state not in RETRY_STATES:
                return False
            await self._match_and_apply(s, rec)
            rec.updated_at = utcnow()
            return rec.state not in RETRY_STATES

    async def _match_and_apply(self, s: AsyncSession, rec: InvoiceResponseRecord) -> None:
        invoice, state, detail = await self._match(s, rec)
        rec.state, rec.detail = state, detail
        if invoice is not None and invoice.status in IN_FLIGHT:
            # The queue still writes this invoice's status (sending -> delivered); applying now
            # would be overwritten, so the sweep applies it once delivery is settled.
            rec.state, rec.invoice_id = rm.WAITING, invoice.id
            rec.detail = (
                f"sales invoice {invoice.id} is still {invoice.status}; applied after delivery"
            )
        elif invoice is not None:
            await self._apply(s, rec, invoice)

    # --- matching ------------------------------------------------------------------------------

    async def _match(
        self, s: AsyncSession, rec: InvoiceResponseRecord
    ) -> tuple[Document | None, str, str | None]:
        stmt = select(Document).where(
            Document.direction == "outbound",
            Document.number == rec.referenced_id,
            Document.kind.in_(INVOICE_KINDS),
        )
        if rec.tenant is not None:
            stmt = stmt.where(Document.tenant == rec.tenant)
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        wanted_kind = _kind_of(rec.referenced_type_code)
        ref_date = (rec.details or {}).get("referenced_issue_date")
        candidates = [
            d
            for d in await s.scalars(stmt.order_by(Document.seq.desc()).limit(50))
            if (wanted_kind is None or d.kind == wanted_kind)
            and (not ref_date or not d.issue_date or d.issue_date == ref_date)
        ]
        where = f" of tenant {rec.tenant}" if rec.tenant else ""
        if not candidates:
            return None, rm.UNMATCHED, f"no sales invoice {rec.referenced_id}{where} (yet)"
        parties = [(d, *await self._parties(s, d)) for d in candidates]
        for doc, seller, buyer in parties:
            if seller == rec.receiver and buyer == rec.sender:
                return doc, MATCHED, None
        same_seller = [(d, b) for d, sl, b in parties if sl == rec.receiver]
        if same_seller:
            buyer = same_seller[0][1]
            return (
                None,
                rm.REFUSED,
                (
                    f"the response's sender {rec.sender} is not the buyer ({buyer}) of sales "
                    f"invoice {rec.referenced_id}; nothing changed"
                ),
            )
        if rec.tenant is None:  # other tenants' invoices with this number are not ours to judge
            return (
                None,
                rm.UNMATCHED,
                f"no sales invoice {rec.referenced_id} of seller {rec.receiver}",
            )
        seller = parties[0][1]
        return (
            None,
            rm.REFUSED,
            (
                f"the response's receiver {rec.receiver} is not the seller ({seller}) of sales "
                f"invoice {rec.referenced_id}; nothing changed"
            ),
        )

    async def _parties(self, s: AsyncSession, doc: Document) -> tuple[str | None, str | None]:
        """(seller, buyer) endpoint ids of an invoice, read from the document itself."""
        raw, _ = await repo.get_raw(s, doc.id, None)
        try:
            info = identify(parse_xml(raw, self.limits))
        except XmlRefused:
            return normalise(doc.seller_id), normalise(doc.buyer_id)
        return normalise(info.seller.endpoint), normalise(info.buyer.endpoint)

    # --- applying ------------------------------------------------------------------------------

    async def _apply(self, s: AsyncSession, rec: InvoiceResponseRecord, invoice: Document) -> None:
        rec.invoice_id = invoice.id
        last = await s.scalar(
            select(InvoiceResponseRecord)
            .where(
                InvoiceResponseRecord.invoice_id == invoice.id,
                InvoiceResponseRecord.direction == rm.RECEIVED,
                InvoiceResponseRecord.state == rm.APPLIED,
            )
            .order_by(InvoiceResponseRecord.seq.desc())
            .limit(1)
        )
        current = Step(last.response_code or "", last.partial) if last is not None else None
        assert rec.response_code is not None and rec.status is not None
        why = conflict(current, Step(rec.response_code, rec.partial))
        summary = self.summary(rec)
        cause = Cause(SOURCE, role=COUNTERPART, actor=_actor(rec), tenant=rec.tenant)
        if why is None:
            try:
                await self.lifecycle.move(
                    s, invoice, rec.status, cause, reason=summary, status_reason=summary
                )
            except IllegalTransition as exc:  # e.g. the issuer canceled the invoice already
                why = exc.reason
            else:
                rec.state, rec.detail = rm.APPLIED, None
                rec.updated_at = utcnow()
                return
        if last is not None and _issued(rec) < _issued(last):
            why += f" (it was issued before response {last.imr_id} and arrived late)"
        rec.state, rec.detail = rm.CONFLICT, why
        await self.lifecycle.note(
            s, invoice, cause, f"conflict, status unchanged: {why}. {summary}"
        )

    def summary(self, rec: InvoiceResponseRecord) -> str:
        """One line for the history: code, text, reasons, actions, notes, responding party."""
        entry = self.mapping.codes.get(rec.response_code or "")
        parts = [
            f"Invoice Response {rec.imr_id} from {rec.sender}: {rec.response_code}"
            + (f" ({entry.name})" if entry else "")
            + (" with PPD (partially paid)" if rec.partial else "")
        ]
        d = rec.details or {}
        for st in d.get("statuses", []):
            label = "action" if st.get("list_id") == "OPStatusAction" else "reason"
            bits = [f"{st['code']} ({st.get('name') or 'unknown code'})"] if st.get("code") else []
            if st.get("reason"):
                bits.append(st["reason"])
            for c in st.get("conditions", []):
                bits.append(f"{c.get('attribute')}={c.get('description')}")
            if bits:
                parts.append(f"{label}: " + "; ".join(bits))
        if d.get("effective_date"):
            parts.append(f"effective {d['effective_date']}")
        parts += [f"note: {n}" for n in d.get("notes", [])]
        return " | ".join(parts)


def _kind_of(type_code: str | None) -> str | None:
    if not type_code:
        return None
    return "CreditNote" if type_code.strip() in CREDIT_NOTE_CODES else "Invoice"


def _issued(rec: InvoiceResponseRecord) -> tuple[str, str]:
    return (rec.issue_date or "", rec.issue_time or "")


def _actor(rec: InvoiceResponseRecord) -> str:
    return f"imr:{rec.sender}"[:200]


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
