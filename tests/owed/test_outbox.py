"""The generic owed-work outbox (``gateway.owed``), on a table of its own, on SQLite and on
PostgreSQL (when ``GATEWAY_TEST_POSTGRES_URL`` is set).

Two :class:`Database` objects on one database stand for two processes (each has its own
connections and, on SQLite, its own writer lock). What is checked:
- a debt commits with the transaction that owes it or not at all, and is paid once after the
  commit (``wait`` returns when it is);
- the lease: two workers racing for one row pay it once; a dead worker's row is left alone
  while its lease runs and taken over by the sweep once it has run out;
- a payer that raises is retried with a backoff and given up after ``max_attempts``;
- the root's :class:`Sweeps` runs every registered outbox's recovery pass.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import String, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.config import load_settings
from gateway.owed import DONE, FAILED, PENDING, Outbox, OwedColumns, Sweeps
from gateway.store import Database, utcnow


class _Base(DeclarativeBase):
    pass


class Debt(OwedColumns, _Base):
    __tablename__ = "test_owed_debts"

    what: Mapped[str] = mapped_column(String(50))


class Payer:
    """Records each payment; ``delay`` makes a payment slow (the lease race), ``fail`` makes
    the first ``fail`` payments raise."""

    def __init__(self, delay: float = 0.0, fail: int = 0) -> None:
        self.paid: list[str] = []
        self.delay, self.fail = delay, fail

    async def __call__(self, row: Debt) -> None:
        if self.fail > 0:
            self.fail -= 1
            raise RuntimeError("the network is down")
        await asyncio.sleep(self.delay)
        self.paid.append(row.key)


@pytest.fixture
async def dbs(store_url: str, tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """Two processes' views of one database with the test table."""
    conf = load_settings(env={}, overrides={"database_url": store_url, "data_dir": str(tmp_path)})
    one, two = Database.from_settings(conf), Database.from_settings(conf)
    async with one.engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    yield one, two
    await one.dispose()
    await two.dispose()


async def _states(db: Database) -> dict[str, tuple[str, int]]:
    async with db.read() as s:
        return {r.key: (r.state, r.attempts) for r in await s.scalars(select(Debt))}


async def test_a_debt_commits_with_its_transaction_and_is_paid_once(dbs: Any) -> None:
    db, _ = dbs
    pay = Payer()
    outbox = Outbox(db, Debt, pay, what="test debt")
    async with db.write() as s:
        await outbox.owe(s, Debt(key="a", what="x"), group="doc-1")
    await outbox.wait("doc-1")
    assert pay.paid == ["a"]
    assert (await _states(db))["a"] == (DONE, 1)
    # A transaction that rolls back owes nothing and pays nothing.
    with pytest.raises(RuntimeError):
        async with db.write() as s:
            await outbox.owe(s, Debt(key="b", what="x"), group="doc-2")
            raise RuntimeError("the move failed")
    await asyncio.sleep(0.05)
    await outbox.wait("doc-2")
    assert pay.paid == ["a"] and "b" not in await _states(db)
    # Paid debts are not paid again by a sweep.
    assert await outbox.sweep() == 0 and pay.paid == ["a"]
    async with db.read() as s:
        assert await outbox.on_record(s, "a") and not await outbox.on_record(s, "b")


async def test_two_processes_racing_for_a_debt_pay_it_once(dbs: Any) -> None:
    one, two = dbs
    pay = Payer(delay=0.3)
    a, b = Outbox(one, Debt, pay, what="test debt"), Outbox(two, Debt, pay, what="test debt")
    a._start = lambda *_: None  # type: ignore[method-assign]  # the sweeps race instead
    async with one.write() as s:
        for i in range(5):
            await a.owe(s, Debt(key=f"k{i}", what="x"), group="g")
    paid = await asyncio.gather(a.sweep(), b.sweep(), a.sweep(), b.sweep())
    assert sum(paid) == 5
    assert sorted(pay.paid) == [f"k{i}" for i in range(5)]  # each once
    assert set((await _states(one)).values()) == {(DONE, 1)}


