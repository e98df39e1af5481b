"""The queue with real SQLite files and a real receiving HTTP server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.outbound.queue import NotRequeueable
from gateway.outbound.retry import RetryPolicy
from tests.outbound.conftest import Receiver, Rig, enqueue_doc, make_settings, rig
from tests.waiting import until


@pytest.fixture
async def r(tmp_path: Path, receiver: Receiver) -> AsyncIterator[Rig]:
    rg = await rig(tmp_path, receiver.url)
    yield rg
    await rg.transports.aclose()
    await rg.db.dispose()


async def test_delivery_with_stable_headers_history_and_attempts(
    r: Rig, receiver: Receiver, invoice: bytes
) -> None:
    items = [(await enqueue_doc(r.queue, invoice, "0002:fr23342"))[0] for _ in range(3)]
    await r.worker.drain(timeout=20)
    assert sorted(receiver.message_ids) == sorted(i.message_id for i in items)
    headers = receiver.received[0]
    assert headers["X-Gateway-Receiver"] == "0002:fr23342"
    assert headers["X-Gateway-Sender"] == "0088:sender"
    assert receiver.bodies[items[0].message_id] == invoice
    for item in items:
        got, attempts = await r.queue.get(item.document_id)  # type: ignore[misc]
        assert got.state == "delivered" and got.delivered_at is not None
        assert [a.outcome for a in attempts] == ["delivered"]
        assert attempts[0].status_code == 202 and attempts[0].endpoint == receiver.url
        assert await r.history(item.document_id) == ["queued", "sending", "delivered"]
        assert await r.doc_status(item.document_id) == "delivered"
    stats = await r.queue.stats()
    assert stats.depth["delivered"] == 3 and stats.depth["queued"] == 0


async def test_receiver_down_then_up_retries_then_delivers(
    r: Rig, receiver: Receiver, invoice: bytes
) -> None:
    receiver.mode = "down"
    item, _ = await enqueue_doc(r.queue, invoice, "0002:fr23342")
    task = asyncio.create_task(r.worker.run())
    try:
        await until(lambda: _attempts_at_least(r, item.document_id, 2))
        got, _ = await r.queue.get(item.document_id)  # type: ignore[misc]
        assert got.state in ("retrying", "sending")
        receiver.mode = "ok"
        await until(lambda: _state_is(r, item.document_id, "delivered"))
    finally:
        await r.worker.stop()
        task.cancel()
    got, attempts = await r.queue.get(item.document_id)  # type: ignore[misc]
    outcomes = [a.outcome for a in attempts]
    assert outcomes[-1] == "delivered" and set(outcomes[:-1]) == {"transient"}
    assert attempts[0].error_code == "http-503" and attempts[0].status_code == 503
    # The same Message-Id on every attempt, and delivered exactly once.
    assert set(receiver.seen) == {item.message_id} and len(receiver.seen) == len(attempts)
    assert receiver.message_ids == [item.message_id]
    history = await r.history(item.document_id)
    assert history[:3] == ["queued", "sending", "retrying"] and history[-1] == "delivered"


async def _attempts_at_least(r: Rig, doc_id: str, n: int) -> bool:
    got = await r.queue.get(doc_id)
    return got is not None and len(got[1]) >= n


async def _state_is(r: Rig, doc_id: str, state: str) -> bool:
    got = await r.queue.get(doc_id)
    return got is not None and got[0].state == state


async def test_permanent_failure_then_requeue_then_delivered(
    r: Rig, receiver: Receiver, invoice: bytes
) -> None:
    receiver.mode = "reject"
    item, _ = await enqueue_doc(r.queue, invoice, "0002:fr23342")
    await r.worker.drain(timeout=20)
    got, attempts = await r.queue.get(item.document_id)  # type: ignore[misc]
    assert got.state == "failed" and got.last_error_code == "http-400"
    assert "unknown document type" in (got.last_error or "")
    assert [a.outcome for a in attempts] == ["permanent"]  # no retry for a 4xx
    receiver.mode = "ok"
    await r.queue.requeue(item.document_id, actor="key:admin")
    await r.worker.drain(timeout=20)
    got, attempts = await r.queue.get(item.document_id)  # type: ignore[misc]
    assert got.state == "delivered"
    assert [a.outcome for a in attempts] == ["permanent", "delivered"]
    assert [a.number for a in attempts] == [1, 2]
    assert await r.history(item.document_id) == [
        "queued",
        "sending",
        "failed",
        "queued",
        "sending",
        "delivered",
    ]
    with pytest.raises(NotRequeueable):
        await r.queue.requeue(item.document_id)
    assert receiver.message_ids == [item.message_id]


async def test_connection_refused_is_transient_and_attempts_are_bounded(
    tmp_path: Path, invoice: bytes
) -> None:
    rg = await rig(tmp_path, "http://127.0.0.1:9/inbox", max_attempts=3)
    try:
        item, _ = await enqueue_doc(rg.queue, invoice, "0002:fr23342")
        task = asyncio.create_task(rg.worker.run())
        await until(lambda: _state_is(rg, item.document_id, "failed"))
        await rg.worker.stop()
        task.cancel()
        got, attempts = await rg.queue.get(item.document_id)  # type: ignore[misc]
        assert [a.outcome for a in attempts] == ["transient"] * 3
        assert {a.error_code for a in attempts} == {"connection-failed"}
        assert got.last_error and got.last_error.startswith("gave up after 3 attempts")
    finally:
        await rg.transports.aclose()
        await rg.db.dispose()


async def test_unrouted_receiver_fails_at_once(r: Rig, invoice: bytes) -> None:
    item, _ = await enqueue_doc(r.queue, invoice, "9915:nobody")
    await r.worker.drain(timeout=20)
    got, attempts = await r.queue.get(item.document_id)  # type: ignore[misc]
    assert got.state == "failed" and got.last_error_code == "no-route"
    assert len(attempts) == 1 and attempts[0].endpoint is None


async def test_idempotency_key_returns_first_item(r: Rig, invoice: bytes) -> None:
    first, created = await enqueue_doc(r.queue, invoice, "0002:fr23342", idempotency_key="k1")
    again, created2 = await enqueue_doc(r.queue, invoice, "0002:fr23342", idempotency_key="k1")
    assert created and not created2
    assert again.document_id == first.document_id
    other, created3 = await enqueue_doc(
        r.queue, invoice, "0002:fr23342", idempotency_key="k1", tenant="other"
    )
    assert created3 and other.document_id != first.document_id  # keys are per tenant
    assert (await r.queue.stats()).depth["queued"] == 2


async def test_leases_are_exclusive_and_expire(tmp_path: Path, invoice: bytes) -> None:
    rg = await rig(tmp_path, "http://127.0.0.1:9/x", lease_seconds=0.3)
    try:
        item, _ = await enqueue_doc(rg.queue, invoice, "0002:fr23342")
        a = await rg.queue.claim("worker-a", 10)
        assert [m.id for m in a] == [item.document_id] and a[0].attempt == 1
        assert await rg.queue.claim("worker-b", 10) == []  # leased by a
        await asyncio.sleep(0.4)
        b = await rg.queue.claim("worker-b", 10)  # a "died": its lease expired
        assert [m.id for m in b] == [item.document_id] and b[0].attempt == 2
        assert b[0].message_id == a[0].message_id
        history = await rg.history(item.document_id)
        assert history == ["queued", "sending", "sending"]
    finally:
        await rg.transports.aclose()
        await rg.db.dispose()


async def test_per_receiver_concurrency_limit(tmp_path: Path, invoice: bytes) -> None:
    rg = await rig(tmp_path, "http://127.0.0.1:9/x", per_receiver_concurrency=2)
    try:
        for _ in range(5):
            await enqueue_doc(rg.queue, invoice, "0002:fr23342")
        await enqueue_doc(rg.queue, invoice, "0002:other")
        claimed = await rg.queue.claim("w", 10)
        receivers = sorted(m.receiver for m in claimed)
        assert receivers == ["0002:fr23342", "0002:fr23342", "0002:other"]
        assert await rg.queue.claim("w2", 10) == []  # the busy receiver is at its limit
    finally:
        await rg.transports.aclose()
        await rg.db.dispose()


def test_backoff_grows_with_jitter_and_is_capped(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, retry_initial=5, retry_max=3600)
    policy = RetryPolicy(settings.outbound)
    delays = [policy.delay(n) for n in range(1, 15)]
    assert 5 <= delays[0] <= 10
    assert delays[3] >= 40  # 5 * 2**3
    assert max(delays) <= 3600 and delays[-1] == 3600
    assert len({round(policy.delay(2), 6) for _ in range(20)}) > 1  # jitter
