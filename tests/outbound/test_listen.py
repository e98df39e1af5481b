"""On PostgreSQL, an item another process queues wakes this process's idle worker at once
(``NOTIFY`` at its commit, the service's ``LISTEN``), also after the listening connection was
killed, and stopping the service leaves nothing running (real PostgreSQL, a real second
interpreter, a real receiver on loopback). The worker polls 30 s apart: only the wake-up can
make these deliveries quick."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.lifecycle import API, Cause
from gateway.outbound import OutboundService
from tests.factories import make_document
from tests.outbound.conftest import Receiver, make_settings, open_db
from tests.outbound.processes import enqueue_elsewhere
from tests.waiting import until

#: The most a wake-up may take, from the other process's commit to the delivery's arrival.
PROMPT = 3.0


@pytest.fixture
async def service(
    tmp_path: Path, receiver: Receiver, pg_database: str
) -> AsyncIterator[OutboundService]:
    routes = [{"participant": "0002:*", "url": receiver.url, "transport": "http"}]
    settings = make_settings(
        tmp_path, pg_database, routes=routes, poll_interval=30.0, idle_poll_max=30.0
    )
    svc = OutboundService(settings, await open_db(settings), None)
    await svc.start()
    try:
        await until(lambda: svc.queue.wakeups.backend_pid is not None, what="the listener")
        await asyncio.sleep(0.5)  # its first turn found nothing: asleep for 30 s now
        yield svc
    finally:
        await svc.aclose()
        await svc.db.dispose()


async def _woken_by_another_process(
    service: OutboundService, receiver: Receiver, invoice: bytes
) -> None:
    """A second interpreter queues ``invoice``: the idle worker delivers it within PROMPT."""
    message_id, committed = await enqueue_elsewhere(service.settings, invoice)
    latency = await _latency(receiver, message_id, committed)
    assert latency < PROMPT, f"delivered {latency:.2f} s after the other process's commit"


async def _latency(receiver: Receiver, message_id: str, committed: float) -> float:
    """Seconds from the other process's commit until the receiver has the delivery (waits up
    to the 30 s poll, so that a failure says how late it came)."""
    await until(lambda: message_id in receiver.message_ids, timeout=40, interval=0.02)
    return time.time() - committed


@pytest.mark.postgres
async def test_an_item_queued_by_another_process_wakes_the_idle_worker(
    service: OutboundService, receiver: Receiver, invoice: bytes
) -> None:
    await _woken_by_another_process(service, receiver, invoice)


@pytest.mark.postgres
async def test_a_killed_listener_comes_back_and_still_wakes_the_worker(
    service: OutboundService, receiver: Receiver, invoice: bytes
) -> None:
    wakeups = service.queue.wakeups
    killed = wakeups.backend_pid
    async with service.db.write() as s:
        await s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": killed})
    await until(lambda: wakeups.backend_pid not in (None, killed), what="a new listener")
    await asyncio.sleep(0.5)  # the reconnection's own wake-up has been and gone
    await _woken_by_another_process(service, receiver, invoice)


@pytest.mark.postgres
async def test_a_draft_another_process_sends_at_send_at_wakes_the_worker(
    service: OutboundService, receiver: Receiver, invoice: bytes
) -> None:
    # Another "process": its own engine and Wakeups on the database; its scheduler's one step.
    other = OutboundService(service.settings, await open_db(service.settings), None)
    try:
        doc = make_document(invoice)
        routing = {"receiver": "0002:later", "sender": "", "document_type": "", "process": ""}
        now = dt.datetime.now(dt.UTC)
        await other.drafts.create(doc, routing, send_at=now, cause=Cause("api", role=API))
        assert await other.drafts.send_due() == [doc.id]
        sent = time.monotonic()
        found = await other.queue.get(doc.id)
        assert found is not None
        await until(lambda: found[0].message_id in receiver.message_ids, timeout=40)
        assert time.monotonic() - sent < PROMPT
    finally:
        await other.db.dispose()


@pytest.mark.postgres
async def test_stopping_the_service_stops_the_listener(
    tmp_path: Path, receiver: Receiver, pg_database: str
) -> None:
    routes = [{"participant": "0002:*", "url": receiver.url, "transport": "http"}]
    settings = make_settings(tmp_path, pg_database, routes=routes, idle_poll_max=30.0)
    service = OutboundService(settings, await open_db(settings), None)
    await service.start()
    wakeups = service.queue.wakeups
    await until(lambda: wakeups.backend_pid is not None, what="the listener")
    pid = wakeups.backend_pid
    await service.aclose()
    ours = ("listen-", "outbound-")
    left = [t for t in asyncio.all_tasks() if t.get_name().startswith(ours) and not t.done()]
    assert not left, left

    async def gone() -> bool:
        async with service.db.read() as s:
            query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            return await s.scalar(query, {"pid": pid}) == 0

    await until(gone, timeout=5, what="the listening backend gone")
    await service.db.dispose()


@pytest.mark.postgres
async def test_listen_off_starts_no_listener(tmp_path: Path, pg_database: str) -> None:
    settings = make_settings(tmp_path, pg_database, listen=False)
    service = OutboundService(settings, await open_db(settings), None)
    await service.start()
    try:
        await asyncio.sleep(0.3)
        assert service.queue.wakeups.backend_pid is None
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("listen-")]
    finally:
        await service.aclose()
        await service.db.dispose()
