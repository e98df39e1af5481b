"""The CDAR we owe, kept in the database so a crash cannot lose it (issue 20).

A move that calls for a CDAR (a French sales invoice queued: 200, delivered: 201; a tenant's
action on a French invoice: 204/205/210/211/212; a French purchase invoice stored as a
duplicate: 213 DOUBLON) writes a ``cdar_owed`` row **in the move's own transaction**
(:meth:`CdarOutbox.owe`), so the move and the debt commit together or not at all. After the
commit a task turns the row into its messages (the emitter builds, validates and queues them
and records their ``sent`` rows) and marks it ``done``. If the process dies in between, the
recovery pass at start-up and the periodic sweep (:meth:`CdarOutbox.sweep`) finish it. This is
the shape of the AS4 MLS outbox (``gateway.as4.MlsOutbox``), plus a lease: several processes
on one PostgreSQL database sweep the same table.

Exactly once: the emitter derives each message's id and its outbound idempotency key from the
row's key and creation time (:class:`gateway.france.emit.Intent`), so a second run after a
crash between "queued" and "done" finds the outbound item (``uq_outbound_idempotency``) and
the ``sent`` row (same message id) already there and adds nothing. The lease
(``lease_until``, taken by one compare-and-set UPDATE) keeps two workers (the after-commit
task and a sweep, or two processes) off one row at a time; a dead worker's lease runs out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.france.models import CdarOwed
from gateway.lifecycle import Lifecycle
from gateway.store import Database, utcnow

log = logging.getLogger("gateway.france")

PENDING, DONE, FAILED = "pending", "done", "failed"
#: A row whose sending raised this many times is given up (``failed``, logged): sending
#: records its own refusals (``not-sent`` rows), so only an unexpected error gets here.
MAX_ATTEMPTS = 5

Pay = Callable[[CdarOwed], Awaitable[Any]]


class CdarOutbox:
    #: Seconds a worker holds a row: paying one takes a validation and two short transactions;
    #: a process killed while paying holds it this long (then a sweep takes it over). A worker
    #: slower than this and a sweep may both pay a row: the outbound idempotency key still
    #: makes that one message.
    LEASE = 30.0

    def __init__(self, db: Database, pay: Pay, *, lease: float = LEASE) -> None:
        self.db = db
        self._pay = pay
        self.lease = lease
        #: Test hook: runs after a row's messages are queued and before it is marked done
        #: (the crash point of "queued but not settled").
        self.after_pay: Callable[[str], None] | None = None
        self._tasks: dict[str, set[asyncio.Task[bool]]] = {}

    # --- in the move's transaction -----------------------------------------------------------

    async def owe(
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
        else:
            with session.no_autoflush:
                if await session.get(CdarOwed, key) is not None:
                    return
        session.add(
            CdarOwed(
                key=key,
                document_id=document_id,
                tenant=tenant,
                code=code,
                reason=reason,
                actor=actor,
                state=PENDING,
                attempts=0,
                created_at=utcnow(),
            )
        )
        Lifecycle.after_commit(session, lambda: self._start(document_id, key))

    # --- after the commit ----------------------------------------------------------------------

    def _start(self, document_id: str, key: str) -> None:
        task = asyncio.get_running_loop().create_task(self.run(key))
        tasks = self._tasks.setdefault(document_id, set())
        tasks.add(task)

        def done(t: asyncio.Task[bool]) -> None:
            tasks.discard(t)
            if not tasks:
                self._tasks.pop(document_id, None)

        task.add_done_callback(done)

    async def wait(self, document_id: str) -> None:
        """Wait for the debts of ``document_id`` this process is paying (a client's status
        change answers once its CDAR is queued, as it did before the debt was durable)."""
        tasks = list(self._tasks.get(document_id, ()))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self, key: str) -> bool:
        """Pay debt ``key`` if it is pending and no one else holds its lease; True if paid."""
        row = await self._claim(key)
        if row is None:
            return False
        try:
            await self._pay(row)
        except Exception:
            log.exception("sending an owed CDAR %s failed", row.code, extra={"key": key})
            if row.attempts >= MAX_ATTEMPTS:
                await self._settle(key, FAILED)
            else:  # again at a later sweep, not only once the whole lease has run out
                await self._release(key, min(2.0**row.attempts, self.lease))
            return False
        if self.after_pay is not None:
            self.after_pay(key)
        await self._settle(key, DONE)
        return True

    async def sweep(self, older_than: float = 0.0) -> int:
        """Pay every pending debt older than ``older_than`` seconds whose lease (if any) has
        run out: the recovery pass at start (0) and the periodic sweep. Returns how many."""
        now = utcnow()
        async with self.db.read() as s:
            keys = list(
                await s.scalars(
                    select(CdarOwed.key)
                    .where(
                        CdarOwed.state == PENDING,
                        CdarOwed.created_at <= now - dt.timedelta(seconds=older_than),
                        or_(CdarOwed.lease_until.is_(None), CdarOwed.lease_until < now),
                    )
                    .order_by(CdarOwed.created_at)
                    .limit(200)
                )
            )
        if keys:
            log.info("%d owed CDAR found pending; sending them now", len(keys))
        paid = 0
        for key in keys:
            paid += await self.run(key)
        return paid

    async def keep_sweeping(self, interval: float) -> None:
        """The recovery pass at start (every pending row), then a sweep every ``interval``
        seconds of the rows older than that (a fresh row is its after-commit task's)."""
        older_than = 0.0
        while True:
            try:
                await self.sweep(older_than)
            except Exception:
                log.exception("owed CDAR sweep failed")
            older_than = interval
            await asyncio.sleep(interval)

    async def _claim(self, key: str) -> CdarOwed | None:
        now = utcnow()
        async with self.db.write() as s:
            taken = await s.execute(
                update(CdarOwed)
                .where(
                    CdarOwed.key == key,
                    CdarOwed.state == PENDING,
                    or_(CdarOwed.lease_until.is_(None), CdarOwed.lease_until < now),
                )
                .values(
                    lease_until=now + dt.timedelta(seconds=self.lease),
                    attempts=CdarOwed.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                return None
            row = await s.get(CdarOwed, key)
            if row is not None:
                await s.refresh(row)
                s.expunge(row)
            return row

    async def _release(self, key: str, after: float) -> None:
        async with self.db.write() as s:
            await s.execute(
                update(CdarOwed)
                .where(CdarOwed.key == key, CdarOwed.state == PENDING)
                .values(lease_until=utcnow() + dt.timedelta(seconds=after))
            )

    async def _settle(self, key: str, state: str) -> None:
        async with self.db.write() as s:
            await s.execute(
                update(CdarOwed)
                .where(CdarOwed.key == key, CdarOwed.state == PENDING)
                .values(state=state, settled_at=utcnow(), lease_until=None)
            )
