"""The CDAR we owe, kept in the database so a crash cannot lose it (issue 20).

A move that calls for a CDAR (a French sales invoice queued: 200, delivered: 201; a tenant's
action on a French invoice: 204/205/210/211/212; a French purchase invoice stored as a
duplicate: 213 DOUBLON) writes a ``cdar_owed`` row **in the move's own transaction**
(:meth:`CdarOutbox.owe_code`), so the move and the debt commit together or not at all. The
lease, the after-commit payment, the recovery pass and the sweep are the generic owed-work
helper's (:class:`gateway.owed.Outbox`, shared with Invoice Responses); what is France's is the
row (which code, about which document, owed once or per action) and the payer
(:meth:`gateway.france.emit.CdarEmitter.pay`).

Exactly once: the emitter derives each message's id and its outbound idempotency key from the
row's key and creation time (:class:`gateway.france.emit.Intent`), so a second run after a
crash between "queued" and "done" finds the outbound item (``uq_outbound_idempotency``) and
the ``sent`` row (same message id) already there and adds nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.france.models import CdarOwed
from gateway.owed import Outbox
from gateway.store import Database


class CdarOutbox(Outbox[CdarOwed]):
    def __init__(self, db: Database, pay: Callable[[CdarOwed], Awaitable[Any]]) -> None:
        super().__init__(db, CdarOwed, pay, what="owed CDAR")

    async def owe_code(
        self,
        session: AsyncSession,
        document_id: str,
        tenant: str | None,
        code: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        once: bool = False,
    ) -> None:
        """Record in ``session`` that CDAR ``code`` is owed about ``document_id``; ``once``:
        at most one such debt per document and code ever (200, 201, 213 DOUBLON). The row is
        worked on as soon as the transaction commits."""
        key = f"{document_id}|{code}"
        if not once:
            key += f"|{secrets.token_hex(8)}"
        elif await self.on_record(session, key):
            return
        row = CdarOwed(
            key=key, document_id=document_id, tenant=tenant, code=code, reason=reason, actor=actor
        )
        await self.owe(session, row, group=document_id)
