"""MLS in the gateway: answer received documents, and apply received MLS to our outbound ones.

Receiving side (C3): after intake, :class:`MlsResponder` builds the MLS the SBDH asks for
(``mls_wanted``: RE with issue lines when validation failed, AP on success only with
``MLS_TYPE=ALWAYS_SEND``), validates it with ``peppol-mls-1.0`` and queues it like any
outbound document to ``MLS_TO`` (the sending AP's SPIS participant id), so it gets the queue's
retries and the AS4 transport's receipts.

Sending side (C2): :class:`MlsConsumer` validates an inbound MLS with ``peppol-mls-1.0``, finds
our outbound document by the SBDH InstanceIdentifier it references and moves it from
``delivered`` to ``delivered_to_recipient`` (AP/AB) or ``rejected_by_recipient`` (RE), with the
issue lines in the status history.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from sqlalchemy import select

from gateway.as4.mls import MlsIssue, MlsStatus, build_mls, mls_wanted, outbound_state, parse_mls
from gateway.as4.mls import spis_id as spis_of
from gateway.as4.models import As4Outbound
from gateway.as4.receiver import InboundMeta
from gateway.as4.sbdh import Sbdh
from gateway.lifecycle import COUNTERPART, SOURCE_MLS, Cause, Lifecycle
from gateway.store import Database, Document
from gateway.validation import ValidationReport

log = logging.getLogger(__name__)

SCENARIO = "peppol-mls-1.0"
#: Outbound statuses an MLS may move on (``failed``: the receipt was lost, the MLS proves delivery).
MLS_APPLIES_TO = frozenset({"delivered", "failed"})
#: Statuses meaning "our own receipt bookkeeping is still in flight": wait a little.
IN_FLIGHT = frozenset({"queued", "sending", "retrying"})
#: Refusals before validation: the syntax itself (SV), not a business rule.
_SYNTAX = frozenset({"not-well-formed", "forbidden-construct", "too-large", "no-scenario"})
MAX_ISSUES = 50


class ValidatorLike(Protocol):
    async def validate(self, raw: bytes, scenario: str | None = None) -> ValidationReport: ...


class MlsObserver(Protocol):
    """Told of every MLS: ``direction`` received/sent, ``outcome`` (received: applied, invalid,
    unknown, ignored, wrong-ap; sent: queued, invalid, failed) and the response code."""

    def mls_outcome(self, direction: str, outcome: str, code: str) -> None: ...


def _tell(observer: MlsObserver | None, direction: str, outcome: str, code: str) -> None:
    if observer is not None:
        observer.mls_outcome(direction, outcome, code if code in ("AP", "AB", "RE") else "other")


class MlsRefused(Exception):
    """An inbound MLS that cannot be applied yet (its document is still being sent): retry."""


def issues_from(report: ValidationReport) -> list[MlsIssue]:
    """MLS issue lines for a refused document: SV for syntax/XSD, BV for business rules."""
    if report.status in _SYNTAX:
        return [MlsIssue("SV", report.reason or report.status)]
    issues = [
        MlsIssue(
            "SV" if f.source == "xsd" else "BV",
            f"[{f.rule}] {f.message}"[:1000],
            f.location or "NA",
        )
        for f in report.findings
        if f.blocking
    ][:MAX_ISSUES]
    return issues or [MlsIssue("BV", report.reason or "the document was rejected")]


def _summary(report: ValidationReport) -> str:
    blocking = sum(1 for f in report.findings if f.blocking)
    if report.status in _SYNTAX:
        return f"The document was refused before validation ({report.status})."
    return f"The document failed validation ({report.scenario}): {blocking} error(s)."


class MlsResponder:
    def __init__(self, seat_id: str, outbound: Any, validator: Any) -> None:
        self.spis_id = spis_of(seat_id)
        self.outbound = outbound
        self._validator = validator
        self._tasks: set[asyncio.Task[None]] = set()
        #: Counts the MLS we send (set by whoever wires the metrics); None = not counted.
        self.observer: MlsObserver | None = None

    def answer_later(
        self, tenant: str, meta: InboundMeta, accepted: bool, report: ValidationReport
    ) -> None:
        """Queue the MLS in the background: the sender's receipt must not wait for it."""
        if not mls_wanted(meta.sbdh, accepted):
            return
        task = asyncio.create_task(self.answer(tenant, meta, accepted, report))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def answer(
        self, tenant: str, meta: InboundMeta, accepted: bool, report: ValidationReport
    ) -> str | None:
        """Build, validate and queue one MLS; returns the outbound document id."""
        return await self.answer_header(tenant, meta.sbdh, accepted, report)

    @staticmethod
    def wanted(header: Sbdh, accepted: bool) -> bool:
        return mls_wanted(header, accepted)

    async def answer_header(
        self, tenant: str, header: Sbdh, accepted: bool, report: ValidationReport
    ) -> str | None:
        """:meth:`answer` from the SBDH alone (what the MLS outbox keeps after a restart)."""
        assert header.mls_to
        status = MlsStatus(
            response_code="AP" if accepted else "RE",
            referenced_instance_id=header.instance_id,
            sender=self.spis_id,
            receiver=header.mls_to,
            issues=[] if accepted else issues_from(report),
            # SCH-MLS-20/21: a negative MLS must say why in words.
            description="" if accepted else _summary(report),
        )
        raw = build_mls(status)
        try:
            checked = await self._validator().validate(raw, SCENARIO)
            if not checked.accepted:
                _tell(self.observer, "sent", "invalid", status.response_code)
                log.error(
                    "our MLS for %s does not pass %s: %s",
                    header.instance_id,
                    SCENARIO,
                    [f.message for f in checked.findings if f.blocking][:3],
                )
                return None
            submitted = await self.outbound.submit(
                tenant,
                raw,
                receiver=header.mls_to,
                channel="as4",
                idempotency_key=f"mls:{header.sender}|{header.instance_id}"[:200],
                actor="as4:mls",
            )
        except Exception:
            _tell(self.observer, "sent", "failed", status.response_code)
            log.exception("could not queue the MLS for %s", header.instance_id)
            return None
        _tell(self.observer, "sent", "queued", status.response_code)
        log.info(
            "MLS %s for %s queued to %s", status.response_code, header.instance_id, header.mls_to
        )
        return str(submitted.item.document_id)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)


