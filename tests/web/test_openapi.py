"""The OpenAPI 3.1 description: built from the routes, every route in it, and schemathesis
against a live server on loopback (no 5xx; status codes, content types and bodies conform)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web

from gateway.config import load_settings
from gateway.server import create_app
from gateway.store import repo
from gateway.web import DB, separate_prefixes, undescribed
from gateway.web.openapi import build
from tests.live_server import LiveServer, fuzz

XR = "xrechnung-testsuite/business-cases/standard/01.01a-INVOICE_ubl.xml"


def _app(tmp: Path, validator: Any) -> web.Application:
    settings = load_settings(env={}, overrides={"data_dir": str(tmp)})
    return create_app(settings, validator=validator)


def test_every_route_is_described(tmp_path: Path, validator: Any) -> None:
    app = _app(tmp_path, validator)
    assert undescribed(app) == []
    doc = build(app, title="t", version="1")
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        # The console's pages and the separately described APIs (the AFNOR Flow API, with its
        # own description and its own test) are not in ours.
        skipped = ("/console", *separate_prefixes(app))
        if route.method in {"GET", "POST", "PUT", "DELETE"} and not path.startswith(skipped):
            assert (route.method, path.replace(r"{n:\d+}", "{n}")) in described, path
    # The console's HTML pages are not API: left out on purpose (rendered at /console/api).
    console = [
        r for r in app.router.routes() if (r.resource.canonical or "").startswith("/console")
    ]
    assert len(console) > 10
    assert not [p for p in doc["paths"] if p.startswith("/console")]
    listing = doc["paths"]["/v1/documents"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "number", "issued_from"}
    assert "401" in listing["responses"] and "400" in listing["responses"]


def test_an_undescribed_route_is_found(tmp_path: Path, validator: Any) -> None:
    app = _app(tmp_path, validator)

    async def secret(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/v1/forgotten", secret)
    assert undescribed(app) == ["GET /v1/forgotten"]


@pytest.fixture
def live(tmp_path: Path, validator: Any) -> Iterator[LiveServer]:
    server = LiveServer(_app(tmp_path, validator)).start()
    yield server
    server.stop()


def _fuzz(live: LiveServer, key: str, wanted: Any, seconds: float) -> int:
    """Schemathesis from our own description (public, no key) with ``key``."""
    doc = requests.get(f"{live.url}/v1/openapi.json", timeout=30)
    assert doc.status_code == 200
    headers = {"Authorization": f"Bearer {key}"}
    return fuzz(doc.json(), live.url, headers, lambda op: op.path != "/as4" and wanted(op), seconds)


def _key(live: LiveServer, tenant: str, scopes: list[str], operator: bool = False) -> str:
    async def make() -> str:
        async with live.app[DB].write() as s:
            _, key = await repo.create_api_key(s, tenant, scopes, operator=operator)
        return key

    return live.call(make())


def test_schemathesis_against_the_live_server(live: LiveServer, corpus_dir: Path) -> None:
    key = _key(live, "acme", ["admin"])
    stored = requests.post(
        f"http://127.0.0.1:{live.port}/v1/documents",
        data=(corpus_dir / XR).read_bytes(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/xml"},
        timeout=120,
    )
    assert stored.status_code == 201, stored.text
    assert _fuzz(live, key, lambda op: True, 240) >= 25


def test_schemathesis_management_routes_as_operator(live: LiveServer) -> None:
    """The management API with an operator key (which passes every access check), in a store
    of its own: whatever tenants, keys and webhooks it makes touch no other test."""
    key = _key(live, "operator", [], operator=True)
    management = ("/v1/admin/tenants", "/v1/admin/deliveries")
    assert _fuzz(live, key, lambda op: op.path.startswith(management), 90) >= 15
