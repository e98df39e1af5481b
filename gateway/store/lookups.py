"""Point reads: one indexed lookup, without a session, and on SQLite without a thread hop.

Why: the AS4 receive path reads three small facts per message before it writes anything (is
the MessageId on record, is the SBDH instance, which tenant serves the receiver) and the intake
of a network channel one (the tenant of a receiver id). Through an ORM session on aiosqlite
each such read is ~9 hops to the driver's thread and back (BEGIN, cursor, execute, fetch,
close, ROLLBACK), and SQLAlchemy builds the statement anew each time: 2.5-3.0 ms of CPU per
read on the shared 2-core VM. The same statement, built once and run with its values as
parameters on a connection of its own on the event loop's thread, takes 0.08 ms (in-process
loops of 2,000-5,000 reads, 2026-12-01; raw ``sqlite3`` 0.01 ms).

Running it on the loop is safe because of what it is: one statement that an index answers
(a few page reads), in autocommit, on a database in WAL mode, where a reader never waits for a
writer (it reads the last commit). It never waits at all: the connection has no busy timeout
and is ``query_only``; should SQLite answer ``SQLITE_BUSY`` (rare in WAL: another process
recovering the log), the read goes the ordinary way, through the async read engine. An
in-memory database (another connection would see another database) always goes that way.

On PostgreSQL the network round trips must not block the loop: the statement runs on the async
read engine's pool, still without an ORM session (half the CPU of ``Database.read``).
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable


class PointReads:
    """``first``/``scalar`` of a prepared statement (values as bound parameters)."""

    def __init__(self, read_engine: AsyncEngine) -> None:
        self.read_engine = read_engine
        self.engine = _loop_engine(read_engine)
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # one connection; a second thread's loop waits its turn

    async def first(self, stmt: Executable, params: dict[str, Any] | None = None) -> Row | None:
        if self.engine is not None:
            try:
                with self._lock:
                    return self._connection().execute(stmt, params or {}).first()
            except OperationalError as exc:
                if not _busy(exc):
                    raise
        async with self.read_engine.connect() as conn:
            return (await conn.execute(stmt, params or {})).first()

    async def scalar(self, stmt: Executable, params: dict[str, Any] | None = None) -> Any:
        row = await self.first(stmt, params)
        return None if row is None else row[0]

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            assert self.engine is not None
            self._conn = self.engine.connect()
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self.engine is not None:
                self.engine.dispose()


def _loop_engine(read_engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file (None: not a file database)."""
    url = read_engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if "mode=memory" in str(url):
        return None
    engine = create_engine(
        url.set(drivername="sqlite"),
        isolation_level="AUTOCOMMIT",  # no BEGIN/ROLLBACK: the statement is its own snapshot
        pool_reset_on_return=None,
        connect_args={"timeout": 0, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=ON")  # this connection can never write
        cur.close()

    return engine


def _busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text
