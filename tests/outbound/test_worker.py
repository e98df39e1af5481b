"""An idle worker and drafts scheduler sleep instead of polling: work queued in this process
wakes them at once, work another process queues is found within ``idle_poll_max``, and an
idle worker's polls thin out (real SQLite, a real receiver on loopback, a real second
process)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

from gateway.lifecycle import API, Cause
from gateway.outbound import OutboundService
from tests.factories import make_document
from tests.outbound.conftest import Receiver, enqueue_doc, make_settings, open_db, rig
from tests.outbound.processes import enqueue_elsewhere
from tests.waiting import until


async def _delivered(receiver: Receiver, message_id: str) -> bool:
    return message_id in receiver.message_ids


async def test_work_queued_in_process_wakes_an_idle_worker_at_once(
    tmp_path: Path, receiver: Receiver, invoice: bytes
) -> None:
    # Polls 30 s apart: only the queue's wake-up can make this delivery quick.
    r = await rig(tmp_path, receiver.url, poll_interval=30.0, idle_poll_max=30.0)
    task = asyncio.create_task(r.worker.run())
    try:
        await asyncio.sleep(0.3)  # its first turn found nothing: asleep now
        t0 = time.monotonic()
        item, _ = await enqueue_doc(r.queue, invoice, "0002:here")
        await until(lambda: _delivered(receiver, item.message_id), timeout=10)
        assert time.monotonic() - t0 < 5.0
        # An admin's requeue wakes it too.
        receiver.mode = "reject"
        failed, _ = await enqueue_doc(r.queue, invoice, "0002:here")
        await until(lambda: _state(r, failed.document_id, "failed"), timeout=10)
        receiver.mode = "ok"
        t0 = time.monotonic()
        await r.queue.requeue(failed.document_id)
        await until(lambda: _delivered(receiver, failed.message_id), timeout=10)
        assert time.monotonic() - t0 < 5.0
    finally:
        await r.worker.stop()
        task.cancel()
        await r.transports.aclose()
        await r.db.dispose()


async def _state(r, doc_id: str, state: str) -> bool:  # type: ignore[no-untyped-def]
    found = await r.queue.get(doc_id)
    return found is not None and found[0].state == state


async def test_idle_polls_back_off_and_work_from_another_process_is_found_within_the_bound(
    tmp_path: Path, receiver: Receiver, invoice: bytes
) -> None:
    bound = 1.5
    r = await rig(tmp_path, receiver.url, poll_interval=0.05, idle_poll_max=bound)
    claims = 0
    claim = r.queue.claim

    async def counted(owner: str, limit: int):  # type: ignore[no-untyped-def]
        nonlocal claims
        claims += 1
        return await claim(owner, limit)

    r.queue.claim = counted  # type: ignore[method-assign]
    task = asyncio.create_task(r.worker.run())
    try:
        await asyncio.sleep(4.0)
        # 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 1.5 s apart: a handful of turns, not 80.
        assert 3 <= claims <= 12, claims
        t0 = time.monotonic()
        message_id, _ = await enqueue_elsewhere(r.settings, invoice)
        queued_at = time.monotonic()
        await until(lambda: _delivered(receiver, message_id), timeout=bound + 10)
        # Generous: the bound plus a loaded machine's delivery time.
        assert time.monotonic() - queued_at < bound + 3.0, time.monotonic() - t0
    finally:
        await r.worker.stop()
        task.cancel()
        await r.transports.aclose()
        await r.db.dispose()


async def test_a_draft_scheduled_in_process_wakes_the_scheduler(
    tmp_path: Path, receiver: Receiver, invoice: bytes
) -> None:
    routes = [{"participant": "0002:*", "url": receiver.url, "transport": "http"}]
    settings = make_settings(tmp_path, routes=routes, poll_interval=0.05, idle_poll_max=30.0)
    db = await open_db(settings)
    service = OutboundService(settings, db, None)
    await service.start()
    try:
        await asyncio.sleep(0.3)  # nothing scheduled: the scheduler sleeps idle_poll_max
        send_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        doc = make_document(invoice)
        routing = {"receiver": "0002:later", "sender": "", "document_type": "", "process": ""}
        await service.drafts.create(doc, routing, send_at=send_at, cause=Cause("api", role=API))
        await until(lambda: _queued_or_sent(service, doc.id), timeout=10)
        assert dt.datetime.now(dt.UTC) - send_at < dt.timedelta(seconds=5)
    finally:
        await service.aclose()
        await db.dispose()


async def _queued_or_sent(service: OutboundService, doc_id: str) -> bool:
    return await service.queue.get(doc_id) is not None


async def test_a_worker_kept_off_a_busy_receiver_keeps_polling_instead_of_backing_off(
    tmp_path: Path, receiver: Receiver, invoice: bytes
) -> None:
    # Another process holds the receiver's only slot (lease 3 s): work is due, so this worker
    # is not idle. Backing off (0.05 s doubling towards 30 s) it would look again only at
    # ~6.3 s; polling, it delivers both items soon after the lease runs out at 3 s. (CI: a
    # second gateway on one PostgreSQL database took no share of a receiver's queue.)
    r = await rig(
        tmp_path,
        receiver.url,
        poll_interval=0.05,
        idle_poll_max=30.0,
        per_receiver_concurrency=1,
        lease_seconds=3.0,
    )
    second = invoice.replace(b"<cbc:ID>Snippet1</cbc:ID>", b"<cbc:ID>Snippet2</cbc:ID>")
    held, _ = await enqueue_doc(r.queue, invoice, "0002:busy")
    waiting, _ = await enqueue_doc(r.queue, second, "0002:busy")
    assert [m.message_id for m in await r.queue.claim("other-process", 1)] == [held.message_id]
    t0 = time.monotonic()
    task = asyncio.create_task(r.worker.run())
    try:
        await until(lambda: _delivered(receiver, waiting.message_id), timeout=15)
        assert time.monotonic() - t0 < 5.0
        await until(lambda: _delivered(receiver, held.message_id), timeout=10)
    finally:
        await r.worker.stop()
        task.cancel()
        await r.transports.aclose()
        await r.db.dispose()


async def test_stopping_the_scheduler_as_a_draft_wakes_it_ends_it(tmp_path: Path) -> None:
    # A wake-up and the cancel in one loop step: asyncio.wait_for (3.11) swallowed the cancel,
    # the scheduler's loop ran on and aclose() waited for ever (a CI run hung 75 minutes).
    settings = make_settings(tmp_path, routes=[], poll_interval=0.05, idle_poll_max=30.0)
    db = await open_db(settings)
    service = OutboundService(settings, db, None)
    await service.start()
    try:
        await asyncio.sleep(0.3)  # nothing scheduled: asleep
        service.drafts.wake()
        t0 = time.monotonic()
        await asyncio.wait_for(service.drafts.stop(), timeout=5.0)
        # (Its own cancel ends stop() at the timeout without an error: time it instead.)
        assert time.monotonic() - t0 < 2.0
    finally:
        await service.aclose()
        await db.dispose()


async def test_stopping_while_a_claim_is_made_waits_for_its_deliveries_and_records_them(
    tmp_path: Path, receiver: Receiver, invoice: bytes
) -> None:
    # The claim returns after stop() began: the deliveries it starts are waited for and their
    # outcome recorded. Counted before the loop had left, they ran on unwatched, nothing was
    # recorded, and the item waited out its lease before anyone sent it again (CI).
    r = await rig(tmp_path, receiver.url, poll_interval=0.05, lease_seconds=60.0)
    item, _ = await enqueue_doc(r.queue, invoice, "0002:here")
    claimed, gate = asyncio.Event(), asyncio.Event()
    claim = r.queue.claim

    async def held(owner: str, limit: int):  # type: ignore[no-untyped-def]
        got = await claim(owner, limit)
        if got:
            claimed.set()
            await gate.wait()
        return got

    r.queue.claim = held  # type: ignore[method-assign]
    task = asyncio.create_task(r.worker.run())
    try:
        await asyncio.wait_for(claimed.wait(), 10)
        stopping = asyncio.create_task(r.worker.stop())
        await asyncio.sleep(0.2)  # stop() has begun: the loop is told to stop
        gate.set()
        await asyncio.wait_for(stopping, 15)
        assert await _state(r, item.document_id, "delivered")
        assert await _delivered(receiver, item.message_id)
    finally:
        gate.set()
        await r.worker.stop()
        task.cancel()
        await r.transports.aclose()
        await r.db.dispose()
