"""Write transactions on the loop (``Database.write(on_loop=True)``, ``gateway.store.loopwrites``).

On a SQLite file, the statements between BEGIN and COMMIT of such a transaction run on the
event loop's thread; the BEGIN IMMEDIATE (which waits for another process's write lock) and the
COMMIT still run on aiosqlite's thread, so a writer that must wait never stalls the loop. A
plain ``write()`` keeps every statement on the driver's thread.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import select, text

from gateway.config import load_settings
from gateway.store import Database, Tenant, repo, upgrade


async def _database(tmp_path: Path) -> Database:
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    return db


async def _thread_of_statements(db: Database, *, on_loop: bool) -> int:
    """The thread SQLite ran a statement of a write transaction on."""
    async with db.write(on_loop=on_loop) as s:
        raw = await (await s.connection()).get_raw_connection()
        await raw.driver_connection.create_function("tid", 0, threading.get_ident)
        await repo.ensure_tenant(s, "acme")
        return int(await s.scalar(text("SELECT tid()")))


async def test_statements_of_an_on_loop_write_run_on_the_loop_and_others_on_the_driver_thread(
    tmp_path: Path,
) -> None:
    db = await _database(tmp_path)
    try:
        loop_thread = threading.get_ident()
        assert await _thread_of_statements(db, on_loop=True) == loop_thread
        assert await _thread_of_statements(db, on_loop=False) != loop_thread
        # And what the on-loop transaction wrote was committed.
        async with db.read() as s:
            assert await s.scalar(select(Tenant.name).where(Tenant.name == "acme")) == "acme"
    finally:
        await db.dispose()


async def test_an_on_loop_write_waiting_for_another_writer_does_not_stall_the_loop(
    tmp_path: Path,
) -> None:
    db = await _database(tmp_path)
    path = db.engine.url.database
    assert path is not None
    held, release = threading.Event(), threading.Event()

    def other_process_writes() -> None:  # another process's write transaction, for 1 s
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(10)
        conn.execute("ROLLBACK")
        conn.close()

    other = threading.Thread(target=other_process_writes)
    other.start()
    try:
        assert await asyncio.to_thread(held.wait, 10)
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.02)

        ticking = asyncio.create_task(ticker())
        asyncio.get_running_loop().call_later(1.0, release.set)
        t0 = time.monotonic()
        async with db.write(on_loop=True) as s:  # its BEGIN IMMEDIATE waits ~1 s
            await repo.ensure_tenant(s, "acme")
        waited = time.monotonic() - t0
        ticking.cancel()
        assert waited >= 0.9, waited
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        assert len(ticks) > 20 and max(gaps) < 0.5, (len(ticks), max(gaps, default=None))
    finally:
        release.set()
        other.join()
        await db.dispose()


async def test_the_pools_rollback_after_a_commit_is_no_hop_to_the_driver_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An on-loop write transaction goes to the driver's thread for its BEGIN and COMMIT only:
    the pool's reset (a rollback of a connection with nothing open) runs where it is called.
    A rollback of an open transaction still goes to the thread."""
    db = await _database(tmp_path)
    hops: list[str] = []
    hop = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", "?"))
        return await hop(self, fn, *args, **kwargs)

    try:
        async with db.write(on_loop=True) as s:  # the pool's connection, opened
            await repo.ensure_tenant(s, "acme")
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with db.write(on_loop=True) as s:
            await repo.ensure_tenant(s, "beta")
        assert hops == ["execute", "commit"]  # BEGIN IMMEDIATE, COMMIT
        hops.clear()
        with pytest.raises(RuntimeError):
            async with db.write(on_loop=True) as s:
                await repo.ensure_tenant(s, "gamma")
                raise RuntimeError("undo")
        assert hops == ["execute", "rollback"]  # an open transaction: rolled back on the thread
        async with db.read() as s:
            names = set(await s.scalars(select(Tenant.name)))
        assert {"acme", "beta"} <= names and "gamma" not in names
    finally:
        await db.dispose()
