"""The one intake pipeline of every inbound channel: parse, validate, dedupe, store, forward.

Channels (REST, e-mail, AS4, ...) only turn what they received into a :class:`Submission` and
call :meth:`IntakePipeline.submit`. Everything that decides what a document *is* (its tenant,
status, original or duplicate) happens here, once, so the channels cannot drift apart.

Guarantees:
- the raw bytes are committed to the database before ``submit`` returns (so before any 2xx /
  SMTP 250 / AS4 receipt), also for invalid and unroutable documents;
- exactly one original per (tenant, direction, sha256) and per (tenant, direction, business key):
  the primary key of ``document_claims`` decides races, on SQLite and PostgreSQL alike;
- only originals that passed validation and have a tenant are forwarded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.documents import PDF_MAGIC
from gateway.inbound.duplicates import load_rules
from gateway.inbound.storing import BatchWriter, Before, Pending
from gateway.lifecycle import INVALID, RECEIVED, UNROUTABLE, Lifecycle
from gateway.store import (
    Database,
    Document,
    FieldRejected,
    check_row,
    clean_json,
    new_document_id,
    repo,
)
from gateway.validation import ValidationReport

log = logging.getLogger(__name__)

#: Report statuses meaning "the XML itself was refused" (no validation ran).
#: A PDF without an invoice XML inside (``no-invoice-in-pdf``) is refused the same way.
REFUSED = frozenset({"not-well-formed", "forbidden-construct", "too-large", "no-invoice-in-pdf"})
PDF_TYPE = "application/pdf"
#: The document used up its validation deadline (issue 14): never forwarded; refused to an
#: interactive sender like refused XML, stored as ``invalid`` from network channels.
TIMEOUT = "validation-timeout"
#: How often a waiting validation looks whether its caller is still there.
CALLER_POLL_SECONDS = 0.25
#: The names senders know for the stored fields read from their document (error messages).
FIELD_NAMES = {
    "number": "invoice number (cbc:ID / rsm:ExchangedDocument/ram:ID)",
    "currency": "currency code (cbc:DocumentCurrencyCode / ram:InvoiceCurrencyCode)",
    "customization_id": "customization id (cbc:CustomizationID)",
    "sender_endpoint": "sender endpoint id (cbc:EndpointID)",
    "receiver_endpoint": "receiver endpoint id (cbc:EndpointID)",
    "seller_id": "seller id",
    "buyer_id": "buyer id",
    "issue_date": "issue date",
    "due_date": "due date",
    "payable_amount": "payable amount",
}
#: Free-text fields that may hold line breaks (party names are a fallback seller/buyer id).
MULTILINE = ("status_reason", "business_key", "seller_id", "buyer_id")


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Submission:
    raw: bytes
    channel: str  # "api" | "email" | "as4" | ...
    #: None for network channels: routed by the receiver endpoint via the participants table.
    tenant: str | None = None
    direction: str = "inbound"
    metadata: dict[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    #: True once the sender is gone (a REST client that hung up): validation stops, nothing is
    #: stored. Channels that must finish what they accepted (SMTP, AS4) leave it unset.
    caller_gone: Callable[[], bool] | None = None


@dataclass
class IntakeResult:
    document_id: str
    status: str
    duplicate_of: str | None
    report: ValidationReport
    tenant: str | None
    #: The stored record's kind and direction, so an after-store hook can tell whether a
    #: document concerns it without reading it back (one transaction per document saved).
    kind: str | None = None
    direction: str = "inbound"


class IntakeRefused(Exception):
    """Raised only with ``refuse_unparseable=True``: the XML was refused before validation,
    or validation ran out of time (``validation-timeout``).

    Interactive channels (REST) answer such input with a 4xx and store nothing; the sender is
    still on the line and can fix it. Network channels store it (status ``invalid``).
    """

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.reason or report.status)
        self.report = report
        self.code = report.status


class ValidatorLike(Protocol):
    async def validate(
        self,
        raw: bytes,
        scenario: str | None = None,
        *,
        tenant: str | None = None,
        key: str = "default",
    ) -> ValidationReport: ...


class ForwardingHook(Protocol):
    """What intake needs from forwarding: rows in the same transaction, a wake-up after commit."""

    async def enqueue(self, session: Any, doc: Document) -> None: ...

    def wake(self) -> None: ...


class IntakeObserver(Protocol):
    """Metrics hook: ``status`` is the stored status, or ``refused`` for refused XML."""

    def observe(
        self, channel: str, status: str, validation_seconds: float, tenant: str | None = None
    ) -> None: ...


class IntakePipeline:
    def __init__(
        self,
        db: Database,
        validator: ValidatorLike,
        forwarding: ForwardingHook | None = None,
        observer: IntakeObserver | None = None,
        *,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.db = db
        self.validator = validator
        self.forwarding = forwarding
        self.observer = observer
        self.lifecycle = lifecycle or Lifecycle()
        self._writer = BatchWriter(db, forwarding, self.lifecycle)
        #: Called with every stored document's result (e.g. Invoice Responses apply themselves).
        self.after_store: list[Callable[[IntakeResult], Awaitable[None]]] = []
        #: Called with the id of a stranded document once it was routed to a tenant
        #: (:mod:`gateway.inbound.routing`), after that commit; hooks must not raise.
        self.after_route: list[Callable[[str], Awaitable[None]]] = []

    async def routed(self, document_id: str) -> None:
        for hook in self.after_route:
            await hook(document_id)

    async def submit(self, sub: Submission, *, refuse_unparseable: bool = False) -> IntakeResult:
        """Validate, classify and durably store ``sub``; forward it when it is a valid original."""
        (result,) = await self.submit_all([sub], refuse_unparseable=refuse_unparseable)
        return result

    async def submit_all(
        self,
        subs: list[Submission],
        *,
        refuse_unparseable: bool = False,
        before: Before | None = None,
    ) -> list[IntakeResult]:
        """Like :meth:`submit` for several documents stored in one transaction: all or none.

        ``before(session, documents)`` runs first in that transaction (a channel's own record
        of what it received, e.g. :mod:`gateway.inbound.messages`). Every document is validated
        and checked (:class:`~gateway.store.FieldRejected`) before anything is written.
        """
        prepared = []
        for index, sub in enumerate(subs):
            try:
                prepared.append(await self._prepare(sub, refuse_unparseable))
            except FieldRejected as exc:
                exc.index = index
                raise
        docs = await self._writer.store_all([p for p, _, _ in prepared], before)
        results = []
        for (_, report, seconds), sub, doc in zip(prepared, subs, docs, strict=True):
            result = IntakeResult(
                doc.id, doc.status, doc.duplicate_of, report, doc.tenant, doc.kind, doc.direction
            )
            for hook in self.after_store:
                await hook(result)
            if self.forwarding is not None:  # a new original, or an event (document.duplicate)
                self.forwarding.wake()
            if self.observer is not None:
                self.observer.observe(sub.channel, result.status, seconds, result.tenant)
            log.info(  # one line per stored document (no content, no keys)
                "document stored",
                extra={
                    "document_id": result.document_id,
                    "tenant": result.tenant,
                    "channel": sub.channel,
                    "status": result.status,
                    "duplicate_of": result.duplicate_of,
                    "scenario": report.scenario,
                    "validation_ms": round(seconds * 1000, 1),
                },
            )
            results.append(result)
        return results

    async def _prepare(
        self, sub: Submission, refuse_unparseable: bool
    ) -> tuple[Pending, ValidationReport, float]:
        started = time.perf_counter()
        # The fair queue's key: one sender's slow documents wait behind each other, not in
        # front of everybody else's (gateway.validation.pool.fairqueue).
        key = f"{sub.channel}:{sub.tenant or '-'}"
        report = await _validate(self.validator, sub, key)
        validation_seconds = time.perf_counter() - started
        if refuse_unparseable and (report.status in REFUSED or report.status == TIMEOUT):
            if self.observer is not None:
                self.observer.observe(sub.channel, "refused", validation_seconds, sub.tenant)
            raise IntakeRefused(report)
        info = report.document or {}
        tenant = sub.tenant
        if tenant is None:  # a point read (no read transaction): once per network document
            tenant = await repo.tenant_for_participant(self.db, info.get("receiver_endpoint"))
        fields, claims = build_record(sub, report, tenant)
        return Pending(fields, claims, sub.channel, sub.attachments), report, validation_seconds


class CallerGone(Exception):
    """The sender hung up while its document was being validated; nothing was stored."""


async def _validate(validator: ValidatorLike, sub: Submission, key: str) -> ValidationReport:
    if sub.caller_gone is None:
        return await validator.validate(sub.raw, tenant=sub.tenant, key=key)
    task = asyncio.ensure_future(validator.validate(sub.raw, tenant=sub.tenant, key=key))
    while True:
        done, _ = await asyncio.wait({task}, timeout=CALLER_POLL_SECONDS)
        if done:
            return task.result()
        if sub.caller_gone():
            task.cancel()  # the pool drops the request or stops its worker
            raise CallerGone(f"{sub.channel} sender went away during validation")


def build_record(
    sub: Submission, report: ValidationReport, tenant: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A document's record (:func:`document_fields`) and the claims it takes as an original."""
    fields = document_fields(sub, report, tenant)
    return fields, (_claims(fields) if fields["status"] == RECEIVED else {})


