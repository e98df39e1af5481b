"""Database-backed AS4 duplicate elimination (the :class:`SeenStore` of a real gateway).

Why claims: the intake pipeline commits the document in its own (group-commit) transaction, so
"deliver + remember" cannot literally share one transaction. Instead the delivery is bracketed:

1. :meth:`DbSeenStore.claim` inserts the MessageId row and the ``sender|InstanceIdentifier``
   row *before* delivery. Both are primary keys, so of two concurrent copies (same process or
   another gateway process on the same database) exactly one wins; the loser waits for the
   winner's outcome instead of delivering a second document.
2. The intake stores the document.
3. :meth:`DbSeenStore.remember` marks both rows done, stores the receipt and the Peppol
   reporting row in one transaction.

A process that dies between 2 and 3 leaves a ``delivering`` claim. Once it is older than
``stale_after`` a retry of the sender takes it over and first looks for the document the dead
process may already have stored (same bytes, channel ``as4``, stored after the claim), so even
then no second document appears. :meth:`release` drops a claim when delivery failed, so the
sender's retry can succeed.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.as4.models import DELIVERING, DONE, As4InboundInstance, As4InboundMessage
from gateway.store import Database, Document, repo
from gateway.store.models import utcnow


class Claim(enum.Enum):
    #: Ours: deliver now, then :meth:`remember`.
    CLAIMED = "claimed"
    #: Already delivered under this MessageId or InstanceIdentifier: do not deliver again.
    DONE = "done"
    #: Another delivery of the same message/instance is in progress: wait and look again.
    BUSY = "busy"


@dataclass
class Completion:
    """What :meth:`DbSeenStore.remember` writes along with the receipt."""

    document_id: str | None
    extra_rows: list[Any]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class DbSeenStore:
    def __init__(self, db: Database, *, stale_after: float = 120.0, owner: str | None = None):
        self.db = db
        self.stale_after = dt.timedelta(seconds=stale_after)
        self.owner = owner or f"{os.getpid()}:{secrets.token_hex(4)}"
        self._completions: dict[str, Completion] = {}

    # --- SeenStore protocol -----------------------------------------------------------------

    async def seen(self, message_id: str) -> bytes | None:
        async with self.db.read() as s:
            row = await s.execute(
                select(As4InboundMessage.receipt).where(
                    As4InboundMessage.message_id == message_id,
                    As4InboundMessage.state == DONE,
                )
            )
            return row.scalar_one_or_none()

    async def seen_instance(self, instance_key: str) -> bool:
        async with self.db.read() as s:
            state = await s.scalar(
                select(As4InboundInstance.message_id).where(
                    As4InboundInstance.instance_key == instance_key,
                    As4InboundInstance.document_id.is_not(None),
                )
            )
            return state is not None

    async def remember(self, message_id: str, instance_key: str, receipt: bytes) -> bytes:
        completion = self._completions.pop(message_id, Completion(None, []))
        for attempt in range(3):
            try:
                return await self._remember(message_id, instance_key, receipt, completion)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _remember(
        self, message_id: str, instance_key: str, receipt: bytes, completion: Completion
    ) -> bytes:
        # Core statements, not ORM objects: this runs once per message inside the single
        # SQLite writer, so every statement saved is throughput.
        m, i = As4InboundMessage.__table__, As4InboundInstance.__table__
        now, doc_id = utcnow(), completion.document_id
        async with self.db.write() as s:
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
                        from_party=instance_key.split("|", 1)[0],
                    )
                )
            elif row.state == DONE and row.receipt is not None:
                return bytes(row.receipt)  # an earlier receipt wins: repeats get identical bytes
            else:
                values: dict[str, Any] = {"state": DONE, "receipt": receipt, "claim_owner": None}
                if doc_id:
                    values["document_id"] = doc_id
                await s.execute(update(m).where(m.c.message_id == message_id).values(**values))
            inst = (
                await s.execute(select(i.c.message_id).where(i.c.instance_key == instance_key))
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
            elif inst.message_id == message_id and doc_id:
                await s.execute(
                    update(i).where(i.c.instance_key == instance_key).values(document_id=doc_id)
                )
            for extra in completion.extra_rows:
                s.add(extra)
            return receipt

    # --- claims around delivery ---------------------------------------------------------------

    def complete(self, message_id: str, document_id: str | None, *rows: Any) -> None:
        """Hand what :meth:`remember` must write with the receipt (document id, report rows)."""
        self._completions[message_id] = Completion(document_id, list(rows))

    def forget(self, message_id: str) -> None:
        self._completions.pop(message_id, None)

    async def claim(
        self, message_id: str, instance_key: str, from_party: str, document: bytes
    ) -> Claim:
        """Reserve the delivery of ``document`` (see the module docstring)."""
        try:
            return await self._claim(message_id, instance_key, from_party, document)
        except IntegrityError:
            return Claim.BUSY  # another server inserted the same key a moment ago

    async def _claim(
        self, message_id: str, instance_key: str, from_party: str, document: bytes
    ) -> Claim:
        m, i = As4InboundMessage.__table__, As4InboundInstance.__table__
        now = utcnow()
        async with self.db.write() as s:
            msg = (
                await s.execute(
                    select(m.c.state, m.c.claim_owner, m.c.claimed_at).where(
                        m.c.message_id == message_id
                    )
                )
            ).first()
            inst = (
                await s.execute(
                    select(i.c.message_id, i.c.document_id, i.c.created_at).where(
                        i.c.instance_key == instance_key
                    )
                )
            ).first()
            if (msg is not None and msg.state == DONE) or (
                inst is not None and inst.document_id is not None
            ):
                return Claim.DONE
            if (
                msg is not None
                and msg.claim_owner != self.owner
                and not self._stale(msg.claimed_at, now)
            ):
                return Claim.BUSY
            if (
                inst is not None
                and inst.message_id != message_id
                and not self._stale(inst.created_at, now)
            ):
                return Claim.BUSY
            if msg is not None or inst is not None:
                # An earlier claim of a stopped process (or our own failed try): did the
                # document get stored already?
                since = min(
                    _aware(t) for t in (msg and msg.claimed_at, inst and inst.created_at) if t
                )
                doc_id = await _stored_since(s, document, since)
                if doc_id is not None:
                    self.complete(message_id, doc_id)
                    return Claim.DONE
            if msg is None:
                await s.execute(
                    insert(m).values(
                        message_id=message_id,
                        instance_key=instance_key,
                        state=DELIVERING,
                        claim_owner=self.owner,
                        claimed_at=now,
                        from_party=from_party,
                        created_at=now,
                    )
                )
            else:
                await s.execute(
                    update(m)
                    .where(m.c.message_id == message_id)
                    .values(claim_owner=self.owner, claimed_at=now)
                )
            if inst is None:
                await s.execute(
                    insert(i).values(
                        instance_key=instance_key, message_id=message_id, created_at=now
                    )
                )
            else:
                await s.execute(
                    update(i)
                    .where(i.c.instance_key == instance_key)
                    .values(message_id=message_id, created_at=now)
                )
        return Claim.CLAIMED

    def _stale(self, since: dt.datetime, now: dt.datetime) -> bool:
        return now - _aware(since) > self.stale_after

    async def release(self, message_id: str, instance_key: str) -> None:
        """Drop our claim after a failed delivery (nothing was stored)."""
        self.forget(message_id)
        async with self.db.write() as s:
            await s.execute(
                delete(As4InboundMessage).where(
                    As4InboundMessage.message_id == message_id,
                    As4InboundMessage.state == DELIVERING,
                    As4InboundMessage.claim_owner == self.owner,
                )
            )
            await s.execute(
                delete(As4InboundInstance).where(
                    As4InboundInstance.instance_key == instance_key,
                    As4InboundInstance.message_id == message_id,
                    As4InboundInstance.document_id.is_(None),
                )
            )

    async def settled(self, message_id: str, instance_key: str) -> bool:
        """Whether a concurrent delivery of this message or instance has finished."""
        async with self.db.read() as s:
            done = await s.scalar(
                select(As4InboundMessage.message_id).where(
                    As4InboundMessage.message_id == message_id, As4InboundMessage.state == DONE
                )
            )
            if done is not None:
                return True
        return await self.seen_instance(instance_key)


async def _stored_since(s: Any, document: bytes, since: dt.datetime) -> str | None:
    return await s.scalar(
        select(Document.id)
        .where(
            Document.sha256 == repo.sha256_hex(document),
            Document.channel == "as4",
            Document.direction == "inbound",
            Document.created_at >= since - dt.timedelta(seconds=1),
        )
        .order_by(Document.seq)
        .limit(1)
    )
