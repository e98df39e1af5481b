"""The database-backed queue: submit, claim with a lease, finish in batches, requeue.

Claiming is one short write transaction: pick due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent gateways skip each other's rows; on SQLite the store's
``BEGIN IMMEDIATE`` makes the transaction the single writer), then stamp them with our lease.
A worker that dies keeps nothing: its rows become claimable again when ``lease_until`` passes.
Finishing is batched (one transaction for many outcomes) because the database, not the
network, is what limits throughput on a small machine.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import OutboundSettings
from gateway.lifecycle import ADMIN, API, BulkMove, Cause, Lifecycle
from gateway.outbound.duplicates import DuplicateOutbound, original_of
from gateway.outbound.errors import DeliveryError, PermanentError
from gateway.outbound.messages import DeliveryResult, Endpoint, OutboundMessage
from gateway.outbound.models import (
    CLAIMABLE,
    DELIVERED,
    FAILED,
    QUEUED,
    RETRYING,
    SENDING,
    STATES,
    OutboundAttempt,
    OutboundItem,
)
from gateway.outbound.retry import RetryPolicy
from gateway.store import Database, Document, repo, utcnow

SOURCE = "outbound"


def aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive; everything here is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def new_message_id() -> str:
    return f"{uuid.uuid4()}@einvoice-gateway"


def new_item(
    document_id: str,
    tenant: str,
    *,
    receiver: str,
    sender: str = "",
    document_type: str = "",
    process: str = "",
    idempotency_key: str | None = None,
) -> OutboundItem:
    """A queue item due now (for a new document, or a draft being sent)."""
    now = utcnow()
    return OutboundItem(
        document_id=document_id,
        tenant=tenant,
        message_id=new_message_id(),
        idempotency_key=idempotency_key,
        sender=sender,
        receiver=receiver,
        document_type=document_type,
        process=process,
        state=QUEUED,
        attempts=0,
        total_attempts=0,
        next_attempt_at=now,
        queued_at=now,
        created_at=now,
    )


class NotRequeueable(Exception):
    def __init__(self, state: str) -> None:
        super().__init__(f"only failed items can be requeued; this one is {state}")
        self.state = state


@dataclass
class Outcome:
    """The result of one attempt, waiting to be written by :meth:`OutboundQueue.finish`."""

    message: OutboundMessage
    owner: str
    started_at: dt.datetime
    duration_ms: float
    endpoint: Endpoint | None = None
    result: DeliveryResult | None = None
    error: DeliveryError | None = None


@dataclass
class QueueStats:
    depth: dict[str, int] = field(default_factory=dict)
    #: Age in seconds of the oldest item still waiting for delivery (queued/retrying/sending).
    oldest_pending_age: float = 0.0
    #: Age of the oldest item that is due now but not yet claimed (back-pressure signal).
    oldest_due_age: float = 0.0


class OutboundQueue:
    def __init__(
        self, db: Database, settings: OutboundSettings, lifecycle: Lifecycle | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.policy = RetryPolicy(settings)
        self.lifecycle = lifecycle or Lifecycle()
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit that makes an item due (enqueue, requeue): the
        worker sleeps until then instead of polling (see :mod:`gateway.outbound.worker`)."""
        self._listeners.append(listener)

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
        async with self.db.write() as s:
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
        async with self.db.write() as s:
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
                attempts.append(self._attempt_row(o))
                if row is None or row.lease_owner != o.owner:
                    continue  # lease lost to another worker: it owns the item now
                values, reason = self._next_state(o, row.attempts, aware(row.queued_at), now)
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

    def _attempt_row(self, o: Outcome) -> dict[str, Any]:
        err = o.error
        outcome = (
            "delivered"
            if err is None
            else ("permanent" if isinstance(err, PermanentError) else "transient")
        )
        return {
            "document_id": o.message.id,
            "number": o.message.attempt,
            "worker": o.owner,
            "started_at": o.started_at,
            "duration_ms": o.duration_ms,
            "endpoint": o.endpoint.url if o.endpoint else None,
            "transport": o.endpoint.transport if o.endpoint else None,
            "outcome": outcome,
            "status_code": o.result.status if o.result else _status_of(err),
            "error_code": err.code if err else None,
            "error": err.message if err else None,
        }

    def _next_state(
        self, o: Outcome, attempts: int, queued_at: dt.datetime, now: dt.datetime
    ) -> tuple[dict[str, Any], str]:
        endpoint = o.endpoint.describe() if o.endpoint else None
        if o.error is None:
            return (
                {
                    "state": DELIVERED,
                    "delivered_at": now,
                    "endpoint": endpoint,
                    "last_error": None,
                    "last_error_code": None,
                },
                f"delivered to {endpoint}",
            )
        decision = self.policy.decide(o.error, attempts, queued_at, now)
        common = {
            "endpoint": endpoint,
            "last_error": decision.reason,
            "last_error_code": o.error.code,
        }
        if decision.retry:
            assert decision.next_attempt_at is not None
            when = decision.next_attempt_at.isoformat(timespec="seconds")
            return (
                {"state": RETRYING, "next_attempt_at": decision.next_attempt_at, **common},
                f"next attempt at {when}: {decision.reason}",
            )
        return {"state": FAILED, **common}, decision.reason

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

    async def get(
        self, document_id: str, tenant: str | None = None
    ) -> tuple[OutboundItem, list[OutboundAttempt]] | None:
        async with self.db.read() as s:
            stmt = select(OutboundItem).where(OutboundItem.document_id == document_id)
            if tenant is not None:
                stmt = stmt.where(OutboundItem.tenant == tenant)
            item = await s.scalar(stmt)
            if item is None:
                return None
            attempts = await s.scalars(
                select(OutboundAttempt)
                .where(OutboundAttempt.document_id == document_id)
                .order_by(OutboundAttempt.seq)
            )
            return item, list(attempts)

    async def next_due(self) -> dt.datetime | None:
        """When the earliest waiting item (queued or retrying) is due; None when none waits.
        One ``ix_outbound_due`` lookup: an idle worker asks it to sleep until then."""
        async with self.db.read() as s:
            when = await s.scalar(
                select(func.min(OutboundItem.next_attempt_at)).where(
                    OutboundItem.state.in_((QUEUED, RETRYING))
                )
            )
        return aware(when) if when else None

    async def oldest_due_age(self) -> float:
        """Seconds the oldest due item has waited for a worker (one ``ix_outbound_due``
        lookup: cheap enough for every ``/health`` probe)."""
        now = utcnow()
        async with self.db.read() as s:
            oldest_due = await s.scalar(
                select(func.min(OutboundItem.next_attempt_at)).where(
                    OutboundItem.state.in_((QUEUED, RETRYING)),
                    OutboundItem.next_attempt_at <= now,
                )
            )
        return (now - aware(oldest_due)).total_seconds() if oldest_due else 0.0

    async def list_items(
        self,
        tenant: str | None,
        *,
        state: str | None = None,
        receiver: str | None = None,
        after_seq: int = 0,
        limit: int = 50,
    ) -> list[tuple[int, OutboundItem]]:
        """(document seq, item) pages in submission order; the document's seq is the cursor."""
        stmt = (
            select(Document.seq, OutboundItem)
            .join(Document, Document.id == OutboundItem.document_id)
            .where(Document.seq > after_seq)
        )
        if tenant is not None:
            stmt = stmt.where(OutboundItem.tenant == tenant)
        if state:
            stmt = stmt.where(OutboundItem.state == state)
        if receiver:
            stmt = stmt.where(OutboundItem.receiver == receiver)
        async with self.db.read() as s:
            rows = await s.execute(stmt.order_by(Document.seq).limit(limit))
            return [(seq, item) for seq, item in rows.all()]

    async def stats(self) -> QueueStats:
        now = utcnow()
        async with self.db.read() as s:
            depth = dict.fromkeys(STATES, 0)
            for state, count in (
                await s.execute(
                    select(OutboundItem.state, func.count()).group_by(OutboundItem.state)
                )
            ).all():
                depth[state] = count
            pending = (QUEUED, RETRYING, SENDING)
            oldest = await s.scalar(
                select(func.min(OutboundItem.queued_at)).where(OutboundItem.state.in_(pending))
            )
            oldest_due = await s.scalar(
                select(func.min(OutboundItem.next_attempt_at)).where(
                    OutboundItem.state.in_((QUEUED, RETRYING)),
                    OutboundItem.next_attempt_at <= now,
                )
            )
        return QueueStats(
            depth=depth,
            oldest_pending_age=(now - aware(oldest)).total_seconds() if oldest else 0.0,
            oldest_due_age=(now - aware(oldest_due)).total_seconds() if oldest_due else 0.0,
        )


def _status_of(err: DeliveryError | None) -> int | None:
    if err is None or not err.code.startswith("http-"):
        return None
    try:
        return int(err.code[5:])
    except ValueError:
        return None