def _claims(fields: dict[str, Any]) -> dict[str, str]:
    return claims_of(fields["tenant"], fields["sha256"], fields["business_key"])


def claims_of(tenant: str | None, sha256: str, business_key: str | None) -> dict[str, str]:
    """The uniqueness claims an original of ``tenant`` holds (none without a tenant)."""
    if tenant is None:
        return {}
    out = {"sha256": sha256}
    if business_key:
        out["business-key"] = repo.sha256_hex(business_key)
    return out


def document_fields(
    sub: Submission, report: ValidationReport, tenant: str | None
) -> dict[str, Any]:
    """The one place that builds a document's record (its first status in the lifecycle's
    words; :meth:`Lifecycle.begin` gives it to the record and writes its first history row).
    :class:`~gateway.store.FieldRejected` when a value read from the document cannot be stored
    (too long for its column, NUL, ...), on every database.
    """
    fields = _fields(sub, report, tenant)
    check_row(Document, fields, names=FIELD_NAMES, multiline=MULTILINE)
    return fields


def _fields(sub: Submission, report: ValidationReport, tenant: str | None) -> dict[str, Any]:
    info = report.document or {}
    seller = info.get("seller") or {}
    buyer = info.get("buyer") or {}
    if report.status in REFUSED or report.status == TIMEOUT:
        status, reason = INVALID, f"{report.status}: {report.reason or 'refused'}"
    elif not report.accepted:
        status, reason = INVALID, _invalid_reason(report)
    elif tenant is None:
        receiver = info.get("receiver_endpoint")
        status = UNROUTABLE
        reason = (
            f"no tenant owns the receiver id {receiver}; add it with `gateway participants add`"
            if receiver
            else "the document names no receiver endpoint id, so no tenant can be determined"
        )
    else:
        status, reason = RECEIVED, None
    return {
        "id": new_document_id(),
        "direction": sub.direction,
        "channel": sub.channel,
        "tenant": tenant,
        "status": status,
        "status_reason": reason,
        "raw": sub.raw,
        "sha256": repo.sha256_hex(sub.raw),
        "size": len(sub.raw),
        # A Factur-X / ZUGFeRD PDF is stored as received; it was validated by its XML inside.
        "content_type": PDF_TYPE if sub.raw.startswith(PDF_MAGIC) else "application/xml",
        "doc_type": info.get("doc_type"),
        "kind": info.get("kind"),
        "syntax": info.get("syntax"),
        "customization_id": info.get("customization_id"),
        "scenario": report.scenario,
        "validation_status": report.status,
        "number": info.get("number"),
        "issue_date": info.get("issue_date"),
        "due_date": info.get("due_date"),
        "seller_id": _party_key(seller),
        "buyer_id": _party_key(buyer),
        "sender_endpoint": info.get("sender_endpoint"),
        "receiver_endpoint": info.get("receiver_endpoint"),
        "currency": info.get("currency"),
        "payable_amount": info.get("payable_amount"),
        # The key duplicate detection claims: the default one, or a national rule's by the
        # document's scenario (gateway.inbound.duplicates, config/duplicate-rules.toml).
        "business_key": load_rules().key_for(info, report.scenario),
        "report": report.to_dict(),
        # Channel facts (mail subjects, file names) are informational: cleaned, never refused.
        "meta": clean_json(dict(sub.metadata)),
    }


def _party_key(party: dict[str, Any]) -> str | None:
    for key in ("endpoint", "vat_id", "legal_id", "party_id", "name"):
        if party.get(key):
            return str(party[key])
    return None


def _invalid_reason(report: ValidationReport) -> str:
    if report.status == "no-scenario":
        return report.reason or "no validation scenario applies to this document"
    blocking = [f for f in report.findings if f.blocking]
    first = f"; first: [{blocking[0].rule}] {blocking[0].message}" if blocking else ""
    return f"validation rejected the document ({len(blocking)} error(s)){first}"
