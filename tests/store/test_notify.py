"""Wake-ups across processes (:class:`gateway.store.Wakeups`): a commit's ``NOTIFY`` reaches
the other listeners and not the sender's own, a rollback's never; the listener comes back
after its backend is killed; stopping leaves no task and no connection; SQLite does nothing
(real PostgreSQL; each ``Database`` stands for one process)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.config import load_settings
from gateway.store import Database, Wakeups
from tests.waiting import until

CHANNEL = "gw_test_wakeups"


def _database(tmp_path: Path, url: str = "") -> Database:
    settings = load_settings(env={}, overrides={"data_dir": str(tmp_path), "database_url": url})
    return Database.from_settings(settings)


class Counted:
    """A subscriber that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
async def pair(tmp_path: Path, pg_database: str) -> AsyncIterator[tuple[Wakeups, Wakeups]]:
    """Two "processes" on one database: ``here`` listens, ``there`` only announces."""
    dbs = [_database(tmp_path, pg_database), _database(tmp_path, pg_database)]
    here, there = Wakeups(dbs[0], CHANNEL), Wakeups(dbs[1], CHANNEL)
    yield here, there
    await here.stop()
    for db in dbs:
        await db.dispose()


async def _announce(wakeups: Wakeups, *, commit: bool = True) -> None:
    async with wakeups.db.sessions() as s:
        await s.begin()
        await wakeups.announce(s)
        await (s.commit() if commit else s.rollback())


async def _listening(wakeups: Wakeups, counted: Counted) -> int:
    """Start (or wait for a restart) until it listens and has made its connect-time wake."""
    before = counted.calls
    wakeups.start()
    await until(lambda: wakeups.backend_pid is not None and counted.calls > before, timeout=10)
    assert wakeups.backend_pid is not None
    return wakeups.backend_pid


async def _backends(db: Database, pid: int) -> int:
    async with db.read() as s:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        return int(await s.scalar(query, {"pid": pid}) or 0)


@pytest.mark.postgres
async def test_a_commit_elsewhere_wakes_the_listener_a_rollback_and_its_own_do_not(
    pair: tuple[Wakeups, Wakeups],
) -> None:
    here, there = pair
    counted = Counted()
    here.subscribe(counted)
    await _listening(here, counted)
    start = counted.calls
    await _announce(there, commit=False)
    await _announce(here)  # its own: the in-process wake covers it
    await asyncio.sleep(1.0)
    assert counted.calls == start
    await _announce(there)
    await until(lambda: counted.calls == start + 1, timeout=3)
    await asyncio.sleep(0.3)
    assert counted.calls == start + 1  # once per commit


@pytest.mark.postgres
async def test_the_listener_comes_back_after_its_backend_is_killed(
    pair: tuple[Wakeups, Wakeups], caplog: pytest.LogCaptureFixture
) -> None:
    here, there = pair
    counted = Counted()
    here.subscribe(counted)
    first = await _listening(here, counted)
    woke = counted.calls
    async with there.db.write() as s:
        await s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    with caplog.at_level(logging.WARNING, "gateway.store.notify"):
        await until(lambda: here.backend_pid not in (None, first), timeout=10, what="a new backend")
    assert any("wake-up listener failed" in r.getMessage() for r in caplog.records)
    await until(lambda: counted.calls > woke, timeout=3)  # reconnected: one wake for the gap
    woke = counted.calls
    await _announce(there)
    await until(lambda: counted.calls == woke + 1, timeout=3, what="a wake after reconnecting")


@pytest.mark.postgres
async def test_stop_leaves_no_task_and_no_connection(pair: tuple[Wakeups, Wakeups]) -> None:
    here, there = pair
    counted = Counted()
    here.subscribe(counted)
    pid = await _listening(here, counted)
    assert await _backends(there.db, pid) == 1
    await here.stop()
    assert here.backend_pid is None
    assert not [t for t in asyncio.all_tasks() if t.get_name() == f"listen-{CHANNEL}"]

    async def gone() -> bool:
        return await _backends(there.db, pid) == 0

    await until(gone, timeout=5, what="the listening backend gone")
    await here.stop()  # twice is fine


async def test_on_sqlite_it_does_nothing(tmp_path: Path) -> None:
    db = _database(tmp_path)
    wakeups = Wakeups(db, CHANNEL)
    assert not wakeups.active
    async with db.write() as s:
        await wakeups.announce(s)  # no statement: SQLite has no pg_notify
    wakeups.start()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == f"listen-{CHANNEL}"]
    await wakeups.stop()
    await db.dispose()
