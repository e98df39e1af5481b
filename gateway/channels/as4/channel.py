"""The AS4 inbound channel of the gateway: the :class:`As4Receiver`'s ``deliver`` callback.

For every verified, decrypted message:

- an MLS (``is_mls``) addressed to our SPIS id goes to :class:`MlsConsumer` (moves our
  outbound document), never into the intake;
- otherwise the tenant is looked up by the SBDH receiver (final recipient) *before* anything
  is stored: unknown -> :class:`RecipientNotServiced` (EBMS:0004 PEPPOL:NOT_SERVICED);
- the delivery is claimed in the database (:class:`DbSeenStore`), the business document goes
  through the same :class:`IntakePipeline` as every channel (channel ``as4``), and the
  reporting row is written with the receipt;
- the MLS the SBDH asks for is queued to the sending AP.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.as4 import (
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
    countries,
    is_mls,
    report_row,
)
from gateway.inbound import IntakePipeline, Submission
from gateway.store import Database, repo

log = logging.getLogger(__name__)

#: Intake outcomes that count as "accepted" for the MLS (a duplicate was still delivered).
ACCEPTED = frozenset({"received", "duplicate", "forwarded"})


class ConcurrentDelivery(Exception):
    """Another copy of this message is being delivered right now; the sender should retry."""


class As4Channel:
    def __init__(
        self,
        settings: Any,
        db: Database,
        intake: IntakePipeline,
        outbound: Any | None,
        *,
        busy_wait: float = 10.0,
    ) -> None:
        self.settings = settings
        self.db = db
        self.intake = intake
        self.store = DbSeenStore(db)
        self.receiver = As4Receiver.from_settings(settings, self.store, self.deliver)
        seat = self.receiver.identity.party_id
        validator = self._validator
        self.responder = MlsResponder(seat, outbound, validator) if outbound else None
        self.outbox = MlsOutbox(db, self.responder, validator) if self.responder else None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.consumer = MlsConsumer(db, seat, validator, lifecycle=intake.lifecycle)
        self.country = (settings.as4.country or "").upper()
        self.busy_wait = busy_wait

    def _validator(self) -> Any:
        return self.intake.validator

    async def deliver(self, document: bytes, meta: InboundMeta) -> None:
        header = meta.sbdh
        if is_mls(header):
            await self._consume_mls(document, meta)
            return
        async with self.db.read() as s:
            tenant = await repo.tenant_for_participant(s, header.receiver)
        if tenant is None:
            raise RecipientNotServiced(header.receiver)
        if self.outbox is not None:  # before the document: an owed MLS survives a crash
            await self.outbox.intend(meta, tenant)
        instance_key = f"{header.sender}|{header.instance_id}"
        if not await self._claim(meta, instance_key, document):
            return
        try:
            result = await self.intake.submit(
                Submission(document, "as4", tenant, metadata={"as4": meta.to_dict()})
            )
        except BaseException:
            await asyncio.shield(self.store.release(meta.message_id, instance_key))
            raise
        self.store.complete(
            meta.message_id,
            result.document_id,
            _inbound_row(meta, tenant, result.document_id, countries(document)[1] or self.country),
        )
        log.info(
            "as4 message %s stored as %s (%s)", meta.message_id, result.document_id, result.status
        )
        if self.outbox is not None:
            # In the background: the sender's receipt does not wait for the MLS. Should this
            # process die first, the outbox row makes MlsOutbox.sweep queue it later.
            accepted = result.status in ACCEPTED
            task = asyncio.create_task(self.outbox.answer(tenant, header, accepted, result.report))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _claim(self, meta: InboundMeta, instance_key: str, document: bytes) -> bool:
        """True when this call must deliver; False when a copy was already delivered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.busy_wait
        while True:
            claim = await self.store.claim(meta.message_id, instance_key, meta.from_party, document)
            if claim is Claim.CLAIMED:
                return True
            if claim is Claim.DONE:
                log.info(
                    "as4 message %s: instance %s already delivered", meta.message_id, instance_key
                )
                return False
            if loop.time() >= deadline:
                raise ConcurrentDelivery(f"{meta.message_id} is being delivered by another copy")
            await asyncio.sleep(0.05)

    async def _consume_mls(self, document: bytes, meta: InboundMeta) -> None:
        if not self.consumer.addressed_to_us(meta):
            raise RecipientNotServiced(meta.sbdh.receiver)
        try:
            doc_id = await self.consumer.consume(document, meta)
        except MlsRefused:
            raise  # -> 503: the sending AP retries once our receipt bookkeeping caught up
        self.store.complete(
            meta.message_id,
            None,
            _inbound_row(meta, None, doc_id, self.country, kind="mls"),
        )

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)
        if self.responder is not None:
            await self.responder.aclose()
        await self.receiver.aclose()


def _inbound_row(
    meta: InboundMeta, tenant: str | None, document_id: object, country_c4: str, **extra: Any
) -> PeppolReportRow:
    """The Peppol reporting row of one received message (documents and MLS alike)."""
    header = meta.sbdh
    return report_row(
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
