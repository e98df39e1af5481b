"""The one function that moves a document: check the model, write the status and its history
row, tell the listeners, queue the webhook event, count the metric.

Everything happens inside the caller's transaction (nothing here commits), so a move, its
history row and its webhook event become durable together or not at all. Listeners run in the
same transaction too (e.g. Invoice Responses follow the outbound item of a sent response).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle.model import Models, StatusModel
from gateway.lifecycle.vocabulary import SYSTEM
from gateway.store.models import Document, StatusChange, utcnow


@dataclass(frozen=True)
class Cause:
    """Who or what asks for a move, as the history row will name it.

    ``source`` is the history's "from what" (api, admin, outbound, webhook, inbox, mls,
    invoice-response, timer, ...), ``role`` what the model checks (system, api, admin,
    counterpart), ``tenant`` and ``key_id`` the tenant and API key that caused it (not
    necessarily the document's tenant), ``actor`` a name shown to people.
    """

    source: str
    role: str = SYSTEM
    actor: str | None = None
    tenant: str | None = None
    key_id: str | None = None


@dataclass(frozen=True)
class Moved:
    """One committed-with-the-transaction move, as listeners and the event sink see it."""

    document_id: str
    tenant: str | None
    direction: str
    kind: str | None
    previous: str | None
    status: str
    cause: Cause
    reason: str | None


@dataclass(frozen=True)
class BulkMove:
    """One move of :meth:`Lifecycle.move_many`: made only if the document is still ``expect``."""

    document_id: str
    expect: str
    to: str
    reason: str | None = None


class EventSink(Protocol):
    """Queues a webhook event in the caller's transaction (gateway.forwarding implements it)."""

    async def emit(
        self, session: AsyncSession, *, document_id: str, tenant: str, event: str, data: Any
    ) -> None: ...


class MoveObserver(Protocol):
    def moved(self, direction: str, status: str, source: str) -> None: ...


MoveListener = Callable[[AsyncSession, Moved], Awaitable[None]]
_KEEP: Any = object()


class Lifecycle:
    """The status models of one app and the only code that writes ``documents.status``."""

    def __init__(
        self,
        models: Models | None = None,
        *,
        events: EventSink | None = None,
        observer: MoveObserver | None = None,
    ) -> None:
        self.models = models or Models.load()
        self.events = events
        self.observer = observer
        self._listeners: list[MoveListener] = []

    def attach(
        self, *, events: EventSink | None = None, observer: MoveObserver | None = None
    ) -> None:
        """Plug in the webhook event sink and the metrics observer (done by the app factory)."""
        if events is not None:
            self.events = events
        if observer is not None:
            self.observer = observer

    def on_move(self, listener: MoveListener) -> None:
        """Call ``listener(session, moved)`` inside the transaction of every move."""
        self._listeners.append(listener)

    def model(self, direction: str, kind: str | None = None) -> StatusModel:
        return self.models.get(direction, kind)

    def model_of(self, doc: Document) -> StatusModel:
        return self.models.get(doc.direction, doc.kind)

    # --- a new document ------------------------------------------------------------------------

    def begin(self, doc: Document, status: str, reason: str | None = None) -> None:
        """Give a record that is being built its first status (before it is inserted)."""
        model = self.model_of(doc)
        if status not in model.statuses:
            raise ValueError(f"{status!r} is not a status of {model.id} documents")
        doc.status = status
        doc.status_reason = reason

    async def started(
        self, session: AsyncSession, doc: Document, cause: Cause, reason: str | None = None
    ) -> StatusChange:
        """The first history row of a document just inserted (and its initial event, e.g.
        ``document.duplicate``; a new original's ``document.received`` is the forwarder's)."""
        change = self._change(doc.id, None, doc.status, cause, reason or doc.status_reason)
        session.add(change)
        event = self.model_of(doc).initial_events.get(doc.status)
        if event is not None and self.events is not None and doc.tenant is not None:
            await self.events.emit(
                session,
                document_id=doc.id,
                tenant=doc.tenant,
                event=event,
                data={"status": doc.status, "reason": doc.status_reason, "source": cause.source},
            )
        self._observe(doc.direction, doc.status, cause.source)
        return change

    # --- moves -------------------------------------------------------------------------------

    async def move(
        self,
        session: AsyncSession,
        doc: Document,
        to: str,
        cause: Cause,
        *,
        reason: str | None = None,
        status_reason: str | None = _KEEP,
    ) -> StatusChange:
        """Move ``doc`` to ``to`` if the model lets ``cause.role`` do it; raises
        :class:`~gateway.lifecycle.model.IllegalTransition` (changing nothing) otherwise."""
        self.model_of(doc).check(doc.status, to, cause.role)
        previous = doc.status
        change = self._change(doc.id, previous, to, cause, reason)
        doc.status = to
        doc.updated_at = change.at
        if status_reason is not _KEEP:
            doc.status_reason = status_reason
        session.add(change)
        await self._after(
            session,
            Moved(doc.id, doc.tenant, doc.direction, doc.kind, previous, to, cause, reason),
        )
        return change

    async def note(
        self, session: AsyncSession, doc: Document, cause: Cause, reason: str
    ) -> StatusChange:
        """A history row that changes nothing (e.g. a conflicting Invoice Response)."""
        change = self._change(doc.id, doc.status, doc.status, cause, reason)
        session.add(change)
        return change

    async def move_many(
        self, session: AsyncSession, moves: Sequence[BulkMove], cause: Cause
    ) -> list[str]:
        """Move many documents at once (the outbound queue's batches); returns the moved ids.

        Compare-and-set: a document that is no longer in ``expect`` (someone else moved it) is
        left alone. One SELECT, one UPDATE per (from, to) pair and one INSERT per batch.
        """
        if not moves:
            return []
        rows = {
            r.id: r
            for r in (
                await session.execute(
                    select(Document.id, Document.tenant, Document.direction, Document.kind).where(
                        Document.id.in_([m.document_id for m in moves])
                    )
                )
            ).all()
        }
        now = utcnow()
        groups: dict[tuple[str, str], list[BulkMove]] = {}
        for m in moves:
            row = rows.get(m.document_id)
            if row is None:
                continue
            self.models.get(row.direction, row.kind).check(m.expect, m.to, cause.role)
            groups.setdefault((m.expect, m.to), []).append(m)
        moved: list[BulkMove] = []
        for (expect, to), group in groups.items():
            done = set(
                await session.scalars(
                    update(Document)
                    .where(
                        Document.id.in_([m.document_id for m in group]),
                        Document.status == expect,
                    )
                    .values(status=to, updated_at=now)
                    .returning(Document.id)
                    .execution_options(synchronize_session=False)
                )
            )
            moved += [m for m in group if m.document_id in done]
        if not moved:
            return []
        await session.execute(
            insert(StatusChange),
            [
                {
                    "document_id": m.document_id,
                    "from_status": m.expect,
                    "to_status": m.to,
                    "source": cause.source,
                    "actor": cause.actor,
                    "tenant": cause.tenant,
                    "key_id": cause.key_id,
                    "reason": m.reason,
                    "at": now,
                }
                for m in moved
            ],
        )
        for m in moved:
            row = rows[m.document_id]
            await self._after(
                session,
                Moved(
                    m.document_id,
                    row.tenant,
                    row.direction,
                    row.kind,
                    m.expect,
                    m.to,
                    cause,
                    m.reason,
                ),
            )
        return [m.document_id for m in moved]

    # --- internals ------------------------------------------------------------------------------

    @staticmethod
    def _change(
        doc_id: str, previous: str | None, to: str, cause: Cause, reason: str | None
    ) -> StatusChange:
        return StatusChange(
            document_id=doc_id,
            from_status=previous,
            to_status=to,
            source=cause.source,
            actor=cause.actor,
            tenant=cause.tenant,
            key_id=cause.key_id,
            reason=reason,
            at=utcnow(),
        )

    async def _after(self, session: AsyncSession, moved: Moved) -> None:
        for listener in self._listeners:
            await listener(session, moved)
        model = self.models.get(moved.direction, moved.kind)
        event = model.event_for(moved.status)
        if event is not None and self.events is not None and moved.tenant is not None:
            await self.events.emit(
                session,
                document_id=moved.document_id,
                tenant=moved.tenant,
                event=event,
                data=event_data(moved),
            )
        self._observe(moved.direction, moved.status, moved.cause.source)

    def _observe(self, direction: str, status: str, source: str) -> None:
        if self.observer is not None:
            self.observer.moved(direction, status, source)


def event_data(moved: Moved) -> dict[str, Any]:
    """The ``change`` part of a ``document.status_changed`` (or outbound.*) webhook event."""
    return {
        "from": moved.previous,
        "to": moved.status,
        "canonical_from": moved.previous,
        "canonical_to": moved.status,
        "source": moved.cause.source,
        "actor": moved.cause.actor,
        "tenant": moved.cause.tenant,
        "key_id": moved.cause.key_id,
        "reason": moved.reason,
    }
