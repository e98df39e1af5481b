"""The MLS we owe, kept in the database so a crash cannot lose it (issue 17, MLS mandatory
from 2027-03-31), on the owed-work helper (:mod:`gateway.owed`).

:meth:`MlsOutbox.intend` records that an MLS is owed for a received document (when the SBDH
names an ``MLS_TO``) in the intake's transaction, with the document and the message-id claim:
one commit (issue 17). After that commit the channel pays it with :meth:`MlsOutbox.answer`, in
the background so the sender's receipt does not wait: ``run(key, pay=...)`` under the
helper's lease, from the validation report the channel still holds (the hot path validates
nothing twice and reads nothing back). If the process dies in between, the recovery pass at
start or a sweep (:class:`gateway.owed.Sweeps`, every ``[as4] mls_sweep_interval``) pays the
row from the store instead: the stored document's status and validation report (parsed from
its JSON, not validated again). The outbound queue's idempotency key
(``mls:<sender>|<instance>``) makes a second payment a no-op, so an MLS is never queued twice.

A row settles ``queued`` (the MLS is in the outbound queue) or ``skipped`` (the SBDH asked for
none for this outcome). An MLS that could not be queued (it failed its own validation, the
queue refused it) raises, so the helper retries it with its backoff and gives it up as
``failed`` after ``max_attempts`` (before, such a row stayed ``pending`` and was retried every
sweep for ever). A pending row without a stored document, which only a version that wrote the
intent before the intake could leave, ends ``failed`` the same way (it used to be deleted
after 15 minutes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gateway.as4.models import As4InboundInstance, As4MlsOutbox
from gateway.as4.receiver import InboundMeta
from gateway.as4.sbdh import Sbdh
from gateway.owed import Outbox
from gateway.store import Database, Document
from gateway.validation import ValidationReport

log = logging.getLogger(__name__)

#: Intake outcomes that count as "accepted" for the MLS (a duplicate was still delivered).
ACCEPTED = frozenset({"received", "duplicate", "forwarded"})
#: How an owed MLS settles: queued to the sending AP, or not asked for.
QUEUED, SKIPPED = "queued", "skipped"


@dataclass(frozen=True)
class _Answer:
    """What an MLS answers: the received message's tenant, SBDH and outcome."""

    tenant: str
    header: Sbdh
    accepted: bool
    report: ValidationReport


class MlsNotQueued(Exception):
    """The responder could not queue the MLS (it said why in the log): paid again later."""


def instance_key(header: Sbdh) -> str:
    return f"{header.sender}|{header.instance_id}"


class MlsOutbox:
    def __init__(self, db: Database, responder: Any) -> None:
        self.db = db
        self.responder = responder
        self.owed: Outbox[As4MlsOutbox] = Outbox(
            db, As4MlsOutbox, self._pay_from_store, what="owed MLS", outcomes=_OUTCOMES
        )

    async def intend(self, session: Any, meta: InboundMeta, tenant: str) -> None:
        """Record the owed MLS in ``session`` (the intake's transaction)."""
        header = meta.sbdh
        if not header.mls_to:
            return
        key = instance_key(header)
        if await self.owed.on_record(session, key):  # a retry: the intent is on record
            return
        row = As4MlsOutbox(
            key=key,
            message_id=meta.message_id,
            tenant=tenant,
            sender=header.sender,
            instance_id=header.instance_id,
            mls_to=header.mls_to,
            mls_type=(header.mls_type or "")[:32],
        )
        self.owed.add(session, row)

    async def answer(
        self,
        tenant: str,
        header: Sbdh,
        accepted: bool,
        report: ValidationReport,
        after_queue: Callable[[], None] | None = None,
    ) -> bool:
        """Pay the owed MLS of ``header`` from ``report`` (after the intake's commit); False
        when another worker holds it or it is settled already (``after_queue`` runs between
        queueing and settling: the kill -9 test's crash point)."""

        async def pay(_row: As4MlsOutbox) -> str:
            return await self._queue(_Answer(tenant, header, accepted, report), after_queue)

        return await self.owed.run(instance_key(header), pay=pay)

    async def sweep(self, older_than: float = 60.0) -> int:
        """Pay every owed MLS older than ``older_than`` seconds whose lease ran out (the app's
        :class:`gateway.owed.Sweeps` does this; tests call it); returns how many were paid."""
        return await self.owed.sweep(older_than)

    async def _queue(self, owed: _Answer, after_queue: Callable[[], None] | None = None) -> str:
        if not self.responder.wanted(owed.header, owed.accepted):
            return SKIPPED
        document_id = await self.responder.answer_header(
            owed.tenant, owed.header, owed.accepted, owed.report
        )
        if document_id is None:
            raise MlsNotQueued(f"the MLS for {instance_key(owed.header)} was not queued")
        if after_queue is not None:
            after_queue()
        return QUEUED

    async def _pay_from_store(self, row: As4MlsOutbox) -> str:
        """The payer of the recovery pass and the sweeps: the stored document's outcome."""
        stored = await self._stored(row.key)
        if stored is None:
            raise LookupError(f"no stored document for the owed MLS {row.key}")
        status, report = stored
        header = Sbdh(
            sender=row.sender,
            receiver="",
            document_type_id="",
            process_id="",
            instance_id=row.instance_id,
            country_c1="",
            mls_to=row.mls_to,
            mls_type=row.mls_type or None,
        )
        log.info("MLS for %s was owed after a restart; queueing it now", row.key)
        return await self._queue(_Answer(row.tenant, header, status in ACCEPTED, report))

    async def _stored(self, key: str) -> tuple[str, ValidationReport] | None:
        """(status, validation report) of the document stored for this message."""
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(Document.status, Document.report)
                    .join(As4InboundInstance, As4InboundInstance.document_id == Document.id)
                    .where(As4InboundInstance.instance_key == key)
                )
            ).first()
        if row is None:
            return None
        return str(row.status), ValidationReport.from_dict(row.report or {"status": "unknown"})


_OUTCOMES = frozenset({QUEUED, SKIPPED})
