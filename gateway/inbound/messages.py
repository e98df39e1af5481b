"""Received messages (e-mails) recorded once, with the documents they produced.

Why: the invoices of one mail are stored in one transaction together with an
:class:`~gateway.store.InboundMessage` row keyed by the SHA-256 of the raw message, so

* a mail is stored completely or not at all (no half-stored mail for a retry to duplicate);
* the same mail delivered again (the sending MTA retries when our 250 got lost) finds its row
  and is answered with the documents already stored, creating nothing;
* the raw message is one blob however many invoices it holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from gateway.inbound.storing import Before
from gateway.store import Database, Document, InboundMessage, clean_json, put_blob


@dataclass
class MessageRecord:
    """What is recorded about one received message besides its documents."""

    raw: bytes
    channel: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class StoredDocument:
    document_id: str
    status: str


class MessageLog:
    """Finds messages already stored and writes the record of a new one (see module doc)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, sha256: str) -> list[StoredDocument] | None:
        """The documents of the message with this hash, in its order; None when unseen."""
        async with self.db.read() as session:
            row = await session.get(InboundMessage, sha256)
            if row is None:
                return None
            ids = list(row.documents)
            rows = await session.execute(
                select(Document.id, Document.status).where(Document.id.in_(ids))
            )
            found = {doc_id: status for doc_id, status in rows}
        return [StoredDocument(i, found.get(i, "unknown")) for i in ids]

    @staticmethod
    def recorder(record: MessageRecord) -> Before:
        """The ``before`` hook that stores ``record`` with the message's documents."""

        async def before(session: Any, docs: list[Document]) -> None:
            await put_blob(session, record.raw)
            session.add(
                InboundMessage(
                    sha256=record.sha256,
                    channel=record.channel,
                    size=len(record.raw),
                    documents=[d.id for d in docs],
                    meta=clean_json(record.meta),
                )
            )

        return before
