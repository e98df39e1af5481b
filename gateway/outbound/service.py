"""The outbound service: what the server and the CLI hold on to.

It wires settings into the parts (transports, discovery, router, queue, worker) and offers the
one submission entry point, so the REST handler, ``gateway send`` and tests all go through the
same validate -> store -> queue path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from gateway.config import Settings
from gateway.documents import ParseLimits, XmlRefused, identify, parse_xml
from gateway.inbound import Attachment, Submission, document_fields
from gateway.lifecycle import Cause, Lifecycle
from gateway.outbound.discovery import Discovery, sml_zone
from gateway.outbound.drafts import Drafts
from gateway.outbound.duplicates import guard
from gateway.outbound.identifiers import document_type_id, participant_id, process_id
from gateway.outbound.models import OutboundItem
from gateway.outbound.queue import OutboundQueue
from gateway.outbound.routing import Router
from gateway.outbound.transports import HttpTransport, Transport, Transports
from gateway.outbound.worker import Worker
from gateway.store import Database, Document
from gateway.validation import ValidationReport

log = logging.getLogger("gateway.outbound")


class ValidatorLike(Protocol):
    async def validate(self, raw: bytes, scenario: str | None = None) -> ValidationReport: ...


class SubmissionRefused(Exception):
    """Not queued: ``code`` says why (invalid, no-receiver, ...); ``report`` when validated."""

    def __init__(self, code: str, detail: str, report: ValidationReport | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.report = report


@dataclass
class Prepared:
    """A validated outbound document: its record's fields and its queue item's routing."""

    fields: dict[str, Any]
    routing: dict[str, str]
    report: ValidationReport


@dataclass
class Submitted:
    item: OutboundItem
    #: False when an Idempotency-Key matched an earlier submission (nothing new was queued).
    created: bool


class OutboundService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        validator: ValidatorLike | None,
        transports: Transports | None = None,
        discovery: Discovery | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.lifecycle = lifecycle or Lifecycle()
        self.validator = validator
        # The root wires the transports in (gateway.transports); plain HTTP without them.
        self.transports = transports or Transports(
            [HttpTransport(timeout=settings.outbound.request_timeout)]
        )
        self._session: aiohttp.ClientSession | None = None
        self.discovery = discovery
        self.queue = OutboundQueue(db, settings.outbound, self.lifecycle)
        self.router = Router(settings.routes, self.transports, discovery)
        self.worker = Worker(self.queue, self.router, self.transports, settings.outbound)
        self.drafts = Drafts(db, self.lifecycle, self.queue.due_now, self.queue.announce)
        self._task: asyncio.Task[None] | None = None

    def register_transport(self, transport: Transport) -> None:
        """Plug in another transport (e.g. AS4 from gateway.as4) before starting."""
        self.transports.register(transport)

    async def setup_discovery(self) -> None:
        """Enable SML/SMP discovery when trust anchors are configured (needed to verify SMPs)."""
        out = self.settings.outbound
        zone = out.sml_dns_suffix or sml_zone(out.sml)
        if self.discovery is not None or not zone:
            return
        if out.smp_verify_signature and not out.smp_trust_anchors:
            log.warning(
                "dynamic discovery is off: set outbound.smp_trust_anchors (SMP CA certificates)"
            )
            return
        self._session = aiohttp.ClientSession()
        self.discovery = Discovery.create(
            self._session,
            zone=zone,
            cname_fallback=out.sml_cname_fallback,
            allow_http=out.smp_allow_http or out.sml_cname_fallback,
            revocation=_smp_revocation(self.settings.as4, self._session),
            dns_server=out.dns_server,
            trust_anchors=out.smp_trust_anchors,
            verify_signatures=out.smp_verify_signature,
            ttl=out.smp_cache_ttl,
            timeout=min(out.request_timeout, 15.0),
        )
        self.router.discovery = self.discovery

    # --- submission -------------------------------------------------------------------------

    async def submit(
        self,
        tenant: str,
        raw: bytes,
        *,
        receiver: str | None = None,
        idempotency_key: str | None = None,
        actor: str | None = None,
        channel: str = "api",
        cause: Cause | None = None,
        document_type: str | None = None,
        process: str | None = None,
        sender: str | None = None,
        reissue: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> Submitted:
        """Validate, identify and queue ``raw``. ``document_type``, ``process`` and ``sender``
        (Peppol identifiers with scheme) override what identification derives, for documents
        that are not invoices (Peppol reports name neither). :class:`DuplicateOutbound` unless
        ``reissue`` when the tenant already sent this invoice (gateway.outbound.duplicates).
        ``attachments`` (a PDF of the invoice, other files) are stored with it and go along
        where the transport can carry them (e-mail)."""
        if idempotency_key:
            existing = await self.queue.find_idempotent(tenant, idempotency_key)
            if existing is not None:
                return Submitted(existing, False)
        prepared = await self.prepare(
            tenant,
            raw,
            receiver=receiver,
            channel=channel,
            document_type=document_type,
            process=process,
            sender=sender,
        )
        fields, routing = prepared.fields, prepared.routing
        async with self.db.read() as s:
            claims, original = await guard(
                s,
                tenant,
                fields["kind"],
                fields["business_key"],
                routing["receiver"],
                reissue=reissue,
            )
        if original is not None:  # a deliberate copy: sent, holds no claim, names its original
            fields["meta"] = {**fields["meta"], "reissue_of": original}
        item, created = await self.queue.enqueue(
            Document(**fields),
            **routing,
            idempotency_key=idempotency_key,
            actor=actor,
            cause=cause,
            claims=claims,
            attachments=attachments,
        )
        return Submitted(item, created)

    async def prepare(
        self,
        tenant: str,
        raw: bytes,
        *,
        receiver: str | None = None,
        channel: str = "api",
        document_type: str | None = None,
        process: str | None = None,
        sender: str | None = None,
    ) -> Prepared:
        """Validate and identify an outbound document; what storing and queueing it need."""
        if self.validator is None:
            raise RuntimeError("outbound service has no validator")
        report = await self.validator.validate(raw)
        if not report.accepted:
            raise SubmissionRefused(
                report.status if report.status != "rejected" else "invalid-document",
                report.reason or f"the document did not pass validation ({report.status})",
                report,
            )
        limits = ParseLimits(self.settings.validation.max_bytes, self.settings.validation.max_depth)
        try:
            info = identify(parse_xml(raw, limits))
        except XmlRefused as exc:  # pragma: no cover - validation refused it already
            raise SubmissionRefused(exc.code, exc.message, report) from exc
        target = receiver or info.receiver_endpoint
        if not target:
            raise SubmissionRefused(
                "no-receiver",
                "the document names no receiver endpoint id (cbc:EndpointID / ram:URIID); "
                "give one explicitly",
                report,
            )
        try:
            pid = participant_id(target)
        except ValueError as exc:
            raise SubmissionRefused("bad-receiver", str(exc), report) from exc
        doctype, proc = document_type_id(info), process_id(info)
        fields: dict[str, Any] = document_fields(
            Submission(raw, channel, tenant, direction="outbound"), report, tenant
        )
        fields.pop("status")  # given by the lifecycle: queued, or draft
        fields.pop("status_reason")
        fields["receiver_endpoint"] = pid.value
        routing = {
            "receiver": pid.value,
            "sender": sender or info.sender_endpoint or "",
            "document_type": document_type or (str(doctype) if doctype else ""),
            "process": process or (str(proc) if proc else ""),
        }
        return Prepared(fields, routing, report)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.setup_discovery()
        if self._task is None:
            self._task = asyncio.create_task(self.worker.run(), name="outbound-worker")
            self.drafts.start(self.settings.outbound)
            if self.settings.outbound.listen:  # other processes' commits wake the worker
                self.queue.wakeups.start()

    async def aclose(self) -> None:
        if self._task is not None:
            await self.queue.wakeups.stop()
            await self.drafts.stop()
            await self.worker.stop()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.transports.aclose()
        if self._session is not None:
            await self._session.close()


def _smp_revocation(as4: Any, session: aiohttp.ClientSession) -> Any | None:
    """OCSP/CRL for the SMP signing certificates, in the ``[as4] revocation`` mode (sharing
    the discovery session, closed with it)."""
    if as4.revocation == "off":
        return None
    from gateway.revocation import RevocationChecker

    return RevocationChecker(as4.revocation, timeout=as4.revocation_timeout, session=session)
