"""Database-backed AS4 duplicate elimination (the :class:`SeenStore` of a real gateway).

One transaction on receipt (issue 17): the message-id claim, the receipt we answer with, the
stored document(s), the Peppol reporting row and the MLS we owe commit together. The channel
passes :meth:`DbSeenStore.record` to the intake as its in-transaction hook
(:data:`gateway.inbound.storing.InTransaction`), and the receiver sends the receipt only after
that commit. So after a crash at any moment either everything is on record (a retry gets the
stored receipt and no second document) or nothing is (the retry is processed like the first
try): never a receipt for nothing, never a document without its message-id claim.

Concurrent copies of one message (two gateway processes on one database) both validate; the
primary keys of ``as4_inbound_messages`` (MessageId) and ``as4_inbound_instances``
(``sender|InstanceIdentifier``) let exactly one transaction commit. The other loses the race
(IntegrityError: the intake retries it alone) and then finds the claim taken:
:class:`AlreadyDelivered`, and it answers with the winner's receipt.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from gateway.as4.models import DONE, As4InboundInstance, As4InboundMessage
from gateway.store import Database, utcnow

_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@functools.cache
def _claims(dialect: str) -> tuple[Any, Any]:
    """The two claim inserts of :meth:`DbSeenStore.record_many`, built once per dialect
    (their values come as parameters: building a statement with ``.values()`` per message
    cost about as much as executing it). Each returns the keys it inserted, so one statement
    claims the messages of a whole group commit (SQLAlchemy's "insertmanyvalues": one
    multi-row INSERT) and the claims already taken are the keys missing from the answer."""
    insert_for = _INSERT[dialect]
    m, i = As4InboundMessage.__table__, As4InboundInstance.__table__
    return (
        insert_for(m)
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(m.c.message_id),
        insert_for(i)
        .on_conflict_do_nothing(index_elements=["instance_key"])
        .returning(i.c.instance_key),
    )


@dataclass(frozen=True)
class Claim:
    """One message's claims for :meth:`DbSeenStore.record_many`: its MessageId and SBDH
    instance (``sender|InstanceIdentifier``) for ``document_id``, answered with ``receipt``."""

    message_id: str
    instance_key: str
    receipt: bytes
    document_id: str | None
    from_party: str = ""

    def message_row(self, now: Any) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "instance_key": self.instance_key,
            "state": DONE,
            "claimed_at": now,
            "created_at": now,
            "receipt": self.receipt,
            "document_id": self.document_id,
            "from_party": self.from_party or self.instance_key.split("|", 1)[0],
        }

    def instance_row(self, now: Any) -> dict[str, Any]:
        return {
            "instance_key": self.instance_key,
            "message_id": self.message_id,
            "document_id": self.document_id,
            "created_at": now,
        }


#: The two reads before a message is decrypted and delivered, built once: they run as point
#: reads (:meth:`gateway.store.Database.first`), each a few hundredths of a millisecond on
#: SQLite instead of a read transaction's ~9 driver hops (2.5-3 ms of CPU on the shared VM).
_RECEIPT = select(As4InboundMessage.receipt).where(
    As4InboundMessage.message_id == bindparam("message_id"), As4InboundMessage.state == DONE
)
_INSTANCE = select(As4InboundInstance.message_id).where(
    As4InboundInstance.instance_key == bindparam("instance_key"),
    As4InboundInstance.document_id.is_not(None),
)


async def _insert(session: Any, stmt: Any, claims: list[Claim], row: Any, now: Any) -> set[str]:
    """Insert the claims' rows in key order (the first column); the keys inserted."""
    rows = sorted((row(c, now) for c in claims), key=lambda r: next(iter(r.values())))
    return set(await session.scalars(stmt, rows))


async def _settle(failed: dict[str, AlreadyDelivered], claim: Claim, settling: Any) -> None:
    try:
        await settling
    except AlreadyDelivered as exc:
        failed[claim.message_id] = exc


class AlreadyDelivered(Exception):
    """This MessageId or SBDH instance is on record already: store nothing, answer with the
    receipt on record (:meth:`DbSeenStore.remember`)."""


class DbSeenStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        #: MessageIds whose receipt :meth:`record` wrote in a transaction that committed.
        self._committed: dict[str, bytes] = {}

    # --- SeenStore protocol -----------------------------------------------------------------

    async def seen(self, message_id: str) -> bytes | None:
        return await self.db.scalar(_RECEIPT, {"message_id": message_id})

    async def seen_instance(self, instance_key: str) -> bool:
        return await self.db.first(_INSTANCE, {"instance_key": instance_key}) is not None

    async def remember(self, message_id: str, instance_key: str, receipt: bytes) -> bytes:
        """The receipt to answer with. Delivered messages have it on record already (written by
        :meth:`record` with the document); only a message that delivered nothing new (a
        repeated instance, an MLS, a copy that lost the race) is written here."""
        committed = self._committed.pop(message_id, None)
        if committed is not None:
            return committed
        for attempt in range(3):  # a lost race: the next look finds the winner's receipt
            try:
                async with self.db.write(on_loop=True) as s:  # one message's rows
                    on_record, _ = await self._remember(s, message_id, instance_key, receipt, None)
                return on_record
            except (IntegrityError, AlreadyDelivered):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def record_alone(
        self, message_id: str, instance_key: str, receipt: bytes, rows: list[Any], from_party: str
    ) -> None:
        """:meth:`record` for a message that is not a stored document (an MLS we applied), in a
        transaction of its own; ``rows`` (its reporting row) are written only with a new claim."""
        for attempt in range(3):
            try:
                async with self.db.write(on_loop=True) as s:  # one message's rows
                    on_record, new = await self._remember(
                        s, message_id, instance_key, receipt, None, from_party
                    )
                    if new:
                        s.add_all(rows)
                break
            except (IntegrityError, AlreadyDelivered):
                if attempt == 2:
                    raise
        self.committed(message_id, on_record)

    # --- in the intake's transaction ----------------------------------------------------------

    async def record(
        self,
        session: Any,
        message_id: str,
        instance_key: str,
        receipt: bytes,
        document_id: str | None,
        from_party: str = "",
    ) -> None:
        """Claim ``message_id`` and its instance for ``document_id`` with ``receipt``, in the
        caller's transaction; :class:`AlreadyDelivered` when either is on record already."""
        claim = Claim(message_id, instance_key, receipt, document_id, from_party)
        (refused,) = await self.record_many(session, [claim])
        if refused is not None:
            raise refused

    async def record_many(self, session: Any, claims: list[Claim]) -> list[AlreadyDelivered | None]:
        """:meth:`record` for the messages of one group commit, in two statements for all of
        them; returns, per claim, None (claimed) or the :class:`AlreadyDelivered` refusing it.

        Why inserts that do nothing on a conflict instead of looking first: a batch of new
        messages (every message but a retry) then costs two statements, not six per message
        (a look at each claim, a second look at each, two inserts), and not two per message
        either (each a driver hop; see the README's AS4 receive figures). A claim that is there already
        is settled as before, alone (:meth:`_settle_message`, :meth:`_settle_instance`). A
        repeat inside the batch (a MessageId or instance claimed by an earlier claim of it)
        is refused, as the earlier claim's row would refuse it. Rows go in key order, so two
        processes claiming overlapping batches on PostgreSQL wait for each other in one order
        (an insert that meets a claim another transaction has not committed yet waits for it,
        then does nothing if it committed and inserts if it rolled back), never in a cycle.
        A refused claim's unit must be rolled back (the intake does: the other claim of a
        refused message may have been inserted).
        """
        refused: list[AlreadyDelivered | None] = [None] * len(claims)
        fresh: list[Claim] = []
        messages: set[str] = set()
        instances: set[str] = set()
        for k, claim in enumerate(claims):
            if claim.message_id in messages or claim.instance_key in instances:
                refused[k] = AlreadyDelivered(claim.message_id)
                continue
            messages.add(claim.message_id)
            instances.add(claim.instance_key)
            fresh.append(claim)
        if not fresh:
            return refused
        claim_message, claim_instance = _claims(session.bind.dialect.name)
        now = utcnow()
        failed: dict[str, AlreadyDelivered] = {}
        inserted = await _insert(session, claim_message, fresh, Claim.message_row, now)
        for c in fresh:
            if c.message_id not in inserted:
                await _settle(
                    failed, c, self._settle_message(session, c.message_id, c.receipt, c.document_id)
                )
        inserted = await _insert(session, claim_instance, fresh, Claim.instance_row, now)
        for c in fresh:
            if c.instance_key not in inserted and c.message_id not in failed:
                await _settle(
                    failed,
                    c,
                    self._settle_instance(session, c.message_id, c.instance_key, c.document_id),
                )
        for k, claim in enumerate(claims):
            if refused[k] is None:
                refused[k] = failed.get(claim.message_id)
        return refused

    @staticmethod
    async def _settle_message(
        session: Any, message_id: str, receipt: bytes, document_id: str | None
    ) -> None:
        """The message's row exists: only a claim left unfinished by an older version (which
        claimed before delivering) is taken over, conditionally; a done one refuses."""
        m = As4InboundMessage.__table__
        values: dict[str, Any] = {"state": DONE, "receipt": receipt, "claim_owner": None}
        if document_id:
            values["document_id"] = document_id
        taken = await session.execute(
            update(m).where(m.c.message_id == message_id, m.c.state != DONE).values(**values)
        )
        if taken.rowcount != 1:
            raise AlreadyDelivered(message_id)

    @staticmethod
    async def _settle_instance(
        session: Any, message_id: str, instance_key: str, document_id: str | None
    ) -> None:
        """The instance's row exists: taken for this document only if no document holds it
        (a message that delivers no document leaves a free one as it is)."""
        i = As4InboundInstance.__table__
        if not document_id:
            held = await session.scalar(
                select(i.c.document_id).where(i.c.instance_key == instance_key)
            )
            if held is not None:
                raise AlreadyDelivered(message_id)
            return
        taken = await session.execute(
            update(i)
            .where(i.c.instance_key == instance_key, i.c.document_id.is_(None))
            .values(message_id=message_id, document_id=document_id)
        )
        if taken.rowcount != 1:
            raise AlreadyDelivered(message_id)

    def committed(self, message_id: str, receipt: bytes) -> None:
        """The transaction :meth:`record` wrote in has committed: :meth:`remember` writes nothing."""
        self._committed[message_id] = receipt

    def forget(self, message_id: str) -> None:
        self._committed.pop(message_id, None)

    @staticmethod
    async def _remember(
        s: Any,
        message_id: str,
        instance_key: str,
        receipt: bytes,
        doc_id: str | None,
        from_party: str = "",
    ) -> tuple[bytes, bool]:
        """(the receipt on record, whether this call put it there).

        With ``doc_id`` (from :meth:`record`) a claim another transaction committed since our
        first look raises :class:`AlreadyDelivered`: on PostgreSQL each statement sees what
        committed before it, so a copy that looked too early must not take over (or overwrite)
        a claim; inserts are settled by the primary keys, updates are conditional.
        """
        # Core statements, not ORM objects: this runs once per message inside the single
        # SQLite writer, so every statement saved is throughput.
        m, i = As4InboundMessage.__table__, As4InboundInstance.__table__
        now = utcnow()
        row = (
            await s.execute(select(m.c.state, m.c.receipt).where(m.c.message_id == message_id))
        ).first()
        if row is None:
            await s.execute(
                insert(m).values(
                    message_id=message_id,
                    instance_key=instance_key,
                    state=DONE,
                    claimed_at=now,
                    created_at=now,
                    receipt=receipt,
                    document_id=doc_id,
                    from_party=from_party or instance_key.split("|", 1)[0],
                )
            )
        elif row.state != DONE or row.receipt is None:  # left by a version that claimed first
            values: dict[str, Any] = {"state": DONE, "receipt": receipt, "claim_owner": None}
            if doc_id:
                values["document_id"] = doc_id
            taken = await s.execute(
                update(m).where(m.c.message_id == message_id, m.c.state != DONE).values(**values)
            )
            if taken.rowcount != 1:
                raise AlreadyDelivered(message_id)
        elif doc_id:
            raise AlreadyDelivered(message_id)
        else:
            return bytes(row.receipt), False  # an earlier receipt wins: repeats get the same
        inst = (
            await s.execute(
                select(i.c.message_id, i.c.document_id).where(i.c.instance_key == instance_key)
            )
        ).first()
        if inst is None:
            await s.execute(
                insert(i).values(
                    instance_key=instance_key,
                    message_id=message_id,
                    document_id=doc_id,
                    created_at=now,
                )
            )
        elif doc_id:
            taken = await s.execute(
                update(i)
                .where(i.c.instance_key == instance_key, i.c.document_id.is_(None))
                .values(message_id=message_id, document_id=doc_id)
            )
            if taken.rowcount != 1:
                raise AlreadyDelivered(message_id)
        return receipt, True
