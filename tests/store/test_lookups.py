"""Point reads (``Database.first`` / ``Database.scalar``, ``gateway.store.lookups``).

On SQLite they run on a connection of their own on the loop's thread, which can never write
and never waits: a read that meets a lock goes the ordinary way (the async read engine, which
waits for it in its driver thread) while the loop keeps running. On PostgreSQL they run on the
async read engine without a session.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, event, select, text
from sqlalchemy.exc import OperationalError

from gateway.config import load_settings
from gateway.store import Database, Participant, repo, upgrade

TENANT_OF = select(Participant.tenant).where(Participant.id == bindparam("pid"))


async def _database(tmp_path: Path, url: str = "") -> Database:
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path), "database_url": url})
    db = Database.from_settings(settings)
    await upgrade(db.engine)
    return db


async def _fill(db: Database) -> None:
    async with db.write() as s:
        await repo.add_participant(s, "acme", "0088:111")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_point_reads_see_what_committed(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_database") if backend == "postgresql" else ""
    db = await _database(tmp_path, url)
    try:
        assert await db.scalar(TENANT_OF, {"pid": "0088:111"}) is None
        await _fill(db)
        assert await db.scalar(TENANT_OF, {"pid": "0088:111"}) == "acme"
        assert (await db.first(TENANT_OF, {"pid": "0088:111"})).tenant == "acme"
        assert await repo.tenant_for_participant(db, "0088:111") == "acme"
        async with db.read() as s:  # the same prepared statement through a session
            assert await repo.tenant_for_participant(s, "0088:111") == "acme"
        assert await db.scalar(TENANT_OF, {"pid": "0088:222"}) is None
        # SQLite: an engine of its own, and no read transaction on the async read engine.
        engines = db.sync_engines()
        assert len(engines) == (3 if backend == "sqlite" else 1)
    finally:
        await db.dispose()


async def test_sqlite_point_reads_run_on_the_loop_without_a_transaction(tmp_path: Path) -> None:
    db = await _database(tmp_path)
    await _fill(db)
    read = db.read_engine.sync_engine
    point = (db.sync_engines() - {db.engine.sync_engine, read}).pop()
    seen: dict[str, list[str]] = {"read": [], "point": []}
    threads: set[int] = set()

    def on_read(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen["read"].append(sql)

    def on_point(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen["point"].append(sql)
        threads.add(threading.get_ident())

    event.listen(read, "before_cursor_execute", on_read)
    event.listen(point, "before_cursor_execute", on_point)
    try:
        for _ in range(3):
            assert await db.scalar(TENANT_OF, {"pid": "0088:111"}) == "acme"
    finally:
        event.remove(read, "before_cursor_execute", on_read)
        event.remove(point, "before_cursor_execute", on_point)
        await db.dispose()
    assert seen["read"] == []
    assert len(seen["point"]) == 3 and not any("BEGIN" in s for s in seen["point"])
    assert threads == {threading.get_ident()}  # the loop's own thread: no hop


async def test_the_point_read_connection_cannot_write(tmp_path: Path) -> None:
    db = await _database(tmp_path)
    try:
        with pytest.raises(OperationalError, match="readonly"):
            await db.first(text("DELETE FROM participants"))
    finally:
        await db.dispose()


async def test_a_locked_database_is_waited_for_off_the_loop(tmp_path: Path) -> None:
    """Another connection holds the database exclusively (``locking_mode=EXCLUSIVE``: the one
    way a WAL reader meets SQLITE_BUSY on demand). The point read does not wait on the loop:
    it goes through the async read engine, whose driver thread waits; the loop keeps ticking
    and the read returns the row once the lock is gone."""
    db = await _database(tmp_path)
    await _fill(db)
    path = db.engine.url.database
    await db.dispose()  # no connection of ours holds the file open now
    db = await _database(tmp_path)
    await db.dispose()
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE participants SET tenant = 'acme2'")
        conn.execute("COMMIT")
        locked.set()
        release.wait(10)
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    db = Database.from_settings(
        load_settings(env={}, overrides={"data_dir": str(tmp_path)})
    )  # not upgraded again: that would wait for the lock on the loop
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    threading.Timer(0.5, release.set).start()
    started = time.perf_counter()
    try:
        assert await db.scalar(TENANT_OF, {"pid": "0088:111"}) == "acme2"
    finally:
        ticker.cancel()
        holder.join(10)
        await db.dispose()
    assert time.perf_counter() - started >= 0.4  # it did wait for the lock ...
    assert ticks >= 10  # ... and not on the loop (0.5 s of 10 ms ticks: ~50)
