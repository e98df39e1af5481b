"""Webhooks never follow redirects: a receiver answering 302 gets the event counted as failed
(and retried), and the address it points to never hears a thing.

Why it matters beyond the SSRF guard: a followed 302 turns the POST into a body-less GET, which
the second server answers 200, so a followed redirect recorded an event as delivered that no
one received. The receivers are on loopback, so these run with
``[webhooks] allow_private_destinations`` on, as the loopback fixtures do; the guard refuses a
loopback first hop itself (``test_webhook_destinations.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.forwarding import post_signed, webhook_session
from gateway.store import repo
from tests.live_gateway import Gw, factory


@dataclass
class Receiver:
    url: str = ""
    calls: list[tuple[str, bytes]] = field(default_factory=list)


async def receiver(aiohttp_server: Any, status: int, location: str = "") -> Receiver:
    """A real server on 127.0.0.1 that records every request (any method, any path) and
    answers ``status`` (with ``Location: location`` when given)."""
    got = Receiver()

    async def handle(request: web.Request) -> web.Response:
        got.calls.append((request.method, await request.read()))
        return web.Response(status=status, headers={"Location": location} if location else {})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    got.url = str(server.make_url("/hook"))
    return got


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_an_error_and_is_not_followed(aiohttp_server: Any, status: int) -> None:
    second = await receiver(aiohttp_server, 200)
    first = await receiver(aiohttp_server, status, location=second.url)
    async with webhook_session(5, allow_private=True) as http:
        result = await post_signed(
            http, first.url, b'{"a": 1}', secret="s" * 16, event="x", allow_private=True, headers={}
        )
    assert (result.status, result.error, result.outcome) == (status, f"HTTP {status}", "http_3xx")
    assert first.calls == [("POST", b'{"a": 1}')]
    assert second.calls == []


@pytest.fixture
async def gw(
    tmp_path: Path, validator: Any, aiohttp_server: Any, corpus_dir: Path
) -> AsyncIterator[Gw]:
    async with factory(tmp_path, validator, aiohttp_server, corpus_dir) as make:
        yield await make()  # loopback receivers: allow_private_destinations = true, 3 attempts


async def test_a_delivery_to_a_redirecting_receiver_fails_after_its_retries(
    gw: Gw, aiohttp_server: Any
) -> None:
    second = await receiver(aiohttp_server, 200)
    first = await receiver(aiohttp_server, 302, location=second.url)
    async with gw.db.write() as s:
        await repo.set_webhook(s, "acme", first.url)
    key = await gw.key("acme")
    doc = await gw.receive(key, gw.base_invoice)

    delivery: dict[str, Any] = {}
    for _ in range(200):
        deliveries = (await gw.doc(key, doc["id"]))["deliveries"]
        if deliveries and deliveries[0]["state"] not in ("pending", "retrying"):
            delivery = deliveries[0]
            break
        await asyncio.sleep(0.05)
    assert delivery.get("state") == "failed", delivery
    attempts = delivery["attempts"]
    assert len(attempts) == 3  # [webhooks] max_attempts: each 302 was retried
    assert {(a["http_status"], a["error"]) for a in attempts} == {(302, "HTTP 302")}
    assert [method for method, _ in first.calls] == ["POST"] * 3
    assert second.calls == []  # the redirect's target never heard a thing
    assert (await gw.doc(key, doc["id"]))["status"] != "forwarded"
