"""The AS4 inbound channel of the gateway: the :class:`As4Receiver`'s ``deliver`` callback.

For every verified, decrypted message:

- an MLS (``is_mls``) addressed to our SPIS id goes to :class:`MlsConsumer` (moves our
  outbound document), never into the intake;
- otherwise the tenant is looked up by the SBDH receiver (final recipient) *before* anything
  is stored: unknown -> :class:`RecipientNotServiced` (EBMS:0004 PEPPOL:NOT_SERVICED);
- the business document goes through the same :class:`IntakePipeline` as every channel
  (channel ``as4``), and in the intake's own transaction (its in-transaction hook) the
  message-id claim with the receipt, the Peppol reporting row (C4 from
  :func:`receiver_country`: a registered country, read before, or the buyer's as
  identification found it) and the owed MLS are written: one commit, after which the
  receiver sends the receipt (issue 17);
- after that commit the MLS the SBDH asks for is queued to the sending AP (in the background,
  from the report in memory; the outbox row, a :mod:`gateway.owed` debt, is paid by the
  recovery pass or a sweep if this process dies first).

Crash points (:func:`gateway.channels.crash.crash_point`, for the kill -9 test):
``as4.in-transaction`` (rows written, not committed), ``as4.committed`` (committed, no receipt
sent yet), ``as4.mls-queued`` (MLS queued, its outbox row not settled).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from gateway.as4 import (
    AlreadyDelivered,
    As4Receiver,
    Claim,
    DbSeenStore,
    InboundMeta,
    MlsConsumer,
    MlsOutbox,
    MlsRefused,
    MlsResponder,
    PeppolReportRow,
    RecipientNotServiced,
    is_mls,
    receiver_country,
    registered_country,
    report_values,
)
from gateway.channels.crash import crash_point
from gateway.inbound import IntakePipeline, Joined, Submission
from gateway.store import Database, Document, insert_at_commit, repo

log = logging.getLogger(__name__)

#: Intake outcomes that count as "accepted" for the MLS (a duplicate was still delivered).
ACCEPTED = frozenset({"received", "duplicate", "forwarded"})


class As4Channel:
    def __init__(
        self,
        settings: Any,
        db: Database,
        intake: IntakePipeline,
        outbound: Any | None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.intake = intake
        self.store = DbSeenStore(db)
        self.receiver = As4Receiver.from_settings(settings, self.store, self.deliver)
        seat = self.receiver.identity.party_id
        validator = self._validator
        self.responder = MlsResponder(seat, outbound, validator) if outbound else None
        self.outbox = MlsOutbox(db, self.responder) if self.responder else None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.consumer = MlsConsumer(db, seat, validator, lifecycle=intake.lifecycle)
        self.country = (settings.as4.country or "").upper()

    def _validator(self) -> Any:
        return self.intake.validator

    async def deliver(self, document: bytes, meta: InboundMeta) -> None:
        header = meta.sbdh
        if is_mls(header):
            await self._consume_mls(document, meta)
            return
        # Point reads, not read transactions (gateway.store.lookups): these two and the
        # receiver's two duplicate checks cost ~10 ms of CPU per message through sessions.
        tenant = await repo.tenant_for_participant(self.db, header.receiver)
        if tenant is None:
            raise RecipientNotServiced(header.receiver)
        registered = await registered_country(self.db, tenant, header.receiver)
        sub = Submission(document, "as4", tenant, metadata={"as4": meta.to_dict()})
        delivery = Joined(self._in_transaction, _Delivery(meta, tenant, registered))
        try:
            (result,) = await self.intake.submit_all([sub], before=delivery)
        except AlreadyDelivered:
            # Another copy committed first (another process): answer with its receipt.
            log.info("as4 message %s: already on record, nothing stored", meta.message_id)
            return
        self.store.committed(meta.message_id, meta.receipt)
        crash_point("as4.committed")
        log.info(
            "as4 message %s stored as %s (%s)", meta.message_id, result.document_id, result.status
        )
        if self.outbox is not None:
            # In the background: the sender's receipt does not wait for the MLS. Should this
            # process die first, the outbox row is paid by the recovery pass or a sweep.
            accepted = result.status in ACCEPTED
            task = asyncio.create_task(self._answer(tenant, header, accepted, result.report))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _in_transaction(
        self, session: Any, deliveries: list[tuple[_Delivery, list[Document]]]
    ) -> list[BaseException | None]:
        """The intake's in-transaction hook for the messages of one group commit (a
        :class:`~gateway.inbound.Joined` hook): their claims with the receipts in two
        statements for all of them, then per accepted message its reporting row (inserted
        with the others at commit) and the MLS it is owed."""
        claims = [
            Claim(d.meta.message_id, d.instance_key, d.meta.receipt, doc.id, d.meta.from_party)
            for d, (doc,) in deliveries
        ]
        refusals = await self.store.record_many(session, claims)
        for (d, (doc,)), refused in zip(deliveries, refusals, strict=True):
            if refused is not None:
                continue  # its unit is rolled back and refused: AlreadyDelivered
            c4, source = receiver_country(d.registered, _buyer_country(doc), self.country)
            row = _inbound_values(d.meta, d.tenant, doc.id, c4, c4_source=source)
            insert_at_commit(session, PeppolReportRow, row)
            if self.outbox is not None:
                await self.outbox.intend(session, d.meta, d.tenant)
        crash_point("as4.in-transaction")
        return list(refusals)

    async def _answer(self, tenant: str, header: Any, accepted: bool, report: Any) -> None:
        assert self.outbox is not None
        await self.outbox.answer(tenant, header, accepted, report, after_queue=_mls_queued)

    async def _consume_mls(self, document: bytes, meta: InboundMeta) -> None:
        if not self.consumer.addressed_to_us(meta):
            raise RecipientNotServiced(meta.sbdh.receiver)
        try:
            doc_id = await self.consumer.consume(document, meta)
        except MlsRefused:
            raise  # -> 503: the sending AP retries once our receipt bookkeeping caught up
        # The message-id claim and the MLS's reporting row commit together (C4: our seat's).
        values = _inbound_values(meta, None, doc_id, self.country, kind="mls", c4_source="config")
        row = PeppolReportRow(**values)
        key = f"{meta.sbdh.sender}|{meta.sbdh.instance_id}"
        await self.store.record_alone(meta.message_id, key, meta.receipt, [row], meta.from_party)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        if self.responder is not None:
            await self.responder.aclose()
        await self.receiver.aclose()


@dataclass(frozen=True)
class _Delivery:
    """What the in-transaction hook needs of one message (read before the transaction)."""

    meta: InboundMeta
    tenant: str
    registered: tuple[str, str] | None

    @property
    def instance_key(self) -> str:
        return f"{self.meta.sbdh.sender}|{self.meta.sbdh.instance_id}"


def _buyer_country(doc: Document) -> str | None:
    """The buyer's country as the intake's identification read it (in the stored report):
    the document is parsed once, not again for its reporting row."""
    info = (doc.report or {}).get("document") or {}
    return (info.get("buyer") or {}).get("country")


def _mls_queued() -> None:
    crash_point("as4.mls-queued")


def _inbound_values(
    meta: InboundMeta, tenant: str | None, document_id: object, country_c4: str, **extra: Any
) -> dict[str, Any]:
    """The Peppol reporting row of one received message (documents and MLS alike)."""
    header = meta.sbdh
    return report_values(
        direction="inbound",
        tenant=tenant,
        document_id=document_id,
        message_id=meta.message_id,
        exchanged_at=meta.received_at,
        sender_ap=meta.from_party,
        receiver_ap=meta.to_party,
        sender=header.sender,
        receiver=header.receiver,
        document_type_id=header.document_type_id,
        process_id=header.process_id,
        country_c1=header.country_c1,
        country_c4=country_c4,
        **extra,
    )
