"""The MLS we owe, kept in the database so a crash cannot lose it (issue 17, MLS mandatory
from 2027-03-31).

:meth:`MlsOutbox.intend` records that an MLS is owed for a received document (when the SBDH
names an ``MLS_TO``) in the intake's transaction, with the document and the message-id claim:
one commit (issue 17). After that commit the channel builds and queues the MLS (background, so
the sender's receipt does not wait) and :meth:`settle` marks the row. If the process dies in
between, :meth:`sweep` - run periodically by the app - finds the ``pending`` row, reads the
stored document and its validation result, and queues the MLS then; the outbound queue's
idempotency key (``mls:<sender>|<instance>``) makes a second attempt a no-op, so an MLS is
never queued twice. (A pending row without a stored document can only be left by a version
that wrote the intent before the intake; it is dropped after ``forget_after``.)
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update

from gateway.as4.models import As4InboundInstance, As4MlsOutbox
from gateway.as4.receiver import InboundMeta
from gateway.as4.sbdh import Sbdh
from gateway.store import Database, Document, utcnow

log = logging.getLogger(__name__)

#: Intake outcomes that count as "accepted" for the MLS (a duplicate was still delivered).
ACCEPTED = frozenset({"received", "duplicate", "forwarded"})


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class MlsOutbox:
    def __init__(self, db: Database, responder: Any, validator: Any) -> None:
        self.db = db
        self.responder = responder
        self._validator = validator

    async def intend(self, session: Any, meta: InboundMeta, tenant: str) -> None:
        """Record the owed MLS in ``session`` (the intake's transaction)."""
        header = meta.sbdh
        if not header.mls_to:
            return
        values = {
            "instance_key": f"{header.sender}|{header.instance_id}",
            "message_id": meta.message_id,
            "tenant": tenant,
            "sender": header.sender,
            "instance_id": header.instance_id,
            "mls_to": header.mls_to,
            "mls_type": (header.mls_type or "")[:32],
            "state": "pending",
            "created_at": utcnow(),
        }
        key = values["instance_key"]
        if await session.get(As4MlsOutbox, key) is None:  # a retry: the intent is on record
            session.add(As4MlsOutbox(**values))

    async def settle(self, instance_key: str, state: str) -> None:
        async with self.db.write() as s:
            await s.execute(
                update(As4MlsOutbox)
                .where(As4MlsOutbox.instance_key == instance_key, As4MlsOutbox.state == "pending")
                .values(state=state, settled_at=utcnow())
            )

    async def answer(
        self,
        tenant: str,
        header: Sbdh,
        accepted: bool,
        report: Any,
        after_queue: Callable[[], None] | None = None,
    ) -> str | None:
        """Queue the MLS ``header`` asks for (if any) and settle the outbox row
        (``after_queue`` runs in between: the kill -9 test's crash point)."""
        key = f"{header.sender}|{header.instance_id}"
        if not self.responder.wanted(header, accepted):
            await self.settle(key, "skipped")
            return None
        document_id = await self.responder.answer_header(tenant, header, accepted, report)
        if after_queue is not None:
            after_queue()
        if document_id is not None:
            await self.settle(key, "queued")
        return document_id

    async def sweep(self, older_than: float = 60.0, forget_after: float = 900.0) -> list[str]:
        """Queue every owed MLS whose intent is older than ``older_than`` seconds."""
        now = utcnow()
        async with self.db.read() as s:
            rows = list(
                await s.scalars(
                    select(As4MlsOutbox)
                    .where(
                        As4MlsOutbox.state == "pending",
                        As4MlsOutbox.created_at <= now - dt.timedelta(seconds=older_than),
                    )
                    .order_by(As4MlsOutbox.created_at)
                    .limit(100)
                )
            )
        done = []
        for row in rows:
            document = await self._stored(row.instance_key)
            if document is None:
                if now - _aware(row.created_at) > dt.timedelta(seconds=forget_after):
                    async with self.db.write() as s:
                        await s.execute(
                            delete(As4MlsOutbox).where(
                                As4MlsOutbox.instance_key == row.instance_key,
                                As4MlsOutbox.state == "pending",
                            )
                        )
                continue
            raw, status = document
            report = await self._validator().validate(raw)
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
            log.info("MLS for %s was owed after a restart; queueing it now", row.instance_key)
            doc_id = await self.answer(row.tenant, header, status in ACCEPTED, report)
            if doc_id is not None:
                done.append(doc_id)
        return done

    async def _stored(self, instance_key: str) -> tuple[bytes, str] | None:
        """(raw, status) of the document stored for this message, once its receipt is on record."""
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(Document.raw, Document.status)
                    .join(As4InboundInstance, As4InboundInstance.document_id == Document.id)
                    .where(As4InboundInstance.instance_key == instance_key)
                )
            ).first()
        return (bytes(row.raw), str(row.status)) if row is not None else None
