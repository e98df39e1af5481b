"""The CDAR rule set: applying received lifecycle messages to the sales invoices they concern.

The decision runs as for Invoice Responses (:class:`gateway.responses.CounterpartService`: one
write transaction per message; the channel must prove the party the status speaks for, AS4
signed by the access point and the SBDH naming that party, REST by the tenant owning it; held and
refused messages stop there; one copy per party + message id + code; matching inside the tenant
that received the message). France's words are here: the party a status speaks for, matching by
number, issue date, type and seller SIREN = MDT-129 = the recipient, with the invoice's buyer =
the party speaking; the sequencing rules (:mod:`gateway.france.rules`); and the move through
:mod:`gateway.lifecycle` (source ``cdar``, role ``counterpart``) with the code, reasons, amounts
and emitter in the history. Unroutable messages (no tenant) are never handled until routed.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.documents import ParseLimits, XmlRefused, identify, parse_xml, siren_of
from gateway.documents import siren_participant as participant
from gateway.france import models as fm
from gateway.france.cdar import CdarStatus, is_cdar, parse_cdar
from gateway.france.codes import Code, Codes, load_codes
from gateway.france.models import CdarRecord
from gateway.france.rules import conflict
from gateway.lifecycle import SOURCE_CDAR, IllegalTransition, Lifecycle
from gateway.responses import (
    APPLIED,
    CONFLICT,
    INVALID,
    NOTED,
    REFUSED,
    UNMATCHED,
    WAITING,
    CounterpartService,
    Match,
    actor_of,
    cause_of_proof,
)
from gateway.store import Database, Document, repo, utcnow

log = logging.getLogger("gateway.france")

__all__ = ["CdarService"]
#: MDT-40 role codes of the party a status speaks for.
BUYER_ROLE, SELLER_ROLE = "BY", "SE"
MATCHED = "matched"


class CdarService(CounterpartService):
    """The CDAR rule set of :class:`gateway.responses.CounterpartService`."""

    model = CdarRecord
    what = "CDAR"
    duplicate_text = "same party, message id and code as #{seq} ({state})"

    def __init__(
        self,
        db: Database,
        lifecycle: Lifecycle,
        codes: Codes | None = None,
        limits: ParseLimits | None = None,
    ) -> None:
        super().__init__(db, lifecycle, limits)
        self.codes = codes or load_codes()

    # --- the CDAR rule set -----------------------------------------------------------------------

    def is_message(self, customization_id: str | None) -> bool:
        return is_cdar(customization_id)

    def parse(self, raw: bytes) -> CdarStatus:
        return parse_cdar(raw, self.limits)

    def fill(self, rec: CdarRecord, doc: Document, msg: CdarStatus | None) -> None:
        rec.tenant = doc.tenant
        rec.message_id = (msg.message_id if msg else doc.number) or ""
        rec.state, rec.details = "", {}
        if msg is None:
            rec.state, rec.detail = INVALID, "the stored document does not parse"
            return
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

    @staticmethod
    def _speaker(msg: CdarStatus) -> str | None:
        """The SIREN the status speaks for: its creator (MDT-38), or, for a status created by
        a platform (role WK, no SIREN), the buyer among the recipients (the receiver's platform
        speaks for its buyer)."""
        if msg.issuer.siren:
            return msg.issuer.siren
        return next((r.siren for r in msg.recipients if r.role == BUYER_ROLE and r.siren), None)

    def dedupe_key(self, rec: CdarRecord) -> str:
        return repo.sha256_hex(f"{rec.sender}|{rec.message_id}|{rec.code}")

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
                await self.match_and_apply(s, rec, parse_cdar(raw, self.limits))
                rec.updated_at = utcnow()
                if rec.state != before:
                    changed += 1
                    await self.decided(s, rec)
        return changed

    async def decided(self, s: AsyncSession, rec: CdarRecord) -> None:
        """The message's flow changed (its acknowledgement says what became of it): its
        document is touched, in the decision's transaction, so its ``updatedAt`` moves and the
        Flow API announces it (a late decision too: waiting, then applied)."""
        doc = await s.scalar(select(Document).where(Document.id == rec.document_id))
        if doc is not None:
            await self.lifecycle.touch(s, doc)

    async def match(self, s: AsyncSession, rec: CdarRecord, msg: CdarStatus | None) -> Match:
        """The sales invoice of the receiving tenant that ``msg`` concerns, or no invoice with
        ``refused`` when it exists but the party speaking is not its buyer, ``unmatched`` when
        there is no such invoice (yet)."""
        if rec.tenant is None:
            return Match(None, UNMATCHED, "no tenant received this message; route it first")
        if msg is None:
            return Match(None, UNMATCHED, "the stored message does not parse")
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
                return Match(
                    None,
                    REFUSED,
                    f"the status speaks for {rec.sender}, which is not the buyer "
                    f"({participant(buyer)}) of sales invoice {rec.referenced_id}; nothing changed",
                )
            return Match(doc, MATCHED, None)
        return Match(
            None,
            UNMATCHED,
            f"no sales invoice {rec.referenced_id} of {rec.referenced_issue_date} by seller "
            f"{msg.invoice_seller} in tenant {rec.tenant} (yet)",
        )

    async def _sirens(self, s: AsyncSession, doc: Document) -> tuple[str | None, str | None]:
        raw, _ = await repo.get_raw(s, doc.id, None)
        try:
            info = identify(parse_xml(raw, self.limits))
        except XmlRefused:
            return None, None
        return siren_of(info.seller), siren_of(info.buyer)

    async def apply(self, s: AsyncSession, rec: CdarRecord, invoice: Document) -> None:
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
