"""One service for counterpart statuses, with a rule set per network (T111, CDAR).

Peppol Invoice Responses (:class:`gateway.responses.ResponseService`) and France's CDAR
lifecycle messages (:class:`gateway.france.CdarService`) decide a received message the same
way, in one write transaction: parse the stored message and fill its row; refuse it when the
rule set finds it invalid; judge whether the channel proves the party it speaks for
(:func:`gateway.responses.judge`: held and refused messages stop there, are linked to the
invoice they name, and never take the de-duplication key, so a forged copy cannot block the real
one; nor can the intake's duplicate claim it took by arriving first: a copy of an unproven
message is judged on its own proof); de-duplicate; match the sales invoice *inside the tenant that received it*; refuse a
message over AS4 from another access point than the invoice went to; wait while the outbound
queue still writes the invoice's status; then let the rule set's sequencing rules move the
invoice through :mod:`gateway.lifecycle`. Unroutable messages (no tenant) are never applied
until routed.

A rule set is a subclass that says what differs: :attr:`model`, :meth:`is_message`,
:meth:`parse`, :meth:`fill`, :meth:`dedupe_key`, :meth:`match` and :meth:`apply` (plus the
optional :meth:`invalid`, :meth:`refused` and :meth:`decided`).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.documents import ParseLimits, XmlRefused
from gateway.lifecycle import DUPLICATE as DUPLICATE_DOC
from gateway.lifecycle import IN_FLIGHT, Lifecycle
from gateway.responses import records
from gateway.responses.matching import MATCHED, Match
from gateway.responses.records import DUPLICATE, HELD, INVALID, PENDING, REFUSED, WAITING
from gateway.responses.trust import HELD as HELD_OUTCOME
from gateway.responses.trust import Verdict, judge, proof_of, wrong_access_point
from gateway.store import Database, Document, repo

log = logging.getLogger("gateway.responses")

#: Inbound statuses of a message's document that mean "valid, go ahead". Not ``unroutable``:
#: a message no tenant received is never applied (it is routed first).
HANDLED_DOC_STATUSES = ("received", "forwarded")

__all__ = ["HANDLED_DOC_STATUSES", "MATCHED", "CounterpartService", "Match", "ServedBy"]


class ServedBy(Protocol):
    """Which access point the sales invoice ``invoice_id`` was delivered to (None: unknown)."""

    async def __call__(self, session: AsyncSession, invoice_id: str) -> str | None: ...


class IntakeResultLike(Protocol):
    document_id: str
    status: str
    report: Any
    duplicate_of: str | None


class CounterpartService:
    #: The rule set's table (declares :class:`gateway.responses.records.CounterpartColumns`).
    model: ClassVar[type[Any]]
    #: What the logs call one message.
    what: ClassVar[str] = "counterpart status"
    #: The detail of a duplicate; ``{seq}`` and ``{state}`` name the first copy.
    duplicate_text: ClassVar[str] = "same sender and message id as #{seq} ({state})"

    def __init__(self, db: Database, lifecycle: Lifecycle, limits: ParseLimits | None) -> None:
        self.db = db
        self.lifecycle = lifecycle
        self.limits = limits or ParseLimits()
        #: Set by the AS4 plug-in: a message over AS4 must come from the access point the
        #: invoice was delivered to (gateway.responses.wrong_access_point).
        self.served_by: ServedBy | None = None
        #: Optional e-mail trust (per-tenant listed senders with DKIM); see trust.judge.
        self.email_trust: Any = None

    # --- the rule set ----------------------------------------------------------------------------

    def is_message(self, customization_id: str | None) -> bool:
        raise NotImplementedError

    def parse(self, raw: bytes) -> Any:
        """The parsed message (raises :class:`XmlRefused`)."""
        raise NotImplementedError

    def fill(self, rec: Any, doc: Document, msg: Any | None) -> None:
        """Fill ``rec`` from the parsed message (None: it does not parse, so ``invalid``);
        leave ``rec.state`` empty when it is to be decided."""
        raise NotImplementedError

    def invalid(self, rec: Any) -> str | None:
        """Why the filled row can never apply (None: it may)."""
        return None

    def dedupe_key(self, rec: Any) -> str:
        raise NotImplementedError

    async def match(self, s: AsyncSession, rec: Any, msg: Any | None) -> Match:
        raise NotImplementedError

    async def apply(self, s: AsyncSession, rec: Any, invoice: Document) -> None:
        """Check the sequencing rules and move (or note) ``invoice``; set ``rec.state``."""
        raise NotImplementedError

    async def refused(self, s: AsyncSession, rec: Any, invoice: Document, verdict: Verdict) -> None:
        """An unproven message was refused (a proven forgery); ``invoice`` is the one it names."""

    async def decided(self, s: AsyncSession, rec: Any) -> None:
        """After a received message was decided, in its transaction (logs, events)."""

    # --- entry points ----------------------------------------------------------------------------

    async def on_intake(self, result: IntakeResultLike) -> None:
        """Intake hook: apply a stored, valid message. Never raises (the document is stored)."""
        info = result.report.document or {}
        if not self.is_message(info.get("customization_id")):
            return
        if not result.report.accepted:
            return
        if result.status not in HANDLED_DOC_STATUSES and not await self._copy_of_unproven(result):
            return
        try:
            await self.handle_document(result.document_id)
        except Exception:
            log.exception(f"applying a {self.what} failed", extra={"document": result.document_id})

    async def _copy_of_unproven(self, result: IntakeResultLike) -> bool:
        """A stored copy (same bytes or business key: an intake ``duplicate``) of a message
        whose channel proved nothing (``held``, ``refused``) is judged too: the intake's claim
        is taken by whatever arrives first, so a forged message sent ahead with the real one's
        content must not make the real one a copy that is never applied. Its own row is judged
        on its own channel's proof, and takes the de-duplication key if proven (a held row
        never does)."""
        original = getattr(result, "duplicate_of", None)
        if result.status != DUPLICATE_DOC or original is None:
            return False
        async with self.db.read() as s:
            first = await records.received_of(s, self.model, original)
        return first is not None and first.state in (HELD, REFUSED)

    async def on_routed(self, doc_id: str) -> None:
        """Intake hook: a stranded document got its tenant; handle it if it is a message."""
        async with self.db.read() as s:
            doc = await repo.get_document(s, doc_id, None)
        if not self.is_message(doc.customization_id) or doc.status not in HANDLED_DOC_STATUSES:
            return
        if doc.validation_status != "accepted":
            return
        try:
            await self.handle_document(doc_id)
        except Exception:
            log.exception(f"applying a routed {self.what} failed", extra={"document": doc_id})

    async def handle_document(self, doc_id: str) -> Any:
        """Record and (if it matches and the rules allow) apply the stored message ``doc_id``."""
        for attempt in range(3):
            try:
                return await self._handle_once(doc_id)
            except IntegrityError:  # a concurrent copy took the dedupe key first
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def page(
        self, tenant: str, *, state: str | None, direction: str | None, after: int, limit: int
    ) -> list[Any]:
        """One page of ``tenant``'s rows by ``seq`` (the list routes)."""
        async with self.db.read() as s:
            return await records.page(
                s, self.model, tenant, state=state, direction=direction, after=after, limit=limit
            )

    # --- one message -----------------------------------------------------------------------------

    async def _handle_once(self, doc_id: str) -> Any:
        async with self.db.write() as s:
            existing = await records.received_of(s, self.model, doc_id)
            if existing is not None and existing.state != PENDING:
                return existing
            doc = await repo.get_document(s, doc_id, None)
            raw, _ = await repo.get_raw(s, doc_id, None)
            try:
                msg = self.parse(raw)
            except XmlRefused as exc:  # validated before, so this is unexpected
                msg = None
                log.warning("stored %s does not parse: %s", self.what, exc)
            rec = existing or self.model(direction=records.RECEIVED, document_id=doc.id)
            self.fill(rec, doc, msg)
            s.add(rec)
            if rec.state == "":
                await self._decide(s, rec, doc, msg)
            await s.flush()
            await self.decided(s, rec)
            return rec

    async def _decide(self, s: AsyncSession, rec: Any, doc: Document, msg: Any) -> None:
        if why := self.invalid(rec):
            rec.state, rec.detail = INVALID, why
            return
        verdict = await judge(s, doc, rec.sender, email_trust=self.email_trust)
        rec.details = {**(rec.details or {}), "proof": proof_of(verdict)}
        if not verdict.proven:
            await self._hold(s, rec, msg, verdict)
            return
        await self.dedupe_and_apply(s, rec, msg)

    async def _hold(self, s: AsyncSession, rec: Any, msg: Any, verdict: Verdict) -> None:
        """Keep an unproven message for an admin, linked to the invoice it names, unchanged.

        No dedupe key is taken (a forged copy must not block the real message)."""
        rec.state = HELD if verdict.outcome == HELD_OUTCOME else REFUSED
        rec.detail = f"not applied: {verdict.how}"
        invoice = (await self.match(s, rec, msg)).invoice
        rec.invoice_id = invoice.id if invoice is not None else None
        if invoice is not None and rec.state == REFUSED:
            await self.refused(s, rec, invoice, verdict)

    async def dedupe_and_apply(self, s: AsyncSession, rec: Any, msg: Any) -> None:
        key = self.dedupe_key(rec)
        first = await records.first_with_key(s, self.model, key)
        if first is not None:
            rec.state, rec.invoice_id = DUPLICATE, first.invoice_id
            rec.detail = self.duplicate_text.format(seq=first.seq, state=first.state)
            return
        rec.dedupe_key = key
        await self.match_and_apply(s, rec, msg)

    async def match_and_apply(self, s: AsyncSession, rec: Any, msg: Any) -> None:
        found = await self.match(s, rec, msg)
        invoice = found.invoice
        rec.state, rec.detail = found.state, found.detail
        if found.copies:
            rec.details = {**(rec.details or {}), "copies": found.copies}
        if invoice is None:
            return
        rec.invoice_id = invoice.id
        if wrong := await wrong_access_point(s, self.served_by, rec.details or {}, invoice.id):
            rec.state, rec.detail = REFUSED, wrong
        elif invoice.status in IN_FLIGHT:
            # The queue still writes this invoice's status (sending -> delivered); applying now
            # would be overwritten, so it is applied once delivery is settled.
            rec.state = WAITING
            rec.detail = (
                f"sales invoice {invoice.id} is still {invoice.status}; applied after delivery"
            )
        else:
            await self.apply(s, rec, invoice)
