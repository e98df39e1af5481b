"""Sending CDAR lifecycle messages for what a tenant does with a French invoice.

- A tenant (the buyer) moves a French purchase invoice (validated by an ``fr-*`` scenario) to
  a status of ``codes.toml [emit]`` (under review 204, approved 205, rejected 210 with a reason,
  paid 211): a CDAR goes to the invoice's seller.
- A French purchase invoice arrives as a duplicate (the DOUBLON rule): a 213 Rejetée with
  reason ``DOUBLON`` goes to its seller, for that delivery only (the original is untouched).
- A tenant (the seller) records its French sales invoice as paid: a 212 Encaissée with the
  amount and VAT rate goes to the buyer.
- The gateway, the seller's platform, sends a French sales invoice: 200 Déposée when it is
  queued, 201 Émise when the buyer's platform has it (delivered); this platform speaks (role
  WK) to its own tenant, so the seller's copy is recorded (``delivered-locally``), and 200,
  mandatory, goes to the state platform.

Each of these is owed first: a ``cdar_owed`` row written in the transaction of the move (or
of the intake) that calls for it, paid after the commit or, after a crash, by the recovery
pass (:mod:`gateway.france.owed`). Every message is validated with the ``fr-cdar-lifecycle``
scenario (XSD + BR-FR-CDV) before it is queued through the outbound queue; the mandatory codes (``mandatory`` in codes.toml:
210, 212, 213) also go, as the state platform's copy, to ``[france] ppf_participant``. Each
message sent (or not, and why) is a ``sent`` row of ``cdar_statuses``, which follows its
outbound item (queued, sent, delivered, failed) as Invoice Responses do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy import select

from gateway.documents import DocumentInfo, ParseLimits, identify, parse_xml, siren_of
from gateway.france import models as fm
from gateway.france.build import PLATFORM_ROLE, STATE_ROLE, CdarContent, Party, build_cdar
from gateway.france.codes import Code, Codes
from gateway.france.models import CdarOwed, CdarRecord
from gateway.france.owed import CdarOutbox
from gateway.lifecycle import ADMIN, API, DELIVERED, DUPLICATE, IN_FLIGHT, Moved, payments
from gateway.lifecycle import QUEUED as OUT_QUEUED
from gateway.responses import follow_outbound, keep_sent
from gateway.store import Database, Document, repo

log = logging.getLogger("gateway.france")

SCENARIO = "fr-cdar-lifecycle"
QUEUED, NOT_SENT = "queued", "not-sent"
#: A status this platform gives its own tenant (200/201 to the seller): recorded, not sent.
LOCAL = "delivered-locally"
#: The kinds of a sales invoice.
INVOICE_KINDS = frozenset({"Invoice", "CreditNote"})
#: The document kind of a CDAR message (gateway.documents.identify).
CDAR_KINDS = frozenset({"CrossDomainAcknowledgementAndResponse"})
#: A reason given as ``CODE: text`` (e.g. ``TX_TVA_ERR: wrong VAT rate``) names its code.
_REASON = re.compile(r"^([A-Z][A-Z0-9_]{2,})\s*[:\-]\s*(.*)$", re.S)
_RATE_PATHS = (
    "//*[local-name()='TaxSubtotal']/*[local-name()='TaxCategory']/*[local-name()='Percent']",
    "//*[local-name()='ApplicableHeaderTradeSettlement']/*[local-name()='ApplicableTradeTax']"
    "/*[local-name()='RateApplicablePercent']",
)


#: The roles of a tenant's own action (an API key, the console).
CLIENT_ROLES = frozenset({API, ADMIN})


def is_french(scenario: str | None) -> bool:
    return (scenario or "").startswith("fr-") and scenario != SCENARIO


@dataclass(frozen=True)
class Intent:
    """The owed row a message is built for: its key and time make the message id and the
    outbound idempotency key, so paying the same debt twice builds the same messages."""

    key: str
    at: dt.datetime


class CdarEmitter:
    def __init__(
        self,
        db: Database,
        codes: Codes,
        settings: Any,
        validator: Callable[[], Any],
        outbound: Any,
        limits: ParseLimits | None = None,
    ) -> None:
        self.db = db
        self.codes = codes
        self.settings = settings  # FranceSettings
        #: The intake's validator, read when a message is built: the app starts its pool after
        #: wiring (under ``gateway serve`` the intake holds a placeholder until then).
        self._validator = validator
        self.outbound = outbound
        self.limits = limits or ParseLimits()
        self.outbox = CdarOutbox(db, self.pay)

    # --- after the commit: the client's answer waits for its CDAR (never raise) ---------------

    async def on_status_changed(self, change: Any) -> None:
        await self.outbox.wait(change.document_id)

    async def on_intake(self, result: Any) -> None:
        if result.status == DUPLICATE:
            await self.outbox.wait(result.document_id)

    async def pay(self, owed: CdarOwed) -> list[CdarRecord]:
        """Send what ``owed`` (a ``cdar_owed`` row) says is owed (the outbox's payer)."""
        if owed.code in ISSUER_CODES:  # once per invoice, also across versions
            async with self.db.read() as s:
                done = await s.scalar(
                    select(CdarRecord.message_id).where(
                        CdarRecord.invoice_id == owed.document_id,
                        CdarRecord.direction == fm.SENT,
                        CdarRecord.code == owed.code,
                    )
                )
            if done is not None and f"_{_suffix(owed.key)}" not in done:  # (ours: `_PPF` copy)
                return []
        intent = Intent(owed.key, owed.created_at)
        return await self.emit(owed.document_id, owed.code, owed.reason, owed.actor, intent)

    # --- one status -----------------------------------------------------------------------------

    async def emit(
        self,
        doc_id: str,
        code_id: str,
        reason: str | None,
        actor: str | None = None,
        intent: Intent | None = None,
    ) -> list[CdarRecord]:
        """Build, validate and queue the CDAR ``code_id`` about document ``doc_id`` (and its
        state-platform copy for a mandatory code); returns the ``sent`` records."""
        if not self.settings.emit:
            return []
        async with self.db.read() as s:
            doc = await repo.get_document(s, doc_id, None)
            raw, _ = await repo.get_raw(s, doc_id, None)
            # The tenant speaks for its own side of the invoice only: the buyer participant of
            # a purchase invoice, the seller's of a sales invoice (else a tenant posting a copy
            # of someone else's invoice could send statuses in that company's name).
            own = doc.receiver_endpoint if doc.direction == "inbound" else doc.sender_endpoint
            owner = await repo.tenant_for_participant(s, own)
        if doc.tenant is None or not is_french(doc.scenario):
            return []
        tree = parse_xml(raw, self.limits)
        info = identify(tree)
        code = self.codes.get(code_id)
        assert code is not None, code_id
        content = self._content(doc, info, tree, code, reason, intent)
        if owner != doc.tenant and code.type_code != "305":
            why = f"tenant {doc.tenant} does not own {own or '(no participant)'}; not sent"
            return [await self._record(doc, content, None, NOT_SENT, actor, why)]
        if code.by == "issuer-platform":
            # 200/201: this platform tells its own tenant, the seller: nothing to send over the
            # network (the status is on the invoice and in the Flow API); validated all the same.
            records = [await self._keep_local(doc, content, actor)]
        else:
            records = [await self._send(doc, content, receiver=None, actor=actor)]
        if code.mandatory:
            records.append(await self._state_copy(doc, content, actor))
        return records

    def _content(
        self,
        doc: Any,
        info: DocumentInfo,
        tree: Any,
        code: Code,
        reason: str | None,
        intent: Intent | None,
    ) -> CdarContent:
        seller, buyer = siren_of(info.seller), siren_of(info.buyer)
        # Who speaks: the buyer for its processing statuses, the seller for 212, this
        # platform (role WK) for a platform's status (213 on receipt).
        if code.by == "seller":
            issuer = Party(seller, info.seller.name, "SE")
            counterpart = Party(buyer, info.buyer.name, "BY", address=_address(info.buyer))
        else:
            issuer = Party(buyer, info.buyer.name, "BY")
            if code.type_code == "305":
                issuer = Party(None, None, PLATFORM_ROLE)
            counterpart = Party(seller, info.seller.name, "SE", address=_address(info.seller))
        reason_code = reason_text = None
        if code.reason_required or reason:
            found = _REASON.match((reason or "").strip())
            fallback = code.default_reason or "AUTRE"
            reason_code, reason_text = found.groups() if found else (fallback, reason or None)
        amount = percent = None
        if code.code == "212":
            amount, percent = doc.payable_amount, _rate(tree)
        now = _aware(intent.at) if intent else dt.datetime.now(dt.UTC)
        tail = _suffix(intent.key) if intent else secrets.token_hex(4)
        return CdarContent(
            message_id=f"{info.number}_{code.code}_{now:%Y%m%d%H%M%S}_{tail}",
            issued_at=f"{now:%Y%m%d%H%M%S}",
            code=code,
            issuer=issuer,
            recipients=(counterpart,),
            invoice_number=info.number or "",
            invoice_type_code=info.type_code or "380",
            invoice_issue_date=info.issue_date or "",
            invoice_seller=seller or "",
            reason_code=reason_code,
            reason_text=reason_text,
            amount=amount,
            currency=info.currency or "EUR",
            percent=percent,
        )

    async def _state_copy(self, doc: Any, content: CdarContent, actor: str | None) -> CdarRecord:
        """The copy for the state platform: this platform as sender, the PPF as recipient."""
        cfg = self.settings
        scheme, _, ppf_id = cfg.ppf_participant.partition(":")
        platform = Party(cfg.platform_id or None, cfg.platform_name or None, PLATFORM_ROLE, "0238")
        issuer = platform if content.code.type_code == "305" else content.issuer
        copy = CdarContent(
            **{
                **vars(content),
                "message_id": content.message_id + "_PPF",
                "sender": platform,
                "issuer": issuer,
                "recipients": (Party(ppf_id, "PPF", STATE_ROLE, scheme),),
                "for_state_platform": True,
            }
        )
        if not cfg.platform_id:
            return await self._record(
                doc,
                copy,
                None,
                NOT_SENT,
                actor,
                "set [france] platform_id (scheme 0238) to "
                "send the copies of mandatory statuses to the state platform",
            )
        return await self._send(doc, copy, receiver=cfg.ppf_participant, actor=actor)

    async def _send(
        self, doc: Any, content: CdarContent, *, receiver: str | None, actor: str | None
    ) -> CdarRecord:
        xml, why = await self._validated(content)
        if why is not None:
            return await self._record(doc, content, None, NOT_SENT, actor, why)
        try:
            submitted = await self.outbound.submit(
                doc.tenant,
                xml,
                receiver=receiver,
                channel="cdar",
                actor=actor,
                idempotency_key="cdar:" + hashlib.sha256(content.message_id.encode()).hexdigest(),
            )
        except Exception as exc:  # SubmissionRefused and friends: record why
            why = f"the outbound queue refused the CDAR: {exc}"
            return await self._record(doc, content, None, NOT_SENT, actor, why)
        return await self._record(doc, content, submitted.item.document_id, QUEUED, actor, None)

    async def _validated(self, content: CdarContent) -> tuple[bytes, str | None]:
        """The message built and validated (``fr-cdar-lifecycle``); ``why`` when invalid."""
        xml = build_cdar(content)
        report = await self._validator().validate(xml, SCENARIO)
        if report.accepted:
            return xml, None
        first = next((f for f in report.findings if f.blocking), None)
        why = f"the generated CDAR did not validate ({report.status})" + (
            f": [{first.rule}] {first.message}" if first else ""
        )
        log.error("generated CDAR is invalid: %s", why)
        return xml, why

    async def _keep_local(self, doc: Any, content: CdarContent, actor: str | None) -> CdarRecord:
        _, why = await self._validated(content)
        if why is not None:
            return await self._record(doc, content, None, NOT_SENT, actor, why)
        note = "the seller is a tenant of this platform: kept on the invoice, not sent"
        return await self._record(doc, content, None, LOCAL, actor, note)

    async def _record(
        self,
        doc: Any,
        c: CdarContent,
        sent_id: str | None,
        state: str,
        actor: str | None,
        detail: str | None,
    ) -> CdarRecord:
        async with self.db.read() as s:  # paid before a crash: the row is on record
            kept = await s.scalar(
                select(CdarRecord).where(
                    CdarRecord.invoice_id == doc.id,  # indexed; the message id is not
                    CdarRecord.direction == fm.SENT,
                    CdarRecord.message_id == c.message_id,
                )
            )
        if kept is not None:
            return kept
        recipient = c.recipients[0]
        rec = CdarRecord(
            direction=fm.SENT,
            document_id=sent_id,
            tenant=doc.tenant,
            message_id=c.message_id,
            sender=f"{c.issuer.scheme}:{c.issuer.id}" if c.issuer.id else c.issuer.role,
            receiver=f"{recipient.scheme}:{recipient.id}",
            referenced_id=c.invoice_number,
            referenced_issue_date=c.invoice_issue_date,
            code=c.code.code,
            invoice_id=doc.id,
            state=state,
            detail=detail,
            details={
                "for_state_platform": c.for_state_platform,
                "reasons": [{"code": c.reason_code, "text": c.reason_text}]
                if c.reason_code
                else [],
                "characteristics": [{"type_code": "MEN", "amount": c.amount, "percent": c.percent}]
                if c.amount
                else [],
                "actor": actor,
            },
        )
        # Ordered with the queue's moves of the outbound item, which the row then follows
        # (gateway.responses.follow_outbound, wired by gateway.france.api).
        await keep_sent(self.db, rec)
        return rec

    # --- the lifecycle's listeners (in the move's transaction: what is owed) ----------------

    async def on_move(self, session: Any, moved: Moved) -> None:
        """A sent CDAR's row follows its outbound item (queued, sent, delivered, failed), as
        Invoice Responses do. A French sales invoice queued for sending owes 200 Déposée, one
        delivered to the buyer's platform 201 Émise; a tenant's action on a French invoice
        owes its code (``codes.toml [emit]``; 212 for a sales invoice paid)."""
        if moved.direction == "outbound" and moved.kind in CDAR_KINDS:
            await follow_outbound(session, moved, CdarRecord)
            return
        if not self.settings.emit:
            return
        code, once = self._owed_code(moved), True
        if code is None and moved.cause.role in CLIENT_ROLES:
            code, once = self._action_code(moved), False
        if code is None:
            return
        with session.no_autoflush:  # the queue moves batches: no flush per document
            scenario = await session.scalar(
                select(Document.scenario).where(Document.id == moved.document_id)
            )
        if is_french(scenario):
            await self.outbox.owe_code(
                session,
                moved.document_id,
                moved.tenant,
                code,
                reason=None if once else moved.reason,
                actor=None if once else moved.cause.actor,
                once=once,
            )

    def _owed_code(self, moved: Moved) -> str | None:
        """200 / 201 of a sales invoice (this platform, the seller's, speaks)."""
        if moved.direction != "outbound" or moved.kind not in INVOICE_KINDS:
            return None
        if moved.status == OUT_QUEUED and moved.previous not in IN_FLIGHT:
            return "200"
        if moved.status == DELIVERED and moved.previous in IN_FLIGHT:
            return "201"
        return None

    def _action_code(self, moved: Moved) -> str | None:
        if moved.direction == "inbound" and moved.status != DUPLICATE:
            return self.codes.emit.get(moved.status)
        return "212" if moved.direction == "outbound" and moved.status == payments.PAID else None

    async def on_start(self, session: Any, doc: Any) -> None:
        """A French sales invoice stored straight into the queue owes its 200; a French
        purchase invoice stored as a duplicate its 213 DOUBLON (for that delivery only)."""
        if not self.settings.emit or not is_french(doc.scenario):
            return
        if doc.direction == "outbound" and doc.kind in INVOICE_KINDS and doc.status == OUT_QUEUED:
            await self.outbox.owe_code(session, doc.id, doc.tenant, "200", once=True)
        elif doc.direction == "inbound" and doc.status == DUPLICATE:
            code = self.codes.emit["duplicate"]
            await self.outbox.owe_code(
                session, doc.id, doc.tenant, code, reason="DOUBLON: doublon", once=True
            )


#: The issuer platform's own statuses, owed once per invoice.
ISSUER_CODES = frozenset({"200", "201"})


def _suffix(key: str) -> str:
    """The message id's tail for owed row ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _address(party: Any) -> str | None:
    """The electronic address (scheme 0225) without its scheme, as CDAR recipients carry it."""
    scheme, _, ident = (party.endpoint or "").partition(":")
    return ident if scheme == "0225" and ident else None


def _rate(tree: Any) -> str | None:
    root = tree.getroot() if isinstance(tree, etree._ElementTree) else tree
    for path in _RATE_PATHS:
        found = root.xpath(path)
        if found and (found[0].text or "").strip():
            return f"{float(found[0].text.strip()):.2f}"
    return None
