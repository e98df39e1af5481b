"""Drafts and scheduled sending: outbound documents stored, validated and reported, not queued.

A draft is a document in status ``draft`` with an ``outbound_drafts`` row holding what its
queue item will need (receiver, sender, document type, process) and, for scheduled sending,
``send_at``. Sending - by the client (``POST /v1/outbound/{id}/send``) or by the scheduler at
``send_at`` - is one write transaction: the lifecycle moves the document to ``queued``, the
queue item is inserted (its primary key is the document id) and the draft row is deleted.

Crash-safe and multi-instance safe: a process killed before the commit changed nothing, so
another (or the restarted) one sends it; after the commit the draft row is gone. Due rows are
claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (``BEGIN IMMEDIATE`` serialises writers on
SQLite), and the item's primary key would refuse a second queue item anyway: a scheduled draft
is queued exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gateway.config import OutboundSettings
from gateway.lifecycle import DELETED, DRAFT, QUEUED, Cause, Lifecycle, OutboundDraft
from gateway.outbound.duplicates import DuplicateOutbound, guard
from gateway.outbound.items import new_item
from gateway.outbound.models import OutboundItem
from gateway.store import Database, Document, repo, utcnow
from gateway.wake import ended, woken

log = logging.getLogger("gateway.outbound")

#: Statuses in which a document is still unsent and editable / deletable.
EDITABLE = (DRAFT,)
SCHEDULER = Cause("scheduler", actor="send_at")
#: Scheduled drafts queued per transaction; a full batch means more may be due.
BATCH = 50
#: Record fields a content replacement keeps (identity and ownership of the document).
_KEPT = {"id", "direction", "channel", "tenant", "meta"}


def _is_reissue(doc: Document) -> bool:
    return bool((doc.meta or {}).get("reissue_of"))


class NotADraft(Exception):
    """The document is not (or no longer) an unsent draft; ``status`` says what it is."""

    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"Only drafts can be {action}; this document is {status}.")
        self.current = status


class Drafts:
    def __init__(
        self,
        db: Database,
        lifecycle: Lifecycle,
        notify: Callable[[], None] | None = None,
        announce: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.lifecycle = lifecycle
        #: After the commit that queued drafts: wakes this process's worker.
        self.notify = notify or (lambda: None)
        #: In that transaction: wakes the other processes' (OutboundQueue.announce).
        self.announce = announce or _nothing
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._stopping = False

    async def create(
        self,
        document: Document,
        routing: dict[str, str],
        *,
        send_at: dt.datetime | None,
        cause: Cause,
        reissue: bool = False,
    ) -> Document:
        """Store a draft; :class:`DuplicateOutbound` when the tenant sent this invoice already
        (unless ``reissue``: the draft then names its original and is sent as a copy)."""
        assert document.tenant is not None
        document.direction = "outbound"
        when = f"; to be sent at {send_at.isoformat()}" if send_at else ""
        self.lifecycle.begin(document, DRAFT)
        async with self.db.write() as s:
            await self._guard(s, document, routing["receiver"], reissue)
            await repo.ensure_tenant(s, document.tenant)
            s.add(document)
            await s.flush()
            s.add(
                OutboundDraft(
                    document_id=document.id, tenant=document.tenant, send_at=send_at, **routing
                )
            )
            await self.lifecycle.started(
                s, document, cause, reason=f"draft for {routing['receiver']}{when}"
            )
        if send_at is not None:
            self.wake()
        return document

    async def replace_content(
        self,
        tenant: str,
        doc_id: str,
        fields: dict[str, Any],
        routing: dict[str, str],
        cause: Cause,
        reissue: bool = False,
    ) -> Document:
        """A correction: new XML for a draft (validated by the caller); history says so. The new
        business key is checked again (:class:`DuplicateOutbound` unless ``reissue``)."""
        async with self.db.write() as s:
            doc, draft = await self._load(s, tenant, doc_id, "corrected")
            for key, value in fields.items():
                if key not in _KEPT:
                    setattr(doc, key, value)
            for key, value in routing.items():
                setattr(draft, key, value)
            await self._guard(s, doc, draft.receiver, reissue)
            meta = dict(doc.meta or {})
            meta["corrections"] = int(meta.get("corrections", 0)) + 1
            doc.meta = meta
            # Still a draft (profiles may show it as corrected, e.g. "New Corrected").
            await self.lifecycle.note(
                s, doc, cause, f"content replaced (correction {meta['corrections']})"
            )
        return doc

    async def delete(self, tenant: str, doc_id: str, cause: Cause) -> Document:
        """Drafts only; the record and its history stay (history is append-only)."""
        async with self.db.write() as s:
            doc, draft = await self._load(s, tenant, doc_id, "deleted")
            await self.lifecycle.move(s, doc, DELETED, cause, reason="draft deleted")
            await s.delete(draft)
        return doc

    async def send(
        self, tenant: str, doc_id: str, cause: Cause, reissue: bool = False
    ) -> OutboundItem:
        """Send a draft now (the tenant's profile decides whether it may be sent yet);
        :class:`DuplicateOutbound` when another original holds its business key by now."""
        try:
            async with self.db.write() as s:
                doc = await self._document(s, doc_id, tenant)
                draft = await s.get(OutboundDraft, doc_id)
                if draft is None:
                    raise NotADraft(doc.status, "sent")
                item = await self._queue(s, doc, draft, cause, "sent by the issuer", reissue)
                await self.announce(s)
        except IntegrityError:  # a concurrent submission took the business key first
            async with self.db.read() as s:
                doc = await self._document(s, doc_id, tenant)
                await guard(
                    s,
                    tenant,
                    doc.kind,
                    doc.business_key,
                    doc.receiver_endpoint or "",
                    reissue=False,
                )
            raise
        self.notify()
        return item

    async def send_due(self, limit: int = BATCH) -> list[str]:
        """Queue the drafts whose ``send_at`` has come; returns their ids."""
        now = utcnow()
        sent: list[str] = []
        async with self.db.write() as s:
            stmt = (
                select(OutboundDraft)
                .where(OutboundDraft.send_at.is_not(None), OutboundDraft.send_at <= now)
                .order_by(OutboundDraft.send_at)
                .limit(limit)
            )
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            for draft in list(await s.scalars(stmt)):
                doc = await self._document(s, draft.document_id, None)
                if not self.lifecycle.model_of(doc).allows(doc.status, QUEUED, SCHEDULER.role):
                    log.warning("scheduled draft %s is %s; not sent", doc.id, doc.status)
                    await s.delete(draft)
                    continue
                why = f"send_at {draft.send_at.isoformat()}"
                try:
                    await self._queue(s, doc, draft, SCHEDULER, why)
                except DuplicateOutbound as dup:
                    # Not sent twice: it stays a draft for the issuer to correct or reissue.
                    draft.send_at = None
                    await self.lifecycle.note(s, doc, SCHEDULER, f"not sent at {why}: {dup}")
                    log.warning(
                        "scheduled draft %s duplicates %s; not sent", doc.id, dup.original_id
                    )
                    continue
                sent.append(doc.id)
            if sent:
                await self.announce(s)
        if sent:
            self.notify()
        return sent

    async def _queue(
        self,
        s: Any,
        doc: Document,
        draft: OutboundDraft,
        cause: Cause,
        why: str,
        reissue: bool = False,
    ) -> OutboundItem:
        # The guard first (it changes nothing when it refuses); a draft created as a reissue
        # stays one. The claim is taken in this transaction, so a race ends in IntegrityError.
        claims = await self._guard(s, doc, draft.receiver, reissue or _is_reissue(doc))
        await self.lifecycle.move(s, doc, QUEUED, cause, reason=f"{why}; to {draft.receiver}")
        if claims:
            repo.add_claims(s, doc, claims)
            await s.flush()
        item = new_item(
            doc.id,
            draft.tenant,
            receiver=draft.receiver,
            sender=draft.sender,
            document_type=draft.document_type,
            process=draft.process,
        )
        s.add(item)
        await s.delete(draft)
        await self.lifecycle.issued(s, doc, cause)
        return item

    @staticmethod
    async def _guard(s: Any, doc: Document, receiver: str, reissue: bool) -> dict[str, str]:
        """The claims the draft takes once queued; a reissue takes none and names its original
        in ``meta.reissue_of``. Raises :class:`DuplicateOutbound` (changing nothing)."""
        assert doc.tenant is not None
        claims, original = await guard(
            s, doc.tenant, doc.kind, doc.business_key, receiver, reissue=reissue
        )
        meta = dict(doc.meta or {})
        if original is not None:
            meta["reissue_of"] = original
        else:  # an original (a correction may have changed its key)
            meta.pop("reissue_of", None)
        if meta != (doc.meta or {}):
            doc.meta = meta
        return claims

    async def _load(
        self, s: Any, tenant: str, doc_id: str, action: str
    ) -> tuple[Document, OutboundDraft]:
        doc = await self._document(s, doc_id, tenant)
        draft = await s.get(OutboundDraft, doc_id)
        if draft is None or doc.status not in EDITABLE:
            raise NotADraft(doc.status, action)
        return doc, draft

    @staticmethod
    async def _document(s: Any, doc_id: str, tenant: str | None) -> Document:
        doc = await repo.get_document(s, doc_id, tenant, for_update=True)
        if doc.direction != "outbound":
            raise repo.NotFound(f"no outbound document {doc_id}")
        return doc

    async def next_send_at(self) -> dt.datetime | None:
        """The earliest ``send_at`` of any scheduled draft (None when none is scheduled)."""
        async with self.db.read() as s:
            when = await s.scalar(select(func.min(OutboundDraft.send_at)))
        return when if when is None or when.tzinfo else when.replace(tzinfo=dt.UTC)

    # --- the scheduler (every gateway process runs one) ----------------------------------------

    def start(self, settings: OutboundSettings) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(settings), name="outbound-drafts")

    def wake(self) -> None:
        """A draft was scheduled in this process: look at the times again now."""
        self._wakeup.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        await ended(self._task)  # not cancelled in the middle of a statement
        self._task = None

    async def _run(self, settings: OutboundSettings) -> None:
        """Sleep until the earliest ``send_at`` (a draft scheduled in this process wakes it),
        at most ``idle_poll_max`` (one another process scheduled), at least ``poll_interval``."""
        interval = settings.poll_interval
        ceiling = max(settings.idle_poll_max, interval)
        while not self._stopping:
            self._wakeup.clear()
            wait = interval
            try:
                when = await self.next_send_at()  # a read: idle rounds write nothing
                if when is not None and when <= utcnow():
                    if len(await self.send_due(BATCH)) == BATCH:
                        continue  # more may be due
                    when = await self.next_send_at()
                wait = _until(when, interval, ceiling)
            except Exception:  # keep scheduling; the next round retries (nothing was committed)
                log.exception("sending scheduled drafts failed")
            if not self._stopping:
                await woken(self._wakeup, wait)


async def _nothing(_session: Any) -> None:
    """No other process to wake (drafts without a queue: tests)."""


def _until(when: dt.datetime | None, floor: float, ceiling: float) -> float:
    """Seconds to sleep until ``when``, within [floor, ceiling] (``when`` may have passed:
    a draft another process holds locked right now)."""
    if when is None:
        return ceiling
    return min(ceiling, max(floor, (when - utcnow()).total_seconds()))
