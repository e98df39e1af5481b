"""/metrics: counters kept as they change, no database work per scrape, optional protection."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from gateway.config import load_settings
from gateway.observability import BoundedLabel
from gateway.server import create_app
from gateway.store import repo
from gateway.web import DB, METRICS

XR = "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _serve(
    aiohttp_server: Any, tmp_path: Path, validator: Any, host: str = "127.0.0.1", **metrics: Any
) -> tuple[Any, str]:
    settings = load_settings(
        env={}, overrides={"data_dir": str(tmp_path / "data"), "metrics": metrics}
    )
    app = create_app(settings, validator=validator)
    server = await aiohttp_server(app, host=host, port=0)
    return app, f"http://{host}:{server.port}"


async def test_scrapes_do_not_touch_the_database(
    aiohttp_server: Any, tmp_path: Path, validator: Any, corpus_dir: Path
) -> None:
    app, url = await _serve(aiohttp_server, tmp_path, validator, snapshot_seconds=3600)
    async with app[DB].write() as s:
        _, key = await repo.create_api_key(s, "acme", ["submit", "read"])
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "count(" in statement.lower():  # the snapshot's aggregates; pollers run others
            statements.append(statement)

    for engine in {app[DB].engine, app[DB].read_engine}:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/xml"}
        async with http.post(
            f"{url}/v1/documents", data=(corpus_dir / XR).read_bytes(), headers=headers
        ) as resp:
            assert resp.status == 201
        async with http.get(f"{url}/metrics") as resp:  # the first scrape reads the snapshot
            first = _samples(await resp.text())
        assert statements  # ... with aggregates (the probe sees them)
        statements.clear()
        for _ in range(50):
            async with http.get(f"{url}/metrics") as resp:
                assert resp.status == 200
                text = await resp.text()
    assert statements == []  # 50 scrapes, not one aggregate over the tables
    assert app[METRICS].snapshot.refreshes == 1
    docs = frozenset({"direction": "inbound", "channel": "api", "status": "received"}.items())
    assert first["gateway_documents", docs] == 1
    got = _samples(text)
    intake = frozenset({"channel": "api", "status": "received", "tenant": "acme"}.items())
    assert got["gateway_intake_total", intake] == 1
    scraped = frozenset({"route": "/metrics", "method": "GET", "status": "200"}.items())
    assert got["gateway_http_requests_total", scraped] >= 50  # the request counter counts
    posted = frozenset({"route": "/v1/documents", "method": "POST", "status": "201"}.items())
    assert got["gateway_http_requests_total", posted] == 1


async def test_stale_snapshot_is_refreshed_in_the_background(
    aiohttp_server: Any, tmp_path: Path, validator: Any
) -> None:
    app, url = await _serve(aiohttp_server, tmp_path, validator, snapshot_seconds=0)
    async with aiohttp.ClientSession() as http:
        for _ in range(5):
            async with http.get(f"{url}/metrics") as resp:
                assert resp.status == 200
                assert "gateway_metrics_snapshot_age_seconds" in await resp.text()
    assert 1 <= app[METRICS].snapshot.refreshes <= 5


async def test_token_protects_metrics(aiohttp_server: Any, tmp_path: Path, validator: Any) -> None:
    _, url = await _serve(aiohttp_server, tmp_path, validator, token="s3cret-scrape")
    async with aiohttp.ClientSession() as http:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic s3cret-scrape"},
        ):
            async with http.get(f"{url}/metrics", headers=headers) as resp:
                assert resp.status == 401
                assert resp.content_type == "application/problem+json"
                assert "s3cret" not in await resp.text()
        async with http.get(
            f"{url}/metrics", headers={"Authorization": "Bearer s3cret-scrape"}
        ) as resp:
            assert resp.status == 200


def _own_address() -> str | None:
    """A non-loopback address of this machine (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


async def test_loopback_only(aiohttp_server: Any, tmp_path: Path, validator: Any) -> None:
    addr = _own_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback address")
    _, url = await _serve(aiohttp_server, tmp_path, validator, host="0.0.0.0", loopback_only=True)
    port = url.rsplit(":", 1)[1]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
            assert resp.status == 200
        async with http.get(f"http://{addr}:{port}/metrics") as resp:
            assert resp.status == 403
            assert (await resp.json(content_type=None))["code"] == "forbidden"


def test_tenant_labels_are_bounded() -> None:
    label = BoundedLabel(3)
    assert [label(t) for t in ("a", "b", "c", "d", "a", "e", None)] == [
        "a",
        "b",
        "c",
        "_other",
        "a",
        "_other",
        "_other",
    ]