async def test_a_dead_workers_debt_waits_for_its_lease_then_the_sweep_pays_it(dbs: Any) -> None:
    one, two = dbs
    pay = Payer()
    dying = Outbox(one, Debt, pay, what="test debt", lease=60.0)

    def die(_key: str) -> None:
        raise SystemExit("killed after paying, before settling")

    dying.after_pay = die
    dying._start = lambda *_: None  # type: ignore[method-assign]
    async with one.write() as s:
        await dying.owe(s, Debt(key="k", what="x"), group="g")
    with pytest.raises(SystemExit):
        await dying.sweep()
    assert pay.paid == ["k"] and (await _states(one))["k"] == (PENDING, 1)
    # Another process: the row is leased (the dead one's lease runs for a minute).
    survivor = Sweeps()
    other = Outbox(two, Debt, pay, what="test debt")
    survivor.register(other, 3600)
    assert await survivor.recover() == 0 and pay.paid == ["k"]
    async with two.write() as s:  # a minute later
        await s.execute(update(Debt).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
    assert await survivor.recover() == 1
    # Paid twice: the payer's idempotency keys (its own business) make that one message.
    assert pay.paid == ["k", "k"] and (await _states(two))["k"] == (DONE, 2)


async def test_a_failing_payer_backs_off_and_is_given_up(dbs: Any) -> None:
    db, _ = dbs
    pay = Payer(fail=10)
    outbox = Outbox(db, Debt, pay, what="test debt", max_attempts=3)
    outbox._start = lambda *_: None  # type: ignore[method-assign]
    async with db.write() as s:
        await outbox.owe(s, Debt(key="k", what="x"), group="g")
    assert await outbox.sweep() == 0
    assert (await _states(db))["k"] == (PENDING, 1)
    assert await outbox.sweep() == 0  # backing off (2 s): not taken again at once
    assert (await _states(db))["k"] == (PENDING, 1)
    for _ in range(2):
        async with db.write() as s:
            await s.execute(update(Debt).values(lease_until=None))
        assert await outbox.sweep() == 0
    assert (await _states(db))["k"] == (FAILED, 3)
    async with db.write() as s:
        await s.execute(update(Debt).values(lease_until=None))
    assert await outbox.sweep() == 0 and pay.fail == 7  # given up: never tried again


async def test_a_hot_path_pays_its_own_debt_from_memory_and_names_the_outcome(dbs: Any) -> None:
    """``add`` owes without an after-commit task; ``run(key, pay=...)`` pays under the lease
    with the caller's payer; a payer's return value that is one of the ``outcomes`` is the
    state the row settles in (anything else: done)."""
    db, _ = dbs
    stored, in_memory = Payer(), []

    async def pay_from_memory(row: Debt) -> str:
        in_memory.append(row.key)
        return "skipped" if row.key == "s" else "queued"

    outbox = Outbox(db, Debt, stored, what="test debt", outcomes=frozenset({"queued", "skipped"}))
    async with db.write() as s:
        for key in ("q", "s", "left"):
            outbox.add(s, Debt(key=key, what="x"))
    await asyncio.sleep(0.05)
    assert stored.paid == [] and not outbox._tasks  # no after-commit task
    assert await outbox.run("q", pay=pay_from_memory)
    assert await outbox.run("s", pay=pay_from_memory)
    assert not await outbox.run("q", pay=pay_from_memory)  # settled: not paid twice
    assert in_memory == ["q", "s"] and stored.paid == []
    # What the hot path never paid (its process died) the sweep pays with the outbox's payer,
    # whose None is no outcome: done.
    assert await outbox.sweep() == 1 and stored.paid == ["left"]
    assert await _states(db) == {"q": ("queued", 1), "s": ("skipped", 1), "left": (DONE, 1)}


async def test_stopping_the_sweeps_lets_the_payment_in_hand_finish_and_takes_no_more(
    dbs: Any,
) -> None:
    """Cancelled at once (as it was), the loop was cut inside the payment in hand (or inside a
    statement): the row stayed leased, half paid. Told to stop, it settles that row and leaves;
    the rest wait for the next start."""
    db, _ = dbs
    pay = Payer(delay=0.5)
    outbox = Outbox(db, Debt, pay, what="test debt")
    outbox._start = lambda *_: None  # type: ignore[method-assign]  # left for the sweep
    async with db.write() as s:
        for key in ("a", "b"):
            await outbox.owe(s, Debt(key=key, what="x"), group="g")
    sweeps = Sweeps()
    sweeps.register(outbox, 3600)
    running = sweeps.running(web.Application())
    await anext(running)  # started: the recovery pass takes the first row
    await asyncio.sleep(0.2)  # ... and is paying it
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(running), timeout=5.0)  # the app's cleanup
    assert len(pay.paid) == 1
    states = await _states(db)
    assert states[pay.paid[0]] == (DONE, 1)
    assert [v for k, v in states.items() if k != pay.paid[0]] == [(PENDING, 0)]


async def test_what_the_payers_pay_through_is_closed_after_the_loops_ended(dbs: Any) -> None:
    """The AS4 channel, which MLS go out over, was closed by a cleanup context of its own that
    aiohttp ran before this one (registered later): a sweep could still be paying over it.
    ``close_after`` closes it once the payment in hand is done."""
    db, _ = dbs
    events: list[str] = []

    async def pay(row: Debt) -> None:
        events.append("paying")
        await asyncio.sleep(0.5)
        events.append("paid")

    async def close() -> None:
        events.append("closed")

    outbox = Outbox(db, Debt, pay, what="test debt")
    outbox._start = lambda *_: None  # type: ignore[method-assign]  # left for the sweep
    async with db.write() as s:
        await outbox.owe(s, Debt(key="a", what="x"), group="g")
    sweeps = Sweeps()
    sweeps.register(outbox, 3600)
    sweeps.close_after(close)
    running = sweeps.running(web.Application())
    await anext(running)
    await asyncio.sleep(0.2)  # the recovery pass is paying
    assert events == ["paying"]
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(running), timeout=5.0)
    assert events == ["paying", "paid", "closed"]
