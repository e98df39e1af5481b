"""Wake-ups across processes on PostgreSQL: ``NOTIFY`` in the committing transaction,
``LISTEN`` on one dedicated connection per process.

Why: several gateway processes may share one PostgreSQL database. Work one of them queued woke
only its own loops at once (e.g. its outbound worker); the others found it when their idle poll
came round (``[outbound] idle_poll_max``, 5 s, backed off), so a document submitted to one
``gateway serve`` waited seconds for a delivery-only ``gateway outbound run``. A notification
sent with ``pg_notify`` inside a transaction is delivered when, and only when, that transaction
commits (never for a rollback; the same one twice in a transaction, once), to every session of
the same database listening on the channel: the other processes' loops wake within
milliseconds of the commit.

A notification is a hint, never the work: one sent while a listener is reconnecting is lost.
So every loop keeps its idle poll as the safety net, and a listener that (re)connects wakes its
loops once (something may have been committed while it was away). A process ignores its own
notifications (their payload is its :attr:`Wakeups.origin`): its in-process wake came first, and
a second one would only cost its loop an empty turn.

The listening connection is one of the engine's own (:meth:`AsyncEngine.raw_connection`,
detached from the pool): the same host, credentials, TLS and connect arguments as every other,
and it holds no pool slot. SQLite is one process: :meth:`Wakeups.announce` and
:meth:`Wakeups.start` do nothing there.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.db import Database
from gateway.wake import ended, woken

log = logging.getLogger(__name__)

#: Seconds between checks that the listening connection still answers: a connection the
#: network dropped without a reset shows nothing until a statement on it times out.
KEEPALIVE = 30.0
#: Seconds before the first reconnection attempt; doubled per failure up to BACKOFF_MAX.
BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0

_NOTIFY = text("SELECT pg_notify(:channel, :origin)")


class Wakeups:
    """One channel's wake-ups: :meth:`announce` in a transaction, :meth:`subscribe` +
    :meth:`start` / :meth:`stop` for the callbacks the other processes' commits call."""

    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel
        #: This object's notifications carry it; its own listener skips them.
        self.origin = secrets.token_hex(8)
        self.active = not db.is_sqlite
        #: The PostgreSQL backend listening right now (None while not connected).
        self.backend_pid: int | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._interrupt = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def announce(self, session: AsyncSession) -> None:
        """Wake the other processes' subscribers when ``session``'s transaction commits."""
        if self.active:
            await session.execute(_NOTIFY, {"channel": self.channel, "origin": self.origin})

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in the event loop, quickly) on every other process's commit."""
        self._callbacks.append(callback)

    def start(self) -> None:
        """Listen in the background (PostgreSQL only; once)."""
        if self.active and self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"listen-{self.channel}")

    async def stop(self) -> None:
        """Stop listening and close the connection (the loop leaves by itself when told)."""
        self._stopping = True
        self._interrupt.set()
        await ended(self._task)
        self._task = None

    # --- the listening loop -----------------------------------------------------------------

    async def _run(self) -> None:
        delay = BACKOFF_MIN
        while not self._stopping:
            since = time.monotonic()
            failure = await self._listen_once()
            if failure is None:
                continue  # told to stop
            if time.monotonic() - since > KEEPALIVE:
                delay = BACKOFF_MIN  # it had been listening a while: not a flapping server
            await self._pause(delay, failure)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _listen_once(self) -> Exception | None:
        """Connect and listen until told to stop (None) or until that fails (the error)."""
        try:
            conn = await self._connect()
        except Exception as exc:
            return exc
        try:
            await self._serve(conn)
        except Exception as exc:
            return exc
        finally:
            await self._close(conn)
        return None

    async def _connect(self) -> Any:
        raw = await self.db.engine.raw_connection()
        conn = raw.driver_connection
        raw.detach()  # ours until we close it; the pool opens another in its place
        try:
            await conn.add_listener(self.channel, self._received)
        except BaseException:
            await self._close(conn)
            raise
        return conn

    async def _serve(self, conn: Any) -> None:
        """Listen until told to stop (returns) or the connection is gone (raises)."""
        conn.add_termination_listener(lambda _conn: self._interrupt.set())
        self.backend_pid = conn.get_server_pid()
        log.info("listening for wake-ups", extra={"channel": self.channel})
        self._wake()  # work may have been committed while we were not listening
        while not self._stopping:
            self._interrupt.clear()
            if conn.is_closed():
                raise ConnectionError("the listening connection was closed")
            if not await woken(self._interrupt, KEEPALIVE):
                await conn.fetchval("SELECT 1", timeout=KEEPALIVE)

    async def _pause(self, delay: float, failure: Exception) -> None:
        log.warning(
            "wake-up listener failed (%r); listening again in %.1f s, the idle poll finds "
            "work meanwhile",
            failure,
            delay,
            extra={"channel": self.channel},
        )
        self._interrupt.clear()
        if not self._stopping:
            await woken(self._interrupt, delay)

    async def _close(self, conn: Any) -> None:
        self.backend_pid = None
        try:
            await conn.close(timeout=5.0)
        except Exception:
            conn.terminate()

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload != self.origin:
            self._wake()

    def _wake(self) -> None:
        for callback in self._callbacks:
            callback()
