"""A write transaction's statements on the event loop's thread (SQLite), not a hop each.

Why: aiosqlite runs every driver call on a thread of its own, and SQLAlchemy's adapter makes
four calls of each statement (cursor, execute, fetch, close). The group-commit writer's batch
(:mod:`gateway.inbound.storing`) is about nine statements, so ~40 hops, each a round trip
through a queue, the thread, ``call_soon_threadsafe`` and a turn of a loop that is busy with
HTTP and the validation workers' pipes; under REST ingest the writer, the serial stage, was busy
98% of the wall time for batches of 6 documents at 24 ms, and py-spy put 24-40% of the main
thread's samples on aiosqlite's ``await future``. The statements themselves are small: a few
index searches and inserts of rows the batch holds.

Running them on the loop is safe because of when: inside a write transaction the write lock is
held (``BEGIN IMMEDIATE`` took it), and in WAL mode no reader blocks a writer, so a statement
there never waits. What can wait still goes to the thread: the ``BEGIN`` (it waits up to the
busy timeout for another process's write lock) and the ``COMMIT`` (it may checkpoint the WAL,
with an fsync). And only where asked (``Database.write(on_loop=True)``), for transactions whose
statements are bounded by what they write: a long purge or migration keeps its hops and never
stalls the loop. PostgreSQL and in-memory databases are unaffected. The pool's rollback of a
connection it takes back after a COMMIT (nothing left to undo) runs on the loop too, in any
transaction (:func:`_idle_rollback`).
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.engine import URL

#: Set for the statements of a ``Database.write(on_loop=True)`` transaction (the task's context).
_ON_LOOP: contextvars.ContextVar[bool] = contextvars.ContextVar("store_on_loop", default=False)


@contextlib.contextmanager
def on_loop(enabled: bool = True) -> Iterator[None]:
    """Statements of this block run on the loop where :class:`LoopConnection` serves them
    (``enabled=False``: on the driver's thread, also in a task started inside an on-loop
    block, which inherits its context)."""
    token = _ON_LOOP.set(enabled)
    try:
        yield
    finally:
        _ON_LOOP.reset(token)


class LoopConnection(aiosqlite.Connection):
    """aiosqlite's connection, running a call on the caller's thread inside :func:`on_loop`
    unless it is one that may wait (see the module docstring)."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        conn = self._connection
        if conn is not None and (
            (_ON_LOOP.get() and not _may_wait(fn, args)) or _idle_rollback(conn, fn)
        ):
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)


def _may_wait(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    name = getattr(fn, "__name__", "")
    if name == "commit":
        return True
    return name == "execute" and bool(args) and _is_begin(args[0])


def _idle_rollback(conn: sqlite3.Connection, fn: Callable[..., Any]) -> bool:
    """A rollback with no transaction open: the pool's reset of every connection it takes
    back, after each COMMIT. sqlite3 returns at once without calling SQLite then (it checks
    the autocommit flag itself), so it costs nothing on the loop, and one hop less per write
    transaction (they were BEGIN, COMMIT and this one): 0.72-0.74 -> 0.62-0.65 ms of CPU for
    an empty write transaction (in-process loop of 1,500). Any call is the caller's alone:
    the pool hands a connection to one user at a time and aiosqlite runs its calls in order."""
    return getattr(fn, "__name__", "") == "rollback" and not conn.in_transaction


def _is_begin(sql: Any) -> bool:
    return isinstance(sql, str) and sql.lstrip()[:5].upper() == "BEGIN"


def loop_creator(url: URL, **connect_args: Any) -> Callable[[], Awaitable[LoopConnection]] | None:
    """``create_async_engine(async_creator=...)`` for a SQLite file at ``url`` (the dialect's
    own connect arguments, plus ``connect_args``); None for an in-memory database."""
    if url.database in (None, "", ":memory:") or "mode=memory" in str(url):
        return None
    cargs, cparams = url.get_dialect()().create_connect_args(url)
    cparams = {**cparams, **connect_args, "check_same_thread": False}  # the loop and the thread

    async def create() -> LoopConnection:
        conn = LoopConnection(partial(sqlite3.connect, *cargs, **cparams), iter_chunk_size=64)
        conn._thread.daemon = True  # as SQLAlchemy's aiosqlite dialect does for its own
        return await conn

    return create