class MlsConsumer:
    def __init__(
        self,
        db: Database,
        seat_id: str,
        validator: Any,
        wait: float = 5.0,
        *,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.db = db
        self.lifecycle = lifecycle or Lifecycle()
        self.spis_id = spis_of(seat_id)
        self._validator = validator
        self.wait = wait
        #: Counts the MLS we receive (set by whoever wires the metrics); None = not counted.
        self.observer: MlsObserver | None = None

    def addressed_to_us(self, meta: InboundMeta) -> bool:
        return meta.sbdh.receiver.strip().lower() == self.spis_id.lower()

    async def consume(self, document: bytes, meta: InboundMeta) -> str | None:
        """Apply an inbound MLS; returns the outbound document id it moved (None if none).

        An MLS that does not validate, or references nothing we sent, is logged and dropped
        (the sending AP still gets its receipt: the transport worked; MLS never answers MLS).
        """
        report = await self._validator().validate(document, SCENARIO)
        if not report.accepted:
            _tell(self.observer, "received", "invalid", "other")
            log.warning(
                "inbound MLS %s from %s refused by %s: %s",
                meta.message_id,
                meta.from_party,
                SCENARIO,
                [f.message for f in report.findings if f.blocking][:3],
            )
            return None
        status = parse_mls(document)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while True:
            outcome = await self._apply(status, meta)
            if outcome != "wait":
                return outcome
            if loop.time() >= deadline:
                raise MlsRefused(
                    f"MLS for {status.referenced_instance_id}: the document is still being sent"
                )
            await asyncio.sleep(0.1)

    async def _apply(self, status: MlsStatus, meta: InboundMeta) -> str | None:
        target = outbound_state(status)
        async with self.db.write() as s:
            row = (
                await s.execute(
                    select(Document, As4Outbound.receiver_party)
                    .join(As4Outbound, As4Outbound.document_id == Document.id)
                    .where(As4Outbound.instance_id == status.referenced_instance_id)
                )
            ).first()
            doc, delivered_to = (row[0], row[1]) if row is not None else (None, None)
            if doc is None:
                _tell(self.observer, "received", "unknown", status.response_code)
                log.warning(
                    "MLS %s references unknown instance %s",
                    status.id,
                    status.referenced_instance_id,
                )
                return None
            if doc.status in IN_FLIGHT:
                return "wait"
            if doc.status not in MLS_APPLIES_TO:
                _tell(self.observer, "received", "ignored", status.response_code)
                log.info("MLS %s for %s ignored: document is %s", status.id, doc.id, doc.status)
                return doc.id
            cause = Cause(SOURCE_MLS, role=COUNTERPART, actor=f"ap:{meta.from_party}")
            if delivered_to and delivered_to != meta.from_party:
                # Only the AP the document went to may say what its receiver did with it.
                await self.lifecycle.note(
                    s,
                    doc,
                    cause,
                    f"MLS refused, status unchanged: it came from access point "
                    f"{meta.from_party}, but the document was delivered to {delivered_to}",
                )
                _tell(self.observer, "received", "wrong-ap", status.response_code)
                return doc.id
            await self.lifecycle.move(s, doc, target, cause, reason=describe(status))
            _tell(self.observer, "received", "applied", status.response_code)
            meta_dict = dict(doc.meta or {})
            meta_dict["mls"] = {
                "id": status.id,
                "response_code": status.response_code,
                "issues": [vars(i) for i in status.issues],
                "from": meta.from_party,
                "message_id": meta.message_id,
            }
            doc.meta = meta_dict
            return doc.id


def describe(status: MlsStatus) -> str:
    """History text of an MLS: the code and every issue line."""
    head = f"MLS {status.response_code} from {status.sender} ({status.id})"
    if status.description:
        head += f": {status.description}"
    lines = [f"[{i.reason}] {i.description} (at {i.line_id})" for i in status.issues]
    return "; ".join([head, *lines])
