"""The one function that moves a document: check the model, write the status and its history
row, tell the listeners, queue the webhook event, count the metric.

Everything happens inside the caller's transaction (nothing here commits), so a move, its
history row and its webhook event become durable together or not at all. Listeners run in the
same transaction too (e.g. Invoice Responses follow the outbound item of a sent response).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lifecycle import credits, overdue
from gateway.lifecycle.cause import BulkMove, Cause, Moved
from gateway.lifecycle.model import Models
from gateway.lifecycle.payments import counterpart_paid
from gateway.lifecycle.profile import (
    DEFAULT,
    DirectionProfile,
    Profile,
    ResponseRule,
    load_profiles,
)
from gateway.lifecycle.tenants import SettingRead, SettingWrite, TenantProfiles
from gateway.store import Document, StatusChange, insert_few, insert_rows, utcnow


class EventSink(Protocol):
    """Queues a webhook event in the caller's transaction (gateway.forwarding implements it)."""

    async def emit(
        self, session: AsyncSession, *, document_id: str, tenant: str, event: str, data: Any
    ) -> None: ...


class MoveObserver(Protocol):
    def moved(self, direction: str, status: str, source: str) -> None: ...


MoveListener = Callable[[AsyncSession, Moved], Awaitable[None]]
StartListener = Callable[[AsyncSession, Document], Awaitable[None]]
_KEEP: Any = object()


