"""Claims on webhook deliveries (gateway.forwarding.claims), on SQLite and on PostgreSQL (when
``GATEWAY_TEST_POSTGRES_URL`` is set), with real receivers on loopback.

Two :class:`Database` objects on one database, each with its own :class:`Forwarder` (its own
owner token), stand for two gateway processes. Without claims each forwarder sent every
pending delivery it polled, so a receiver that was slow, or a delivery waiting out a retry's
backoff, got the event from both. What is checked: such a delivery reaches the receiver once
(one process's attempts only); a forwarder told to stop gives its lease back, so the next
start sends the delivery at once; a lease of another owner is honoured until it runs out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select, update

from gateway.config import WebhookSettings, load_settings
from gateway.forwarding import Forwarder
from gateway.store import Database, DeliveryAttempt, WebhookDelivery, repo, upgrade, utcnow
from tests.factories import make_document
from tests.waiting import until


@dataclass
class Receiver:
    """A webhook on loopback: answers each POST after ``delay`` s with the next of ``statuses``
    (the last one again and again); ``deliveries`` holds each request's X-Gateway-Delivery."""

    delay: float = 0.0
    statuses: list[int] = field(default_factory=lambda: [204])
    deliveries: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.deliveries.append(request.headers["X-Gateway-Delivery"])
        self.attempts.append(request.headers["X-Gateway-Attempt"])
        status = self.statuses[min(len(self.deliveries), len(self.statuses)) - 1]
        await asyncio.sleep(self.delay)
        return web.Response(status=status)


async def _receiver(aiohttp_server: Any, **kwargs: Any) -> Receiver:
    receiver = Receiver(**kwargs)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    receiver.url = str(server.make_url("/hook"))
    return receiver


