"""Scheduled drafts are queued exactly once at ``send_at``: two ``gateway outbound run``
processes on one PostgreSQL, one of them killed with SIGKILL while drafts fall due."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.lifecycle import Cause, Lifecycle, OutboundDraft
from gateway.outbound.drafts import Drafts
from gateway.outbound.models import OutboundItem
from gateway.store import Document, StatusChange, utcnow
from tests.factories import make_document
from tests.outbound.conftest import make_settings, open_db
from tests.outbound.processes import (
    CountingReceiver,
    gateway_stderr,
    numbered,
    start_gateway,
    write_config,
)
from tests.waiting import until


def draft_doc(raw: bytes) -> Document:
    return make_document(raw, channel="api", kind="Invoice")


async def _count(db, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.mark.postgres
async def test_scheduled_drafts_sent_once_by_two_processes_with_a_kill_9(
    tmp_path: Path,
    counting: CountingReceiver,
    invoice: bytes,
    pg_database: str,
) -> None:
    n = 40
    counting.delay = 0.02
    settings = make_settings(tmp_path, database_url=pg_database)
    db = await open_db(settings)
    drafts = Drafts(db, Lifecycle())
    start = utcnow()
    routing = {
        "receiver": "0002:fr23342",
        "sender": "0088:sender",
        "document_type": "",
        "process": "",
    }
    for i in range(n):
        # Two waves: one due while both processes run, one due around the kill.
        when = start + dt.timedelta(seconds=4 if i % 2 else 8)
        await drafts.create(
            draft_doc(numbered(invoice, i)), routing, send_at=when, cause=Cause("api", "api")
        )
    assert await _count(db, OutboundItem) == 0  # drafts are not queued
    config = write_config(
        tmp_path / "gw.toml", tmp_path, counting.url, database_url=pg_database, lease_seconds=3.0
    )
    procs = [await start_gateway(config), await start_gateway(config)]
    try:
        await until(
            lambda: _delivered_at_least(db, n // 2), 60, "the first wave", detail=gateway_stderr
        )
        victim = procs.pop(0)
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        assert victim.returncode == -signal.SIGKILL
        procs.append(await start_gateway(config))
        await until(
            lambda: _delivered_at_least(db, n),
            90,
            "every scheduled draft delivered",
            detail=gateway_stderr,
        )
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()

    assert await _count(db, OutboundItem) == n  # one queue item per draft
    assert await _count(db, OutboundDraft) == 0
    queued = await _count(
        db, StatusChange, StatusChange.to_status == "queued", StatusChange.source == "scheduler"
    )
    assert queued == n  # each draft moved to queued exactly once
    ids = counting.repeats()
    assert len(ids) == n and all(len(m) == 1 for m in ids.values())  # one Message-Id each
    async with db.read() as s:
        early = await s.scalar(select(func.min(OutboundItem.queued_at)))
    assert early is not None and early >= start + dt.timedelta(seconds=4)  # never before send_at
    await db.dispose()


async def _delivered_at_least(db, k: int) -> bool:  # type: ignore[no-untyped-def]
    return await _count(db, OutboundItem, OutboundItem.state == "delivered") >= k
