"""The T111 rule set: applying received Invoice Responses to the sales invoices they answer.

The decision runs as :mod:`gateway.responses.counterpart` says (one write transaction per
response; held and refused responses stop at the channel's proof; one copy per sender + IMR id);
what is Peppol's is here: validity (PPD only with PD, known code, a referenced id), matching
(referenced id + type, IMR sender = invoice buyer, IMR receiver = invoice seller, inside the
receiving tenant; :mod:`gateway.responses.matching`), the sequencing rules
(:mod:`gateway.responses.rules`), the ``response.unmatched`` event, outcome logs and counts, a
forgery noted in the invoice's history, the admin's vouching for a held response. The
recovery sweep (:mod:`gateway.responses.recovery`) and the pending rows written when a response
is stored (:mod:`gateway.responses.pending`) live apart. Every outcome is a row in ``invoice_responses``; nothing but an applied response
changes an invoice.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.documents import ParseLimits
from gateway.lifecycle import (
    COUNTERPART,
    SOURCE_INVOICE_RESPONSE,
    Cause,
    IllegalTransition,
    Lifecycle,
)
from gateway.responses import models as rm
from gateway.responses import recovery
from gateway.responses.counterpart import (
    HANDLED_DOC_STATUSES,
    CounterpartService,
    IntakeResultLike,
    Match,
    ServedBy,
)
from gateway.responses.mapping import Mapping
from gateway.responses.matching import find_invoice, normalise
from gateway.responses.models import InvoiceResponseRecord
from gateway.responses.outcomes import OutcomeObserver, report_outcome
from gateway.responses.parse import InvoiceResponse, is_invoice_response, parse_response
from gateway.responses.records import RETRY_STATES
from gateway.responses.rules import Step, conflict
from gateway.responses.trust import Verdict, cause_of, submitter
from gateway.store import Database, Document, repo, utcnow

log = logging.getLogger("gateway.responses")

SOURCE = SOURCE_INVOICE_RESPONSE
__all__ = [
    "HANDLED_DOC_STATUSES",
    "RETRY_STATES",
    "IntakeResultLike",
    "NotHeld",
    "ResponseService",
    "ServedBy",
    "dedupe_key",
]


class ForwarderLike(Protocol):
    async def enqueue(self, session: Any, doc: Document) -> None: ...

    def wake(self) -> None: ...


def dedupe_key(sender: str | None, imr_id: str) -> str:
    return repo.sha256_hex(f"{sender or ''}|{imr_id}")


class ResponseService(CounterpartService):
    """The T111 rule set of :class:`gateway.responses.counterpart.CounterpartService`."""

    model = InvoiceResponseRecord
    what = "invoice response"
    duplicate_text = "same sender and response id as response #{seq} ({state}); applied once"

    def __init__(
        self,
        db: Database,
        mapping: Mapping,
        forwarder: ForwarderLike | None = None,
        limits: ParseLimits | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        super().__init__(db, lifecycle or Lifecycle(), limits)
        self.mapping = mapping
        self.forwarder = forwarder
        #: Counts decided responses (the app factory plugs the metrics in); see outcomes.
        self.observer: OutcomeObserver | None = None

    # --- entry points ------------------------------------------------------------------------

    async def handle_document(self, doc_id: str) -> InvoiceResponseRecord:
        rec = await super().handle_document(doc_id)
        if self.forwarder is not None:
            self.forwarder.wake()
        return rec

    async def sweep(self, *, page: int = 200) -> int:
        """Judge the responses left ``pending`` and re-match the unmatched/waiting ones whose
        invoice exists now (:func:`gateway.responses.recovery.sweep`); how many changed."""
        return await recovery.sweep(self, page=page)

    # --- the T111 rule set ---------------------------------------------------------------------

    def is_message(self, customization_id: str | None) -> bool:
        return is_invoice_response(customization_id)

    def parse(self, raw: bytes) -> InvoiceResponse:
        return parse_response(raw, self.mapping, self.limits)

    async def decided(self, s: AsyncSession, rec: InvoiceResponseRecord) -> None:
        await self._announce(s, rec)
        self._outcome(s, rec)

    async def _announce(self, s: AsyncSession, rec: InvoiceResponseRecord) -> None:
        """``response.unmatched``: the tenant learns of a response no invoice of theirs fits."""
        if rec.state == rm.UNMATCHED and rec.document_id is not None:
            await self.lifecycle.announce(
                s,
                document_id=rec.document_id,
                tenant=rec.tenant,
                event="response.unmatched",
                data={
                    "response_id": rec.imr_id,
                    "referenced_id": rec.referenced_id,
                    "detail": rec.detail,
                },
            )

    def fill(self, rec: InvoiceResponseRecord, doc: Document, imr: InvoiceResponse | None) -> None:
        """The response's row (new, or its pending row), filled from the parsed document."""
        rec.tenant = doc.tenant
        rec.imr_id = (imr.imr_id if imr else doc.number) or ""
        rec.partial, rec.state, rec.details = False, "", {}
        if imr is None:
            rec.state, rec.detail = rm.INVALID, "the stored document does not parse"
            return
        rec.sender, rec.receiver = normalise(imr.sender), normalise(imr.receiver)
        rec.referenced_id, rec.referenced_type_code = imr.referenced_id, imr.referenced_type_code
        rec.response_code, rec.partial = imr.response_code, imr.partial
        rec.issue_date, rec.issue_time = imr.issue_date, imr.issue_time
        rec.details = {**imr.details(), "referenced_issue_date": imr.referenced_issue_date}
        code = imr.response_code or ""
        if code in self.mapping.codes:
            rec.status = self.mapping.status_for(code, imr.partial)

    def dedupe_key(self, rec: InvoiceResponseRecord) -> str:
        return dedupe_key(rec.sender, rec.imr_id)

    async def refused(
        self, s: AsyncSession, rec: InvoiceResponseRecord, invoice: Document, verdict: Verdict
    ) -> None:
        """A proven forgery (a tenant speaking for a participant it does not own) is also noted
        in the invoice's history, with who tried."""
        by = verdict.submitted_by
        await self.lifecycle.note(
            s,
            invoice,
            Cause(
                SOURCE,
                role=COUNTERPART,
                actor=submitter(verdict),
                tenant=by.get("tenant"),
                key_id=by.get("key"),
            ),
            f"{rec.state}, status unchanged: {verdict.how}. {self.summary(rec)}",
        )

    async def apply_held(
        self,
        seq: int,
        tenant: str,
        actor: str,
        reason: str | None = None,
        key_id: str | None = None,
    ) -> InvoiceResponseRecord:
        """An admin of ``tenant`` vouches for the held response ``seq``: apply it now."""
        async with self.db.write() as s:
            rec = await s.get(InvoiceResponseRecord, seq, with_for_update=not self.db.is_sqlite)
            if rec is None or rec.tenant != tenant or rec.direction != rm.RECEIVED:
                raise repo.NotFound(f"no received response {seq}")
            if rec.state != rm.HELD:
                raise NotHeld(rec.state)
            rec.details = {
                **(rec.details or {}),
                "vouched_by": {"actor": actor, "tenant": tenant, "key": key_id, "reason": reason},
            }
            rec.invoice_id = None
            await self.dedupe_and_apply(s, rec, None)
            rec.updated_at = utcnow()
            await s.flush()
            await self._announce(s, rec)
            self._outcome(s, rec)
        if self.forwarder is not None:
            self.forwarder.wake()
        return rec

    def _outcome(self, s: AsyncSession, rec: InvoiceResponseRecord) -> None:
        report_outcome(s, rec, self.observer, self.mapping.codes)

    def invalid(self, rec: InvoiceResponseRecord) -> str | None:
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

    async def rematch_one(self, seq: int) -> bool:
        async with self.db.write() as s:
            rec = await s.get(InvoiceResponseRecord, seq)
            if rec is None or rec.state not in RETRY_STATES:
                return False
            before = rec.state
            await self.match_and_apply(s, rec, None)
            rec.updated_at = utcnow()
            if rec.state != before:
                self._outcome(s, rec)
            return rec.state not in RETRY_STATES

    async def match(self, s: AsyncSession, rec: InvoiceResponseRecord, _msg: Any) -> Match:
        return await find_invoice(s, rec, self.limits, lock=not self.db.is_sqlite)

    # --- applying ------------------------------------------------------------------------------

    async def apply(self, s: AsyncSession, rec: InvoiceResponseRecord, invoice: Document) -> None:
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
        cause = cause_of(rec)
        if why is None:
            try:
                await self.lifecycle.move(
                    s, invoice, rec.status, cause, reason=summary, status_reason=summary
                )
            except IllegalTransition as exc:  # e.g. the issuer canceled the invoice already
                why = exc.reason
            else:
                rec.state = rm.APPLIED  # detail: what matching said (e.g. which copy)
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


def _issued(rec: InvoiceResponseRecord) -> tuple[str, str]:
    return (rec.issue_date or "", rec.issue_time or "")


class NotHeld(Exception):
    """Only held responses can be vouched for; ``state`` is what the response is."""

    def __init__(self, state: str) -> None:
        super().__init__(f"the response is {state}, not held")
        self.state = state


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
