"""The database-backed queue: submit, claim with a lease, finish in batches, requeue.

Claiming is one short write transaction: pick due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent gateways skip each other's rows; on SQLite the store's
``BEGIN IMMEDIATE`` makes the transaction the single writer), then stamp them with our lease.
A worker that dies keeps nothing: its rows become claimable again when ``lease_until`` passes.
Finishing is batched (one transaction for many outcomes) because the database, not the
network, is what limits throughput on a small machine.

Beside it: :mod:`.items` (a new item), :mod:`.outcomes` (what an attempt's outcome means for
its item), :mod:`.reads` (the read-only queries this class inherits).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import OutboundSettings
from gateway.lifecycle import ADMIN, API, BulkMove, Cause, Lifecycle
from gateway.outbound.duplicates import DuplicateOutbound, original_of
from gateway.outbound.items import aware, new_item
from gateway.outbound.messages import OutboundMessage
from gateway.outbound.models import (
    CLAIMABLE,
    DELIVERED,
    FAILED,
    QUEUED,
    SENDING,
    OutboundAttempt,
    OutboundItem,
)
from gateway.outbound.outcomes import Outcome, attempt_row, next_state
from gateway.outbound.reads import QueueReads
from gateway.outbound.retry import RetryPolicy
from gateway.store import Database, Document, Wakeups, repo, utcnow

SOURCE = "outbound"
#: The PostgreSQL channel on which a commit that makes items due wakes the other processes.
CHANNEL = "gateway_outbound_due"


class NotRequeueable(Exception):
    def __init__(self, state: str) -> None:
        super().__init__(f"only failed items can be requeued; this one is {state}")
        self.state = state


class OutboundQueue(QueueReads):
    def __init__(
        self, db: Database, settings: OutboundSettings, lifecycle: Lifecycle | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.policy = RetryPolicy(settings)
        self.lifecycle = lifecycle or Lifecycle()
        self._listeners: list[Callable[[], None]] = []
        #: Other processes on the same PostgreSQL database: every commit that makes an item
        #: due notifies them (:meth:`announce`); the service runs the listener that wakes
        #: this process's subscribers for theirs (a no-op on SQLite).
        self.wakeups = Wakeups(db, CHANNEL)

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit that makes an item due (enqueue, requeue, a
        draft sent), in this process at once and, while :attr:`wakeups` listens, in another
        process on the same PostgreSQL database: the worker sleeps until then instead of
        polling (see :mod:`gateway.outbound.worker`)."""
        self._listeners.append(listener)
        self.wakeups.subscribe(listener)

    async def announce(self, session: AsyncSession) -> None:
        """In a transaction that makes items due: wake the other processes at its commit."""
        await self.wakeups.announce(session)

    def due_now(self) -> None:
        """Tell the listeners an item became due (callers that insert items themselves, e.g.
        a draft being sent, call it after their commit)."""
        for listener in self._listeners:
            listener()

    # --- submission -------------------------------------------------------------------------

    async def find_idempotent(self, tenant: str, key: str) -> OutboundItem | None:
        async with self.db.read() as s:
            return await s.scalar(
                select(OutboundItem).where(
                    OutboundItem.tenant == tenant, OutboundItem.idempotency_key == key
                )
            )

    async def enqueue(
        self,
        document: Document,
        *,
        receiver: str,
        sender: str = "",
        document_type: str = "",
        process: str = "",
        idempotency_key: str | None = None,
        actor: str | None = None,
        cause: Cause | None = None,
        claims: dict[str, str] | None = None,
        attachments: Sequence[Any] = (),
    ) -> tuple[OutboundItem, bool]:
        """Store ``document`` (status queued) and its queue item in one transaction.

        Returns ``(item, created)``; with an ``idempotency_key`` that was already used the
        existing item comes back with ``created=False`` and nothing new is stored. ``claims``
        (the duplicate guard's) are taken in the same transaction: when another original holds
        one, :class:`~gateway.outbound.duplicates.DuplicateOutbound` is raised.
        """
        assert document.tenant is not None
        document.direction = "outbound"
        self.lifecycle.begin(document, QUEUED)
        item = new_item(
            document.id,
            document.tenant,
            receiver=receiver,
            sender=sender,
            document_type=document_type,
            process=process,
            idempotency_key=idempotency_key,
        )
        try:
            async with self.db.write() as s:
                await repo.ensure_tenant(s, document.tenant)
                s.add(document)
                await s.flush()
                if claims:
                    repo.add_claims(s, document, claims)
                s.add(item)
                repo.add_attachments(s, document.id, attachments)
                why = cause or Cause("api", role=API, actor=actor, tenant=document.tenant)
                await self.lifecycle.started(s, document, why, reason=f"to {receiver}")
                await self.lifecycle.issued(s, document, why)
                await self.announce(s)
        except IntegrityError:
            if idempotency_key:
                existing = await self.find_idempotent(document.tenant, idempotency_key)
                if existing is not None:
                    return existing, False
            if claims:
                async with self.db.read() as s:
                    original = await original_of(s, document.tenant, claims)
                if original is not None:
                    raise DuplicateOutbound(original) from None
            raise
        self.due_now()
        return item, True

    # --- claiming ---------------------------------------------------------------------------

    async def claim(self, owner: str, limit: int) -> list[OutboundMessage]:
        """Lease up to ``limit`` due items, honouring the per-receiver concurrency limit."""
        if limit <= 0:
            return []
        now = utcnow()
        until = now + dt.timedelta(seconds=self.settings.lease_seconds)
        per_receiver = max(1, self.settings.per_receiver_concurrency)
        async with self.db.write(on_loop=True) as s:  # bounded: one batch's rows
            cand = (
                select(OutboundItem.document_id, OutboundItem.receiver, OutboundItem.state)
                .where(
                    OutboundItem.state.in_(CLAIMABLE),
                    OutboundItem.next_attempt_at <= now,
                    or_(OutboundItem.lease_until.is_(None), OutboundItem.lease_until < now),
                )
                .order_by(OutboundItem.next_attempt_at)
                .limit(limit * 4)
            )
            if not self.db.is_sqlite:
                cand = cand.with_for_update(skip_locked=True)
            rows = (await s.execute(cand)).all()
            if not rows:
                return []
            busy = Counter(
                dict(
                    (
                        await s.execute(
                            select(OutboundItem.receiver, func.count())
                            .where(
                                OutboundItem.state == SENDING,
                                OutboundItem.lease_until >= now,
                                OutboundItem.receiver.in_({r.receiver for r in rows}),
                            )
                            .group_by(OutboundItem.receiver)
                        )
                    ).all()
                )
            )
            picked: dict[str, str] = {}
            for row in rows:
                if busy[row.receiver] < per_receiver:
                    busy[row.receiver] += 1
                    picked[row.document_id] = row.state
                    if len(picked) >= limit:
                        break
            if not picked:
                return []
            ids = list(picked)
            claimed = (
                await s.execute(
                    update(OutboundItem)
                    .where(OutboundItem.document_id.in_(ids))
                    .values(
                        state=SENDING,
                        lease_owner=owner,
                        lease_until=until,
                        attempts=OutboundItem.attempts + 1,
                        total_attempts=OutboundItem.total_attempts + 1,
                    )
                    .returning(
                        OutboundItem.document_id,
                        OutboundItem.message_id,
                        OutboundItem.sender,
                        OutboundItem.receiver,
                        OutboundItem.document_type,
                        OutboundItem.process,
                        OutboundItem.total_attempts,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
            raw = {
                doc_id: data
                for doc_id, data in await s.execute(
                    select(Document.id, Document.raw).where(Document.id.in_(ids))
                )
            }
            await self._set_status(
                s,
                [
                    (
                        r.document_id,
                        picked[r.document_id],
                        SENDING,
                        f"attempt {r.total_attempts}"
                        + (
                            " (lease of a stopped worker expired)"
                            if picked[r.document_id] == SENDING
                            else ""
                        ),
                    )
                    for r in claimed
                ],
                now,
            )
        return [
            OutboundMessage(
                id=r.document_id,
                message_id=r.message_id,
                payload=raw[r.document_id],
                sender=r.sender,
                receiver=r.receiver,
                document_type=r.document_type,
                process=r.process,
                attempt=r.total_attempts,
            )
            for r in claimed
        ]

    async def _set_status(
        self,
        s: AsyncSession,
        changes: Sequence[tuple[str, str | None, str, str | None]],
        now: dt.datetime,
        cause: Cause | None = None,
    ) -> None:
        """Ask the lifecycle to move documents along with their items: (id, from, to, reason).

        Compare-and-set: a document someone else moved meanwhile (e.g. an MLS that arrived
        while the receipt was being written) keeps its status."""
        moves = [BulkMove(d, f or QUEUED, t, r) for d, f, t, r in changes]
        await self.lifecycle.move_many(s, moves, cause or Cause(SOURCE))

    # --- finishing --------------------------------------------------------------------------

    async def finish(self, outcomes: Sequence[Outcome]) -> None:
        """Write the outcomes of many attempts in one transaction."""
        if not outcomes:
            return
        now = utcnow()
        async with self.db.write(on_loop=True) as s:  # bounded: one batch's rows
            attempts: list[dict[str, Any]] = []
            changes: list[tuple[str, str | None, str, str | None]] = []
            ids = [o.message.id for o in outcomes]
            info = {
                r.document_id: r
                for r in (
                    await s.execute(
                        select(
                            OutboundItem.document_id,
                            OutboundItem.attempts,
                            OutboundItem.queued_at,
                            OutboundItem.lease_owner,
                        ).where(OutboundItem.document_id.in_(ids))
                    )
                ).all()
            }
            for o in outcomes:
                row = info.get(o.message.id)
                attempts.append(attempt_row(o))
                if row is None or row.lease_owner != o.owner:
                    continue  # lease lost to another worker: it owns the item now
                values, reason = next_state(self.policy, o, row.attempts, aware(row.queued_at), now)
                await s.execute(
                    update(OutboundItem)
                    .where(
                        OutboundItem.document_id == o.message.id,
                        OutboundItem.lease_owner == o.owner,
                    )
                    .values(lease_owner=None, lease_until=None, **values)
                    .execution_options(synchronize_session=False)
                )
                changes.append((o.message.id, SENDING, values["state"], reason))
            await s.execute(insert(OutboundAttempt), attempts)
            if changes:
                await self._set_status(s, changes, now)

    # --- administration ---------------------------------------------------------------------

    async def requeue(
        self, document_id: str, actor: str | None = None, cause: Cause | None = None
    ) -> OutboundItem:
        """Put a failed item back in the queue with a fresh attempt budget and age."""
        now = utcnow()
        async with self.db.write() as s:
            stmt = select(OutboundItem).where(OutboundItem.document_id == document_id)
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update()
            item = await s.scalar(stmt)
            if item is None:
                raise LookupError(f"no outbound item {document_id}")
            if item.state != FAILED:
                raise NotRequeueable(item.state)
            item.state = QUEUED
            item.attempts = 0
            item.next_attempt_at = now
            item.queued_at = now
            item.lease_owner = item.lease_until = None
            await self._set_status(
                s,
                [(document_id, FAILED, QUEUED, "requeued by admin")],
                now,
                cause or Cause("admin", role=ADMIN, actor=actor),
            )
            await self.announce(s)
        self.due_now()
        return item

    async def bounce(self, message_id: str, reason: str) -> str | None:
        """A bounce (e-mail DSN) for the mail sent as ``message_id``: a delivered item fails.

        Returns the document id when the message id is ours (None otherwise). Only a
        ``delivered`` item moves: a bounce about an item that is already failed, or that the
        receiver has since answered (MLS, Invoice Response), changes nothing.
        """
        now = utcnow()
        async with self.db.write() as s:
            item = await s.scalar(
                select(OutboundItem).where(OutboundItem.message_id == message_id.strip("<> "))
            )
            if item is None:
                return None
            status = await s.scalar(select(Document.status).where(Document.id == item.document_id))
            if item.state != DELIVERED or status != DELIVERED:
                return item.document_id
            item.state = FAILED
            item.last_error = reason
            item.last_error_code = "email-bounce"
            await self._set_status(
                s, [(item.document_id, DELIVERED, FAILED, reason)], now, Cause("email-dsn")
            )
        return item.document_id
