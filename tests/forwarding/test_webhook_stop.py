"""Stopping the webhook forwarder (a real gateway and receivers on loopback): told to stop, it
lets the attempt in flight finish and records it, and a delivery waiting out its backoff leaves
at once, still pending. Cancelled (as it was), the attempt a receiver had already answered
stayed pending and was sent again after the restart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from sqlalchemy import select

from gateway.store import WebhookDelivery, repo
from gateway.web import FORWARDER
from tests.live_gateway import Gw
from tests.waiting import until


async def _receiver(aiohttp_server: Any, status: int, delay: float) -> tuple[str, list[float]]:
    """A webhook that answers ``status`` ``delay`` seconds after each POST arrived."""
    arrived: list[float] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        arrived.append(time.monotonic())
        await asyncio.sleep(delay)
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    return str(server.make_url("/hook")), arrived


async def _states(gw: Gw) -> list[tuple[str, int]]:
    async with gw.db.read() as s:
        rows = await s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.seq))
        return [(r.state, r.attempts) for r in rows]


async def test_the_attempt_in_flight_finishes_and_is_recorded(
    gw_factory: Any, aiohttp_server: Any
) -> None:
    gw = await gw_factory()
    url, arrived = await _receiver(aiohttp_server, 204, delay=0.5)
    async with gw.db.write() as s:
        await repo.set_webhook(s, "acme", url)
    await gw.receive(await gw.key("acme"), gw.base_invoice)
    await until(lambda: arrived, 4, interval=0.02)  # the receiver has it and is answering
    await gw.app[FORWARDER].stop()
    assert await _states(gw) == [("delivered", 1)]  # not pending: no second send at restart
    assert len(arrived) == 1


async def test_a_delivery_in_its_backoff_leaves_at_once_still_pending(
    gw_factory: Any, aiohttp_server: Any
) -> None:
    gw = await gw_factory(settings={"webhooks": {"retry_initial": 30.0, "retry_max": 60.0}})
    url, arrived = await _receiver(aiohttp_server, 500, delay=0.0)
    async with gw.db.write() as s:
        await repo.set_webhook(s, "acme", url)
    await gw.receive(await gw.key("acme"), gw.base_invoice)
    await until(lambda: arrived, 4, interval=0.02)
    await asyncio.sleep(0.2)  # the failed attempt is recorded; the backoff (>= 30 s) runs
    started = time.monotonic()
    await gw.app[FORWARDER].stop()
    assert time.monotonic() - started < 2.0
    assert await _states(gw) == [("pending", 1)]  # the next start tries again
    assert len(arrived) == 1
