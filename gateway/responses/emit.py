"""Sending Invoice Responses for purchase invoices whose status the receiving tenant changed.

When a tenant (the buyer) moves an inbound invoice to a status its inbound status profile's
``[[inbound.responses]]`` table lists (:meth:`gateway.lifecycle.Lifecycle.response_rule`: the
code, reason code and default text) and has emission switched on, the gateway builds a T111 ApplicationResponse
(buyer -> seller), validates it with the ``peppol-invoice-response-3`` scenario, and either
- hands it to the intake pipeline as a document of the seller's tenant, when the seller is a
  tenant of this gateway (the seller's sales invoice changes status immediately), or
- queues it through the outbound queue to the seller's access point.
Either way a ``sent`` row in ``invoice_responses`` links it to the invoice.

Crash-durable: the move writes the response it owes (an ``invoice_response_owed`` row,
:meth:`Emitter.on_move`) in its own transaction; the generic owed-work outbox
(:class:`gateway.owed.Outbox`) pays it after the commit, or its recovery pass / sweep after a
kill -9. Paying twice sends one response: the IMR id and issue date derive from the row, the
outbound idempotency key from the IMR id, a ``sent`` row already on record ends the payment,
and a local delivery first looks for the copy it may have stored before the crash.
(Before, the response was built after the commit from the API's status-change hook: a crash in
between lost it.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.documents import ParseLimits, identify, parse_xml
from gateway.inbound import Submission
from gateway.lifecycle import ADMIN, API, Lifecycle, Moved
from gateway.owed import Outbox
from gateway.responses import models as rm
from gateway.responses.build import ResponseContent, build_response
from gateway.responses.follow import keep_sent
from gateway.responses.mapping import Mapping
from gateway.responses.matching import INVOICE_KINDS, normalise
from gateway.responses.models import InvoiceResponseRecord, ResponseOwed, ResponseSettings
from gateway.responses.parse import SCENARIO
from gateway.responses.settings import settings_row
from gateway.store import Database, Document, repo

log = logging.getLogger("gateway.responses")

#: The roles of a tenant's own action (an API key, the console): what owes a response.
CLIENT_ROLES = frozenset({API, ADMIN})


class IntakeLike(Protocol):
    validator: Any

    async def submit(self, sub: Submission, *, refuse_unparseable: bool = False) -> Any: ...


class OutboundLike(Protocol):
    async def submit(self, tenant: str, raw: bytes, **kw: Any) -> Any: ...


async def emission_enabled(s: AsyncSession, tenant: str) -> bool:
    row = await s.get(ResponseSettings, tenant)
    return bool(row and row.emit_responses)


async def set_emission(s: AsyncSession, tenant: str, enabled: bool) -> ResponseSettings:
    row = await settings_row(s, tenant)
    row.emit_responses = enabled
    return row


class Emitter:
    def __init__(
        self,
        db: Database,
        mapping: Mapping,
        intake: IntakeLike | None = None,
        outbound: OutboundLike | None = None,
        limits: ParseLimits | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.db = db
        self.mapping = mapping
        self.intake = intake
        self.outbound = outbound
        self.limits = limits or ParseLimits()
        self.lifecycle = lifecycle or Lifecycle()
        #: The responses owed (written in the move's transaction, paid after its commit).
        self.outbox: Outbox[ResponseOwed] = Outbox(
            db, ResponseOwed, self.pay, what="owed invoice response"
        )

    # --- in the move's transaction: what is owed ------------------------------------------------

    async def on_move(self, session: AsyncSession, moved: Moved) -> None:
        """A tenant's own move of a purchase invoice to a status its profile answers (and with
        emission on) owes an Invoice Response: a row in the move's transaction."""
        if (
            moved.direction != "inbound"
            or moved.kind not in INVOICE_KINDS
            or moved.tenant is None
            or moved.cause.role not in CLIENT_ROLES
        ):
            return
        with session.no_autoflush:
            if await self.lifecycle.response_rule(session, moved.tenant, moved.status) is None:
                return
            if not await emission_enabled(session, moved.tenant):
                return
        row = ResponseOwed(
            key=f"{moved.document_id}|{moved.status}|{secrets.token_hex(8)}",
            document_id=moved.document_id,
            tenant=moved.tenant,
            status=moved.status,
            reason=moved.reason,
            actor=moved.cause.actor,
            key_id=moved.cause.key_id,
        )
        await self.outbox.owe(session, row, group=moved.document_id)

    # --- after the commit -------------------------------------------------------------------

    async def on_status_changed(self, change: Any) -> None:
        """The client's answer waits for the response its change owes (as before the debt was
        durable: the response is queued or delivered when the client hears back)."""
        await self.outbox.wait(change.document_id)

    async def pay(self, owed: ResponseOwed) -> InvoiceResponseRecord | None:
        """Send the response ``owed`` says is owed (the outbox's payer; idempotent by its key)."""
        return await self._emit(owed)

    async def _emit(self, owed: ResponseOwed) -> InvoiceResponseRecord | None:
        imr_id = f"IMR-{hashlib.sha256(owed.key.encode()).hexdigest()[:16]}"
        async with self.db.read() as s:
            doc = await repo.get_document(s, owed.document_id, None)
            if doc.direction != "inbound" or doc.kind not in INVOICE_KINDS or not doc.tenant:
                return None
            kept = await s.scalar(  # paid before a crash: the row is on record
                select(InvoiceResponseRecord).where(
                    InvoiceResponseRecord.invoice_id == doc.id,
                    InvoiceResponseRecord.direction == rm.SENT,
                    InvoiceResponseRecord.imr_id == imr_id,
                )
            )
            if kept is not None:
                return kept
            rule = await self.lifecycle.response_rule(s, doc.tenant, owed.status)
            if rule is None:
                return None
            code = rule.code
            refused = await self._not_the_buyer(s, doc)
            raw, _ = await repo.get_raw(s, owed.document_id, None)
        info = identify(parse_xml(raw, self.limits))
        day = _aware(owed.created_at).date().isoformat()
        content = ResponseContent(
            imr_id=imr_id,
            issue_date=day,
            code=code,
            sender=info.buyer,
            receiver=info.seller,
            invoice_number=info.number or "",
            invoice_type_code=info.type_code or ("381" if info.kind == "CreditNote" else "380"),
            invoice_issue_date=info.issue_date,
            reason_code=rule.reason,
            reason_text=(owed.reason or rule.text) if code != "PD" else None,
            effective_date=day if code == "PD" else None,
        )
        xml = build_response(content)
        rec = InvoiceResponseRecord(
            direction=rm.SENT,
            tenant=doc.tenant,
            imr_id=content.imr_id,
            sender=normalise(info.buyer.endpoint),
            receiver=normalise(info.seller.endpoint),
            referenced_id=content.invoice_number,
            referenced_type_code=content.invoice_type_code,
            response_code=code,
            partial=False,
            status=owed.status,
            invoice_id=doc.id,
            issue_date=content.issue_date,
            state=rm.NOT_SENT,
            details={"reason": content.reason_text, "actor": owed.actor, "key": owed.key_id},
        )
        if refused:  # the guard refused the move already; this catches any other caller
            rec.detail = f"refused: {refused}"
        else:
            await self._deliver(rec, xml, doc.tenant)
        await self.keep(rec)
        return rec

    async def keep(self, rec: InvoiceResponseRecord) -> None:
        """Insert the ``sent`` row, ordered with the queue's moves of its outbound document
        (:func:`gateway.responses.follow.keep_sent`)."""
        await keep_sent(self.db, rec)

    async def refusal(self, s: AsyncSession, doc: Any, status: str) -> str | None:
        """Why moving purchase invoice ``doc`` to ``status`` must be refused (None: fine).

        A move that would send an Invoice Response is refused when the tenant cannot speak for
        the invoice's buyer: the response would claim to come from a participant the tenant
        does not own (the attack of a tenant posting a copy of someone else's invoice)."""
        if doc.direction != "inbound" or doc.kind not in INVOICE_KINDS or not doc.tenant:
            return None
        if await self.lifecycle.response_rule(s, doc.tenant, status) is None:
            return None
        if not await emission_enabled(s, doc.tenant):
            return None
        return await self._not_the_buyer(s, doc)

    async def record_refusal(self, change: Any, reason: str) -> None:
        """Keep a refused emission (see :meth:`refusal`) in the tenant's list: who tried what."""
        try:
            async with self.db.write() as s:
                doc = await repo.get_document(s, change.document_id, None)
                rule = await self.lifecycle.response_rule(s, doc.tenant, change.status)
                code = rule.code if rule is not None else None
                s.add(
                    InvoiceResponseRecord(
                        direction=rm.SENT,
                        tenant=doc.tenant,
                        imr_id="",
                        sender=normalise(doc.receiver_endpoint),
                        receiver=normalise(doc.sender_endpoint),
                        referenced_id=doc.number,
                        response_code=code,
                        partial=False,
                        status=change.status,
                        invoice_id=doc.id,
                        state=rm.NOT_SENT,
                        detail=f"refused: {reason}",
                        details={
                            "actor": change.actor,
                            "key": change.key_id,
                            "reason": change.reason,
                        },
                    )
                )
        except Exception:  # the client gets its refusal regardless
            log.exception("recording a refused invoice response failed")
        log.warning(
            "invoice response refused",
            extra={"document": change.document_id, "actor": change.actor, "reason": reason},
        )

    async def _not_the_buyer(self, s: AsyncSession, doc: Any) -> str | None:
        buyer = normalise(doc.receiver_endpoint)
        owner = await repo.tenant_for_participant(s, buyer) if buyer else None
        if owner == doc.tenant:
            return None
        return (
            f"tenant {doc.tenant} does not own the invoice's buyer participant "
            f"{buyer or '(none)'}, so it cannot send an Invoice Response for it; register the "
            f"participant (gateway participants add) or switch responses off "
            f"(gateway responses emit {doc.tenant} off)"
        )

    async def _deliver(self, rec: InvoiceResponseRecord, xml: bytes, tenant: str) -> None:
        validator = self.intake.validator if self.intake is not None else None
        if validator is None:
            rec.detail = "no validator available"
            return
        report = await validator.validate(xml, SCENARIO)
        rec.details = {**rec.details, "validation": report.status}
        if not report.accepted:
            first = next((f for f in report.findings if f.blocking), None)
            rec.detail = f"the generated response did not validate ({report.status})" + (
                f": [{first.rule}] {first.message}" if first else ""
            )
            log.error("generated invoice response is invalid: %s", rec.detail)
            return
        async with self.db.read() as s:
            local = await repo.tenant_for_participant(s, rec.receiver)
        if local is not None and self.intake is not None:
            if await self._delivered_locally(rec, local):
                return
            key, person = rec.details.get("key"), rec.details.get("actor")
            if person == f"key:{key}":  # no person named: the key is the actor
                person = None
            result = await self.intake.submit(
                Submission(
                    xml,
                    channel="local",
                    tenant=local,
                    metadata={
                        "from_tenant": tenant,
                        "from_key": key,
                        "from_actor": person,
                        "invoice_response_for": rec.invoice_id,
                    },
                )
            )
            rec.state = rm.DELIVERED_LOCALLY
            rec.details = {**rec.details, "local_document_id": result.document_id}
            return
        if self.outbound is None:
            rec.detail = "the outbound queue is not available"
            return
        try:
            submitted = await self.outbound.submit(
                tenant,
                xml,
                channel="invoice-response",
                actor=rec.details.get("actor"),
                # One queue item per response, however often its debt is paid (a crash
                # between queueing and settling pays it again).
                idempotency_key="imr:" + hashlib.sha256(rec.imr_id.encode()).hexdigest(),
            )
        except Exception as exc:  # SubmissionRefused and friends: record why
            rec.detail = f"the outbound queue refused the response: {exc}"
            return
        rec.state = rm.QUEUED
        rec.document_id = submitted.item.document_id

    async def _delivered_locally(self, rec: InvoiceResponseRecord, local: str) -> bool:
        """Was this response handed to tenant ``local``'s intake before a crash (its IMR id is
        the debt's, so a stored copy is this very response)? Then that copy is the delivery."""
        async with self.db.read() as s:
            found = await s.scalar(
                select(Document.id).where(
                    Document.direction == "inbound",
                    Document.number == rec.imr_id,
                    Document.tenant == local,
                    Document.channel == "local",
                )
            )
        if found is None:
            return False
        rec.state = rm.DELIVERED_LOCALLY
        rec.details = {**rec.details, "local_document_id": found}
        return True


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
