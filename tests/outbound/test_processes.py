"""Whole gateway processes: kill -9 mid-send, and two processes draining one PostgreSQL queue.

The processes are real ``gateway outbound run`` subprocesses (the same worker ``gateway serve``
runs); the receiver is a real HTTP server in the test process that records every request.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.outbound.models import OutboundAttempt, OutboundItem
from gateway.outbound.queue import OutboundQueue
from tests.outbound.conftest import enqueue_doc, make_settings, open_db
from tests.outbound.processes import (
    CountingReceiver,
    gateway_stderr,
    numbered,
    start_gateway,
    write_config,
)
from tests.waiting import until


async def _count(db, *where) -> int:  # type: ignore[no-untyped-def]
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(OutboundItem).where(*where))


async def test_kill_9_mid_send_then_restart_delivers_everything(
    tmp_path: Path, counting: CountingReceiver, invoice: bytes
) -> None:
    n = 60
    settings = make_settings(tmp_path)
    db = await open_db(settings)
    queue = OutboundQueue(db, settings.outbound)
    for i in range(n):
        await enqueue_doc(queue, numbered(invoice, i), "0002:fr23342")
    config = write_config(tmp_path / "gw.toml", tmp_path, counting.url)

    proc = await start_gateway(config)
    try:
        await until(
            lambda: _received(counting, 15),
            30,
            "first deliveries",
            detail=gateway_stderr,
        )
        # Kill at a moment when the database shows leased items (between two loop turns a
        # worker may briefly hold none).
        in_flight = 0
        for _ in range(200):
            in_flight = await _count(db, OutboundItem.state == "sending")
            if in_flight:
                break
            await asyncio.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert in_flight > 0, "kill should hit items in flight"
        delivered_before = await _count(db, OutboundItem.state == "delivered")
        assert delivered_before < n

        proc = await start_gateway(config)
        await until(
            lambda: _all_delivered(db, n),
            60,
            "all items delivered after restart",
            detail=gateway_stderr,
        )
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()

    ids = counting.repeats()
    assert len(ids) == n, "every invoice reached the receiver"
    # Each invoice travelled under exactly one Message-Id, so every repeat is detectable.
    assert all(len(m) == 1 for m in ids.values())
    repeats = len(counting.requests) - n
    print(f"kill -9: {in_flight} in flight at kill, {repeats} detectable repeat(s), 0 undetectable")
    async with db.read() as s:
        owners = set(await s.scalars(select(OutboundAttempt.worker)))
    assert len(owners) == 2  # both process lives recorded attempts
    await db.dispose()


async def _received(rec: CountingReceiver, k: int) -> bool:
    return len(rec.requests) >= k


async def _all_delivered(db, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await _count(db, OutboundItem.state == "delivered") == n


@pytest.mark.postgres
async def test_two_gateways_on_one_postgresql_send_nothing_twice(
    tmp_path: Path, counting: CountingReceiver, invoice: bytes, pg_database: str
) -> None:
    n = 200
    counting.delay = 0.01
    settings = make_settings(tmp_path, database_url=pg_database)
    db = await open_db(settings)
    queue = OutboundQueue(db, settings.outbound)
    for i in range(n):
        await enqueue_doc(queue, numbered(invoice, i), "0002:fr23342")
    config = write_config(
        tmp_path / "gw.toml", tmp_path, counting.url, database_url=pg_database, lease_seconds=30.0
    )
    procs = [await start_gateway(config), await start_gateway(config)]
    try:
        await until(
            lambda: _all_delivered(db, n),
            90,
            "all items delivered",
            detail=gateway_stderr,
        )
    finally:
        for proc in procs:
            proc.terminate()
            await proc.wait()
    assert len(counting.requests) == n, "no item was sent twice"
    assert len({m for m, _ in counting.requests}) == n
    async with db.read() as s:
        per_worker = dict(
            (
                await s.execute(
                    select(OutboundAttempt.worker, func.count()).group_by(OutboundAttempt.worker)
                )
            ).all()
        )
    assert len(per_worker) == 2 and all(c > 0 for c in per_worker.values()), per_worker
    assert sum(per_worker.values()) == n
    print(f"two gateways on PostgreSQL: {per_worker}")
    await db.dispose()
