"""Applying received CDAR lifecycle messages to the sales invoices they concern.

The same discipline as Invoice Responses (:mod:`gateway.responses.service`), with France's
words: one write transaction per message; judge whether the channel proves the party the
status speaks for (:func:`gateway.responses.judge`: AS4 signed by the access point and the SBDH
naming that party, REST by the tenant owning it; held and refused messages stop there, are
listed, and never take the de-duplication key); de-duplicate (party + message id + code);
match the invoice *inside the tenant that received the message* (number, issue date, type,
seller SIREN = MDT-129 = the recipient, the invoice's buyer = the party speaking); check the
sequencing rules (:mod:`gateway.france.rules`); then ask :mod:`gateway.lifecycle` to move the
invoice (source ``cdar``, role ``counterpart``) with the code, reasons, amounts and emitter in
the history. Unroutable messages (no tenant) are never handled until routed.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.documents import ParseLimits, XmlRefused, identify, parse_xml, siren_of
from gateway.documents import siren_participant as participant
from gateway.france import models as fm
from gateway.france.cdar import CdarStatus, is_cdar, parse_cdar
from gateway.france.codes import Code, Codes, load_codes
from gateway.france.models import CdarRecord
from gateway.france.rules import conflict
from gateway.lifecycle import IllegalTransition, Lifecycle
from gateway.lifecycle.vocabulary import IN_FLIGHT, SOURCE_CDAR
from gateway.responses import actor_of, cause_of_proof, judge, proof_of, wrong_access_point
from gateway.store import Database, Document, repo
from gateway.store.models import utcnow

log = logging.getLogger("gateway.france")

#: States of a received message (the words of gateway.responses.models).
APPLIED, NOTED, CONFLICT, REFUSED, HELD = "applied", "noted", "conflict", "refused", "held"
INVALID, UNMATCHED, WAITING, DUPLICATE = "invalid", "unmatched", "waiting", "duplicate"
HANDLED_DOC_STATUSES = ("received", "forwarded")
#: MDT-40 role codes of the party a status speaks for.
BUYER_ROLE, SELLER_ROLE = "BY", "SE"


class CdarService:
    def __init__(
        self,
        db: Database,
        lifecycle: Lifecycle,
        codes: Codes | None = None,
        limits: ParseLimits | None = None,
    ) -> None:
        self.db = db
        self.lifecycle = lifecycle
        self.codes = codes or load_codes()
        self.limits = limits or ParseLimits()
        self.email_trust: Any = None
        #: Set by the app factory (AS4): a status over AS4 must come from the access point the
        #: invoice was delivered to (gateway.responses.wrong_access_point).
        self.served_by: Any = None

    # --- entry points ------------------------------------------------------------------------

    async def on_intake(self, result: Any) -> None:
        """Intake hook: apply a stored, valid CDAR. Never raises (the message is stored)."""
        info = result.report.document or {}
        if not is_cdar(info.get("customization_id")):
            return
        if result.status not in HANDLED_DOC_STATUSES or not result.report.accepted:
            return
        try:
            await self.handle_document(result.document_id)
        except Exception:
            log.exception("applying a CDAR failed", extra={"document": result.document_id})

    async def on_routed(self, doc_id: str) -> None:
        async with self.db.read() as s:
            doc = await repo.get_document(s, doc_id, None)
        accepted = doc.validation_status == "accepted"
        if accepted and is_cdar(doc.customization_id) and doc.status in HANDLED_DOC_STATUSES:
            await self.handle_document(doc_id)

    async def handle_document(self, doc_id: str) -> CdarRecord:
        for attempt in range(3):
            try:
                return await self._handle_once(doc_id)
            except IntegrityError:  # a concurrent copy took the dedupe key first
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # --- one message ---------------------------------------------------------------------------

    async def _handle_once(self, doc_id: str) -> CdarRecord:
        async with self.db.write() as s:
            existing = await s.scalar(
                select(CdarRecord).where(
                    CdarRecord.document_id == doc_id, CdarRecord.direction == fm.RECEIVED
                )
            )
            if existing is not None:
                return existing
            doc = await repo.get_document(s, doc_id, None)
            raw, _ = await repo.get_raw(s, doc_id, None)
            try:
                msg = parse_cdar(raw, self.limits)
            except XmlRefused:  # validated before, so this is unexpected
                msg = None
            rec = self._record(doc, msg)
            s.add(rec)
            if rec.state == "" and msg is not None:
                await self._decide(s, rec, doc, msg)
            await s.flush()
            return rec

    def _record(self, doc: Document, msg: CdarStatus | None) -> CdarRecord:
        rec = CdarRecord(
            direction=fm.RECEIVED,
            document_id=doc.id,
            tenant=doc.tenant,
            message_id=(msg.message_id if msg else doc.number) or "",
            state="",
            details={},
        )
        if msg is None:
            rec.state, rec.detail = INVALID, "the stored document does not parse"
            return rec
        rec.sender = participant(self._speaker(msg))
        rec.receiver = participant(msg.invoice_seller)
        rec.referenced_id, rec.referenced_issue_date = msg.invoice_number, msg.invoice_issue_date
        rec.code = msg.code
        rec.details = {**msg.details(), "invoice_type_code": msg.invoice_type_code}
        code = self.codes.get(msg.code)
        if code is None:
            rec.state, rec.detail = INVALID, f"unknown status code {msg.code!r}"
        else:
            rec.sales_status = code.sales
        return rec

    @staticmethod
    def _speaker(msg: CdarStatus) -> str | None:
        """The SIREN the status speaks for: its creator (MDT-38), or, for a status created by
        a platform (role WK, no SIREN), the buyer among the recipients (the receiver's platform
        speaks for its buyer)."""
        if msg.issuer.siren:
            return msg.issuer.siren
        return next((r.siren for r in msg.recipients if r.role == BUYER_ROLE and r.siren), None)

    async def _decide(
        self, s: AsyncSession, rec: CdarRecord, doc: Document, msg: CdarStatus
    ) -> None:
        verdict = await judge(s, doc, rec.sender, email_trust=self.email_trust)
        rec.details = {**rec.details, "proof": proof_of(verdict)}
        if not verdict.proven:
            rec.state = HELD if verdict.outcome == "held" else REFUSED
            rec.detail = f"not applied: {verdict.how}"
            invoice, _, _ = await self._match(s, rec, msg)
            rec.invoice_id = invoice.id if invoice is not None else None
            return
        key = repo.sha256_hex(f"{rec.sender}|{rec.message_id}|{rec.code}")
        first = await s.scalar(select(CdarRecord).where(CdarRecord.dedupe_key == key))
        if first is not None:
            rec.state, rec.invoice_id = DUPLICATE, first.invoice_id
            rec.detail = f"same party, message id and code as #{first.seq} ({first.state})"
            return
        rec.dedupe_key = key
        await self._match_and_apply(s, rec, msg)

    async def _match_and_apply(self, s: AsyncSession, rec: CdarRecord, msg: CdarStatus) -> None:
        invoice, state, why = await self._match(s, rec, msg)
        if invoice is None:
            rec.state, rec.detail = state, why
            return
        rec.invoice_id = invoice.id
        if wrong := await wrong_access_point(s, self.served_by, rec.details, invoice.id):
            rec.state, rec.detail = REFUSED, wrong
            return
        if invoice.status in IN_FLIGHT:
            # The queue still writes this invoice's status; applied once delivery is settled.
            rec.state = WAITING
            rec.detail = f"sales invoice {invoice.id} is still {invoice.status}"
            return
        await self._apply(s, rec, invoice)

    async def retry(self, invoice_id: str) -> int:
        """Apply the waiting and unmatched messages that name sales invoice ``invoice_id``
        (called once it left the outbound queue); returns how many changed state."""
        changed = 0
        async with self.db.write() as s:
            invoice = await repo.get_document(s, invoice_id, None)
            recs = list(
                await s.scalars(
                    select(CdarRecord)
                    .where(
                        CdarRecord.direction == fm.RECEIVED,
                        CdarRecord.state.in_((WAITING, UNMATCHED)),
                        CdarRecord.tenant == invoice.tenant,
                        CdarRecord.referenced_id == invoice.number,
                    )
                    .order_by(CdarRecord.seq)
                )
            )
            for rec in recs:
                raw, _ = await repo.get_raw(s, rec.document_id, None)
                before = rec.state
                await self._match_and_apply(s, rec, parse_cdar(raw, self.limits))
                rec.updated_at = utcnow()
                changed += rec.state != before
        return changed

    async def _match(
        self, s: AsyncSession, rec: CdarRecord, msg: CdarStatus
    ) -> tuple[Document | None, str, str]:
        """The sales invoice of the receiving tenant that ``msg`` concerns, or (None, the
        record's state, why): ``refused`` when the invoice exists but the party speaking is
        not its buyer, ``unmatched`` when there is no such invoice (yet)."""
        if rec.tenant is None:
            return None, UNMATCHED, "no tenant received this message; route it first"
        stmt = select(Document).where(
            Document.tenant == rec.tenant,
            Document.direction == "outbound",
            Document.number == rec.referenced_id,
            Document.kind.in_(("Invoice", "CreditNote")),
        )
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        found = [
            d
            for d in await s.scalars(stmt.order_by(Document.seq.desc()).limit(20))
            if not rec.referenced_issue_date or d.issue_date == rec.referenced_issue_date
        ]
        for doc in found:
            seller, buyer = await self._sirens(s, doc)
            if seller != msg.invoice_seller:
                continue
            if participant(buyer) != rec.sender:
                return (
                    None,
                    REFUSED,
                    (
                        f"the status speaks for {rec.sender}, which is not the buyer "
                        f"({participant(buyer)}) of sales invoice {rec.referenced_id}; nothing changed"
                    ),
                )
            return doc, "", ""
        return (
            None,
            UNMATCHED,
            (
                f"no sales invoice {rec.referenced_id} of {rec.referenced_issue_date} by seller "
                f"{msg.invoice_seller} in tenant {rec.tenant} (yet)"
            ),
        )

    async def _sirens(self, s: AsyncSession, doc: Document) -> tuple[str | None, str | None]:
        raw, _ = await repo.get_raw(s, doc.id, None)
        try:
            info = identify(parse_xml(raw, self.limits))
        except XmlRefused:
            return None, None
        return siren_of(info.seller), siren_of(info.buyer)

    async def _apply(self, s: AsyncSession, rec: CdarRecord, invoice: Document) -> None:
        code = self.codes.get(rec.code)
        assert code is not None
        last = await self.last_applied(s, invoice.id)
        why = conflict(last, code)
        summary = self.summary(rec, code)
        cause = cause_of_proof(SOURCE_CDAR, actor_of(rec, "cdar"), rec.details)
        if why is None and code.sales is None:
            rec.state, rec.detail = NOTED, f"{code.name} moves no sales status; recorded"
            await self.lifecycle.note(s, invoice, cause, f"recorded, status unchanged. {summary}")
            return
        if why is None and code.sales is not None:
            try:
                await self.lifecycle.move(
                    s, invoice, code.sales, cause, reason=summary, status_reason=summary
                )
            except IllegalTransition as exc:
                why = exc.reason
            else:
                rec.state, rec.updated_at = APPLIED, utcnow()
                return
        rec.state, rec.detail = CONFLICT, why
        await self.lifecycle.note(
            s, invoice, cause, f"conflict, status unchanged: {why}. {summary}"
        )

    async def last_applied(self, s: AsyncSession, invoice_id: str) -> Code | None:
        last = await s.scalar(
            select(CdarRecord.code)
            .where(
                CdarRecord.invoice_id == invoice_id,
                CdarRecord.direction == fm.RECEIVED,
                CdarRecord.state.in_((APPLIED, NOTED)),
            )
            .order_by(CdarRecord.seq.desc())
            .limit(1)
        )
        return self.codes.get(last)

    def summary(self, rec: CdarRecord, code: Code) -> str:
        """One line for the history: code and label, reasons, actions, amounts, emitter."""
        d = rec.details or {}
        issuer = d.get("issuer") or {}
        parts = [
            f"CDAR {rec.message_id} from {rec.sender}: {code.name}"
            + (f" (emitted by {issuer.get('name') or issuer.get('role')})" if issuer else "")
        ]
        parts += [
            f"reason {r['code']}" + (f" ({r['text']})" if r.get("text") else "")
            for r in d.get("reasons", [])
        ]
        parts += [
            f"action {a['code']}" + (f" ({a['text']})" if a.get("text") else "")
            for a in d.get("actions", [])
        ]
        for ch in d.get("characteristics", []):
            if ch.get("amount"):
                parts.append(
                    f"{ch.get('type_code') or 'amount'} {ch['amount']} {ch.get('currency') or ''}".strip()
                    + (f" at {ch['percent']} %" if ch.get("percent") else "")
                )
        parts += [f"note: {n}" for n in d.get("notes", [])]
        return " | ".join(parts)