@pytest.fixture
async def dbs(store_url: str, tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """Two processes' views of one migrated database."""
    conf = load_settings(env={}, overrides={"database_url": store_url, "data_dir": str(tmp_path)})
    one, two = Database.from_settings(conf), Database.from_settings(conf)
    await upgrade(one.engine)
    yield one, two
    await one.dispose()
    await two.dispose()


async def _pending_delivery(db: Database, url: str) -> int:
    """A received document of tenant ``acme`` whose ``document.received`` event is pending."""
    async with db.write() as s:
        await repo.set_webhook(s, "acme", url)
        doc = make_document(b"<Invoice/>")
        s.add(doc)
        await s.flush()
        delivery = WebhookDelivery(document_id=doc.id, tenant="acme", url=url)
        s.add(delivery)
        await s.flush()
        return delivery.seq


async def _row(db: Database, seq: int) -> WebhookDelivery:
    async with db.read() as s:
        row = await s.get(WebhookDelivery, seq)
        assert row is not None
        return row


async def _attempt_numbers(db: Database, seq: int) -> list[int]:
    async with db.read() as s:
        rows = await s.scalars(
            select(DeliveryAttempt.number)
            .where(DeliveryAttempt.delivery_seq == seq)
            .order_by(DeliveryAttempt.number)
        )
        return list(rows)


def _settings(**kwargs: Any) -> WebhookSettings:
    return WebhookSettings(allow_private_destinations=True, timeout=5.0, **kwargs)


async def _delivered(db: Database, seq: int) -> bool:
    return (await _row(db, seq)).state == "delivered"


@asynccontextmanager
async def running(*forwarders: Forwarder) -> AsyncIterator[None]:
    """The forwarders started together, and stopped at the end whatever happened."""
    try:
        await asyncio.gather(*(f.start() for f in forwarders))
        yield
    finally:
        await asyncio.gather(*(f.stop() for f in forwarders))


async def test_a_slow_receiver_gets_the_delivery_once_from_two_processes(
    dbs: tuple[Database, Database], aiohttp_server: Any
) -> None:
    """Both forwarders find the delivery pending at start; the receiver takes 1 s to answer,
    and both are woken (a poll) while it does: only one POST."""
    receiver = await _receiver(aiohttp_server, delay=1.0)
    seq = await _pending_delivery(dbs[0], receiver.url)
    forwarders = [Forwarder(db, _settings()) for db in dbs]
    async with running(*forwarders):
        await until(lambda: receiver.deliveries, 5, "the first POST", interval=0.02)
        for f in forwarders:
            f.wake(queued=True)
        await until(lambda: _delivered(dbs[1], seq), 10, "the delivery to be delivered")
        await asyncio.sleep(1.5)  # a second POST, had one been made, would have arrived
    assert receiver.deliveries == [str(seq)]
    row = await _row(dbs[0], seq)
    assert (row.attempts, row.lease_owner, row.lease_until) == (1, None, None)


async def test_a_delivery_in_its_backoff_is_not_sent_by_the_other_process(
    dbs: tuple[Database, Database], aiohttp_server: Any
) -> None:
    """The first attempt fails; while the sender waits out its backoff the other process's
    forwarder starts and polls: the receiver gets attempts 1 and 2 of the first process only."""
    receiver = await _receiver(aiohttp_server, statuses=[500, 204])
    seq = await _pending_delivery(dbs[0], receiver.url)
    settings = _settings(retry_initial=1.0, retry_max=1.0)  # a backoff of 1-2 s
    forwarders = [Forwarder(db, settings) for db in dbs]
    async with running(forwarders[0]):
        await until(lambda: _attempt_numbers(dbs[0], seq), 5, "the failed attempt recorded")
        async with running(forwarders[1]):  # finds the delivery pending at start
            await asyncio.sleep(0.3)
            forwarders[1].wake(queued=True)  # and at a poll
            await until(lambda: _delivered(dbs[0], seq), 10, "the retry to be delivered")
            await asyncio.sleep(2.0)  # the first process's backoff, had the second sent it
    assert (receiver.deliveries, receiver.attempts) == ([str(seq)] * 2, ["1", "2"])
    assert await _attempt_numbers(dbs[0], seq) == [1, 2]


async def test_a_stopped_forwarder_gives_its_lease_back_for_the_next_start(
    dbs: tuple[Database, Database], aiohttp_server: Any
) -> None:
    """Stopped in a 30 s backoff, the forwarder leaves the delivery pending without its lease
    (about two minutes long here): the next process's forwarder sends it at once."""
    receiver = await _receiver(aiohttp_server, statuses=[500, 204])
    seq = await _pending_delivery(dbs[0], receiver.url)
    settings = _settings(retry_initial=30.0, retry_max=30.0)
    async with running(Forwarder(dbs[0], settings)):
        await until(lambda: _attempt_numbers(dbs[0], seq), 5, "the failed attempt recorded")
    row = await _row(dbs[0], seq)
    assert (row.state, row.lease_owner, row.lease_until) == ("pending", None, None)
    async with running(Forwarder(dbs[1], settings)):
        await until(lambda: _delivered(dbs[1], seq), 3, "the next start to deliver it")
    assert receiver.attempts == ["1", "2"]


async def test_another_owners_lease_holds_until_it_runs_out(
    dbs: tuple[Database, Database],
) -> None:
    """A process killed with -9 keeps its lease: no one else takes the delivery until the
    lease has run out; its owner may renew it meanwhile."""
    seq = await _pending_delivery(dbs[0], "https://hooks.example/x")
    dead, alive = Forwarder(dbs[0], _settings()).claims, Forwarder(dbs[1], _settings()).claims
    assert await dead.take(seq)
    assert not await alive.take(seq)
    assert await dead.take(seq)  # a renewal
    async with dbs[0].write() as s:
        past = utcnow() - dt.timedelta(seconds=1)
        await s.execute(
            update(WebhookDelivery).where(WebhookDelivery.seq == seq).values(lease_until=past)
        )
    assert await alive.take(seq)
    assert (await _row(dbs[1], seq)).lease_owner == alive.owner
