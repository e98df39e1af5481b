"""Work owed after a commit, kept in the database so a crash cannot lose it.

A move that calls for a message (a CDAR, an Invoice Response, ...) writes a row of the
feature's owed table **in the move's own transaction** (:meth:`Outbox.owe`): the move and the
debt commit together or not at all. After the commit a task pays the row (the feature's
``pay``: build, validate, queue, record) and marks it ``done``. If the process dies in
between, the recovery pass at start-up and the periodic sweep (:meth:`Outbox.sweep`, run by
:class:`gateway.owed.Sweeps`, which the app factory wires) pay it.

Exactly once is split between this module and the payer:
- here, a **lease** (``lease_until``, taken by one compare-and-set UPDATE) keeps two workers
  (the after-commit task and a sweep, or two processes on one PostgreSQL database) off one row
  at a time; a dead worker's lease runs out and a sweep takes the row over;
- the payer derives its messages' ids and idempotency keys from the row (``key``,
  ``created_at``), and looks its records up before writing them, so a second payment after a
  crash between "queued" and "done" (or after a lease ran out under a slow worker) adds nothing.

A feature whose payment needs what only the moving process has in memory (the AS4 channel's
MLS answers from the validation report of the message it has just received) writes its row
with :meth:`Outbox.add` instead of :meth:`Outbox.owe` and pays it itself after the commit with
``run(key, pay=...)``; the outbox's own payer, which works from the row, is what the recovery
pass and the sweeps use. A payer may return the state the row settles in (one of the outbox's
``outcomes``, e.g. the MLS outbox's ``queued`` / ``skipped``); anything else settles it
``done``.

A payment that raises is released with a backoff (2^attempts s, at most the lease) and given
up (``failed``, logged) after ``max_attempts``: payers record their own refusals (``not-sent``
rows), so only an unexpected error gets here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.owed.columns import DONE, FAILED, PENDING, OwedColumns
from gateway.store import Database, utcnow

log = logging.getLogger("gateway.owed")

Row = TypeVar("Row", bound=OwedColumns)


class Outbox(Generic[Row]):
    #: Seconds a worker holds a row: paying one takes a validation and two short transactions;
    #: a process killed while paying holds it this long (then a sweep takes it over). A worker
    #: slower than this and a sweep may both pay a row: the payer's idempotency keys still
    #: make that one message.
    LEASE = 30.0
    MAX_ATTEMPTS = 5
    #: Rows one sweep reads (oldest first); the next sweep goes on.
    BATCH = 200

    def __init__(
        self,
        db: Database,
        table: type[Row],
        pay: Callable[[Row], Awaitable[Any]],
        *,
        what: str,
        lease: float = LEASE,
        max_attempts: int = MAX_ATTEMPTS,
        outcomes: frozenset[str] = frozenset({DONE}),
    ) -> None:
        self.db = db
        self.table = table
        self._pay = pay
        #: Names the debts in logs ("owed CDAR", "owed invoice response").
        self.what = what
        self.lease = lease
        self.max_attempts = max_attempts
        #: The states a paid row may settle in (what the payer returns; else ``done``).
        self.outcomes = outcomes
        #: Test hook: runs after a row is paid and before it is marked done (the crash point
        #: of "queued but not settled").
        self.after_pay: Callable[[str], None] | None = None
        self._tasks: dict[str, set[asyncio.Task[bool]]] = {}

    # --- in the move's transaction -----------------------------------------------------------

    async def owe(self, session: AsyncSession, row: Row, *, group: str) -> None:
        """Add ``row`` (state pending) to ``session``; once the transaction commits a task pays
        it. ``group`` (e.g. the document id) is what :meth:`wait` waits for."""
        self.add(session, row)
        key = row.key
        event.listen(
            session.sync_session, "after_commit", lambda _s: self._start(group, key), once=True
        )

    def add(self, session: AsyncSession, row: Row) -> None:
        """Add ``row`` (state pending) to ``session`` with no task after the commit: the caller
        pays it itself with ``run(row.key, pay=...)`` once committed, and the recovery pass or a
        sweep does if the process dies first."""
        row.state, row.attempts = PENDING, 0
        if row.created_at is None:
            row.created_at = utcnow()
        session.add(row)

    async def on_record(self, session: AsyncSession, key: str) -> bool:
        """Is debt ``key`` on record already (a debt owed at most once ever)?"""
        with session.no_autoflush:
            return await session.get(self.table, key) is not None

    # --- after the commit ----------------------------------------------------------------------

    def _start(self, group: str, key: str) -> None:
        task = asyncio.get_running_loop().create_task(self.run(key))
        tasks = self._tasks.setdefault(group, set())
        tasks.add(task)

        def done(t: asyncio.Task[bool]) -> None:
            tasks.discard(t)
            if not tasks:
                self._tasks.pop(group, None)

        task.add_done_callback(done)

    async def wait(self, group: str) -> None:
        """Wait for the debts of ``group`` this process is paying (a client's status change
        answers once its message is queued, as it did before the debt was durable)."""
        tasks = list(self._tasks.get(group, ()))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self, key: str, pay: Callable[[Row], Awaitable[Any]] | None = None) -> bool:
        """Pay debt ``key`` if it is pending and no one else holds its lease; True if paid.

        ``pay`` pays it this once instead of the outbox's payer, under the same lease, backoff
        and settling: a caller that holds what the payment needs in memory (the hot path) saves
        reading it back; the recovery pass and the sweeps use the outbox's payer."""
        row = await self._claim(key)
        if row is None:
            return False
        try:
            outcome = await (pay or self._pay)(row)
        except Exception:
            log.exception("paying an %s failed", self.what, extra={"key": key})
            if row.attempts >= self.max_attempts:
                await self._settle(key, FAILED)
            else:  # again at a later sweep, not only once the whole lease has run out
                await self._release(key, min(2.0**row.attempts, self.lease))
            return False
        if self.after_pay is not None:
            self.after_pay(key)
        await self._settle(
            key, outcome if isinstance(outcome, str) and outcome in self.outcomes else DONE
        )
        return True

    async def sweep(self, older_than: float = 0.0, *, until: asyncio.Event | None = None) -> int:
        """Pay every pending debt older than ``older_than`` seconds whose lease (if any) has
        run out: the recovery pass at start (0) and the periodic sweep. Returns how many.
        Once ``until`` is set (shutdown) no further debt is taken: the rest stay pending for
        the next sweep or start."""
        t = self.table
        now = utcnow()
        async with self.db.read() as s:
            keys = list(
                await s.scalars(
                    select(t.key)
                    .where(
                        t.state == PENDING,
                        t.created_at <= now - dt.timedelta(seconds=older_than),
                        or_(t.lease_until.is_(None), t.lease_until < now),
                    )
                    .order_by(t.created_at)
                    .limit(self.BATCH)
                )
            )
        if keys:
            log.info("%d %s found pending; paying them now", len(keys), self.what)
        paid = 0
        for key in keys:
            if until is not None and until.is_set():
                break
            paid += await self.run(key)
        return paid

    async def _claim(self, key: str) -> Row | None:
        t = self.table
        now = utcnow()
        async with self.db.write() as s:
            taken = await s.execute(
                update(t)
                .where(
                    t.key == key,
                    t.state == PENDING,
                    or_(t.lease_until.is_(None), t.lease_until < now),
                )
                .values(lease_until=now + dt.timedelta(seconds=self.lease), attempts=t.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                return None
            row = await s.get(t, key)
            if row is not None:
                await s.refresh(row)
                s.expunge(row)
            return row

    async def _release(self, key: str, after: float) -> None:
        t = self.table
        async with self.db.write() as s:
            await s.execute(
                update(t)
                .where(t.key == key, t.state == PENDING)
                .values(lease_until=utcnow() + dt.timedelta(seconds=after))
            )

    async def _settle(self, key: str, state: str) -> None:
        t = self.table
        async with self.db.write() as s:
            await s.execute(
                update(t)
                .where(t.key == key, t.state == PENDING)
                .values(state=state, settled_at=utcnow(), lease_until=None)
            )
