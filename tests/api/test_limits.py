"""Limits and timeouts of the HTTP edge (issue 14, item 9), each set small and exercised.

Real server on loopback, raw sockets where a client must misbehave (slow headers, slow body),
SQLAlchemy's own statement events to count database reads.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from tests.api.rawhttp import port_of

if TYPE_CHECKING:
    pass


async def test_slow_headers_are_cut_off_at_header_timeout(make_gateway: Any) -> None:
    gw = await make_gateway(header_timeout=1.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(gw))
    started = time.monotonic()
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")

    async def drip() -> None:  # one header byte every 0.2 s, never the blank line
        for _ in range(100):
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(0.2)

    dripping = asyncio.create_task(drip())
    try:
        data = await asyncio.wait_for(reader.read(), 8.0)
    finally:
        dripping.cancel()
        writer.close()
    elapsed = time.monotonic() - started
    assert data == b""  # closed, no request was ever handled
    assert 0.9 <= elapsed < 6.0, elapsed
    # Well-behaved clients are unaffected.
    async with gw.http.get(gw.url + "/health") as resp:
        assert resp.status in (200, 503)


async def test_slow_body_gets_408_at_body_timeout(make_gateway: Any, ubl: bytes) -> None:
    gw = await make_gateway(body_timeout=1.0)
    key = await gw.key("acme", "submit")
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(gw))
    writer.write(
        b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Length: %d\r\n\r\n" % len(ubl) + ubl[:100]
    )
    await writer.drain()
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(4096), 8.0)
    elapsed = time.monotonic() - started
    writer.close()
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"request-timeout" in data
    assert 0.9 <= elapsed < 6.0, elapsed


async def test_bodies_in_memory_are_bounded(make_gateway: Any, ubl: bytes) -> None:
    budget = 1_000_000
    gw = await make_gateway(max_bodies_bytes=budget)
    key = await gw.key("acme", "submit")
    # A slow upload of 800 kB holds its reservation while it streams.
    _reader, writer = await asyncio.open_connection("127.0.0.1", port_of(gw))
    writer.write(
        b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 800000\r\n\r\n<x>"
    )
    await writer.drain()
    await asyncio.sleep(0.5)
    big = ubl + b" " * (500_000 - len(ubl))  # whitespace after the root: still the invoice
    headers = {**gw.headers(key), "Content-Type": "application/xml"}
    started = time.monotonic()
    async with gw.http.post(gw.url + "/v1/documents", data=big, headers=headers) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "2"
        assert (await resp.json(content_type=None))["code"] == "busy"
    assert time.monotonic() - started < 5.0  # answered at once, not queued
    writer.close()
    await asyncio.sleep(0.5)  # the slow request ends; its reservation is released
    async with gw.http.post(gw.url + "/v1/documents", data=big, headers=headers) as resp:
        assert resp.status == 201, await resp.text()


async def test_failed_authentication_is_rate_limited_per_client(make_gateway: Any) -> None:
    gw = await make_gateway(auth_failures_per_minute=5)
    good = await gw.key("acme", "read")
    for n in range(5):
        status, body = await gw.get(f"gw_{n:012x}_{'x' * 43}", "/v1/documents")
        assert status == 401, body
    status, body = await gw.get("gw_000000000009_" + "y" * 43, "/v1/documents")
    assert status == 429 and body["code"] == "too-many-auth-failures", body
    assert 1 <= body["retry_after_seconds"] <= 60
    # The limit is on the client address: it holds for any key until the window ends.
    status, _ = await gw.get(good, "/v1/documents")
    assert status == 429


async def test_unknown_keys_are_answered_without_a_database_read(make_gateway: Any) -> None:
    gw = await make_gateway(auth_failures_per_minute=0)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "api_keys" in statement:
            statements.append(statement)

    engine = gw.db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        unknown = "gw_0123456789ab_" + "z" * 43
        for _ in range(20):
            status, _ = await gw.get(unknown, "/v1/documents")
            assert status == 401
        malformed = ["gw_\u00e9\u00e9", "x" * 300, "gw_a_b c"]
        for token in malformed:
            async with gw.http.get(
                gw.url + "/v1/documents", headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 401
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements  # the first time only