class Lifecycle(TenantProfiles):
    """The status models of one app and the only code that writes ``documents.status`` (what
    a tenant sees of them, its profiles and settings: :class:`~gateway.lifecycle.tenants.TenantProfiles`)."""

    def __init__(
        self,
        models: Models | None = None,
        *,
        events: EventSink | None = None,
        observer: MoveObserver | None = None,
        profiles_dir: str | None = None,
    ) -> None:
        self.models = models or Models.load()
        self.profiles: dict[str, Profile] = load_profiles(self.models, profiles_dir)
        self.events = events
        self.observer = observer
        self._listeners: list[MoveListener] = [counterpart_paid, self._after_payment]
        self._start_listeners: list[StartListener] = []
        self._touch_listeners: list[StartListener] = []
        #: Tenant settings other packages keep (e.g. responses' ``email_trust``): name ->
        #: (read(session, tenant), write(session, tenant, value) raising ValueError).
        self.extra_settings: dict[str, tuple[SettingRead, SettingWrite]] = {}
        #: What a profile without its own ``[[inbound.responses]]`` table sends.
        self.default_responses: dict[str, ResponseRule] = (
            self.profiles[DEFAULT].inbound.responses or {}
        )
        #: Tell tenants when sales invoices become overdue (the opt-in ``overdue_timer``).
        self.overdue_notices = False

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

    def on_start(self, listener: StartListener) -> None:
        """Call ``listener(session, doc)`` inside the transaction that stores a new document
        (after its first history row; e.g. Invoice Responses mark a response to be judged, so a
        crash before judging it loses nothing)."""
        self._start_listeners.append(listener)

    def on_touch(self, listener: StartListener) -> None:
        """Call ``listener(session, doc)`` inside the transaction of every :meth:`touch`."""
        self._touch_listeners.append(listener)

    async def touch(self, session: AsyncSession, doc: Document) -> None:
        """``doc`` changed without a status move (e.g. a received lifecycle message decided
        after it was stored): its ``updated_at`` moves, so clients polling by update time see
        it, and the touch listeners run in the caller's transaction (e.g. a webhook event)."""
        doc.updated_at = utcnow()
        for listener in self._touch_listeners:
            await listener(session, doc)

    async def _after_payment(self, session: AsyncSession, moved: Moved) -> None:
        await overdue.after_payment(self, session, moved)

    @staticmethod
    def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
        """Run ``callback()`` once the session's transaction has committed (a listener uses it
        to start work that must see the move, e.g. applying responses that waited for it)."""
        event.listen(session.sync_session, "after_commit", lambda _s: callback(), once=True)

    async def announce(
        self, session: AsyncSession, *, document_id: str, tenant: str | None, event: str, data: Any
    ) -> None:
        """Queue a webhook event that is not a move (e.g. ``response.unmatched``)."""
        if self.events is not None and tenant is not None:
            await self.events.emit(
                session, document_id=document_id, tenant=tenant, event=event, data=data
            )

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
        await self._after_start(session, doc, cause)
        return change

    async def _after_start(self, session: AsyncSession, doc: Document, cause: Cause) -> None:
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
        for listener in self._start_listeners:
            await listener(session, doc)

    async def started_many(
        self, session: AsyncSession, docs: Sequence[Document], causes: Sequence[Cause]
    ) -> None:
        """:meth:`started` for the documents of one group commit: their first history rows in
        one statement (:func:`gateway.store.insert_few`; the ORM inserted them one by one on
        SQLite, a driver hop each), then each document's initial event and start listeners
        in order, as :meth:`started` runs them (the rows are in the database by then)."""
        await insert_few(
            session,
            StatusChange,
            [
                self._change_values(doc.id, None, doc.status, cause, doc.status_reason)
                for doc, cause in zip(docs, causes, strict=True)
            ],
        )
        for doc, cause in zip(docs, causes, strict=True):
            await self._after_start(session, doc, cause)

    async def insert_started(
        self, session: AsyncSession, records: Sequence[dict[str, Any]], causes: Sequence[Cause]
    ) -> None:
        """:meth:`begin` + insert + :meth:`started` for records stored in bulk
        (``gateway.inbound.fill``): checks each record's first status (``status``,
        ``status_reason``, as the record builder wrote them), inserts the records, then their
        first history rows, each in one go.

        Only for records :meth:`started` would do nothing more for (no initial event queued,
        no start listener): a store filled this way is the one the intake would have built.
        """
        rows = []
        for record, cause in zip(records, causes, strict=True):
            model = self.models.get(record["direction"], record["kind"])
            status = record["status"]
            if status not in model.statuses:
                raise ValueError(f"{status!r} is not a status of {model.id} documents")
            if self._start_listeners or (
                self.events is not None and status in model.initial_events
            ):
                raise ValueError(f"a {status!r} document needs the intake, not a bulk insert")
            rows.append(
                self._change_values(record["id"], None, status, cause, record["status_reason"])
            )
        await insert_rows(session, Document, records)
        await insert_rows(session, StatusChange, rows)
        for record, cause in zip(records, causes, strict=True):
            self._observe(record["direction"], record["status"], cause.source)

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
        await self._check(session, doc, to, cause.role)
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

    async def issued(
        self, session: AsyncSession, doc: Document, cause: Cause | None = None
    ) -> None:
        """A sales document was queued for sending (new, or a draft sent): a credit note
        among them is linked to the invoices it references, which move as the profile says;
        an invoice already past its due date is overdue at once (:mod:`.overdue`)."""
        if doc.direction == "outbound" and doc.kind == "CreditNote":
            await credits.link(self, session, doc)
        if doc.direction == "outbound" and doc.due_date:
            await overdue.on_issued(self, session, doc, cause or Cause("outbound"))

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
        return StatusChange(**Lifecycle._change_values(doc_id, previous, to, cause, reason))

    @staticmethod
    def _change_values(
        doc_id: str, previous: str | None, to: str, cause: Cause, reason: str | None
    ) -> dict[str, Any]:
        return {
            "document_id": doc_id,
            "from_status": previous,
            "to_status": to,
            "source": cause.source,
            "actor": cause.actor,
            "tenant": cause.tenant,
            "key_id": cause.key_id,
            "reason": reason,
            "at": utcnow(),
        }

    async def _after(self, session: AsyncSession, moved: Moved) -> None:
        for listener in self._listeners:
            await listener(session, moved)
        model = self.models.get(moved.direction, moved.kind)
        event = model.event_for(moved.status)
        if event is not None and self.events is not None and moved.tenant is not None:
            prof = await self.profile(session, moved.tenant, moved.direction)
            await self.events.emit(
                session,
                document_id=moved.document_id,
                tenant=moved.tenant,
                event=event,
                data=event_data(moved, prof),
            )
        self._observe(moved.direction, moved.status, moved.cause.source)

    def _observe(self, direction: str, status: str, source: str) -> None:
        if self.observer is not None:
            self.observer.moved(direction, status, source)


def event_data(moved: Moved, profile: DirectionProfile | None = None) -> dict[str, Any]:
    """The ``change`` part of a ``document.status_changed`` (or outbound.*) webhook event:
    ``from``/``to`` in the tenant's vocabulary, ``canonical_from``/``canonical_to``."""
    prof = profile or DirectionProfile()
    return {
        "from": prof.name_of(moved.previous) if moved.previous else None,
        "to": prof.name_of(moved.status),
        "canonical_from": moved.previous,
        "canonical_to": moved.status,
        "source": moved.cause.source,
        "actor": moved.cause.actor,
        "tenant": moved.cause.tenant,
        "key_id": moved.cause.key_id,
        "reason": moved.reason,
    }
