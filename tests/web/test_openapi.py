"""The OpenAPI 3.1 description: built from the routes, every route in it, and schemathesis
against a live server on loopback (no 5xx; status codes, content types and bodies conform)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web

from gateway.config import load_settings
from gateway.server.app import create_app
from gateway.store import repo
from gateway.web import DB, undescribed
from gateway.web.openapi import build

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
        if route.method in {"GET", "POST", "PUT", "DELETE"} and not path.startswith("/console"):
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


class _LiveServer:
    """The gateway on a loopback port, in a thread with its own event loop (schemathesis
    calls it synchronously with requests)."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.ready.set()
        self.loop.run_forever()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def stop(self) -> None:
        self.call(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


@pytest.fixture
def live(tmp_path: Path, validator: Any) -> Iterator[_LiveServer]:
    server = _LiveServer(_app(tmp_path, validator))
    server.thread.start()
    assert server.ready.wait(120)
    yield server
    server.stop()


def _fuzz(live: _LiveServer, key: str, wanted: Any, seconds: float) -> int:
    """Run schemathesis with ``key`` on the operations ``wanted(op)`` selects; returns how many
    ran (no 5xx; status codes, content types and bodies as described)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    base = f"http://127.0.0.1:{live.port}"
    headers = {"Authorization": f"Bearer {key}"}
    doc = requests.get(f"{base}/v1/openapi.json", timeout=30)  # public, no key
    assert doc.status_code == 200
    schema = schemathesis.openapi.from_dict(doc.json())
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    session = requests.Session()
    deadline = time.monotonic() + seconds  # bounded: the default suite must stay quick
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    ran = 0
    for op in operations:
        if op.path == "/as4" or not wanted(op) or time.monotonic() > deadline:
            continue

        @settings(
            max_examples=8,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(
                base_url=base, session=session, headers=headers, checks=checks, timeout=30
            )

        ran += 1
        try:
            run()
        except Exception as exc:  # collect all, report together
            failures.append(f"{op.label}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
    return ran


def _key(live: _LiveServer, tenant: str, scopes: list[str], operator: bool = False) -> str:
    async def make() -> str:
        async with live.app[DB].write() as s:
            _, key = await repo.create_api_key(s, tenant, scopes, operator=operator)
        return key

    return live.call(make())


def test_schemathesis_against_the_live_server(live: _LiveServer, corpus_dir: Path) -> None:
    key = _key(live, "acme", ["admin"])
    stored = requests.post(
        f"http://127.0.0.1:{live.port}/v1/documents",
        data=(corpus_dir / XR).read_bytes(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/xml"},
        timeout=120,
    )
    assert stored.status_code == 201, stored.text
    assert _fuzz(live, key, lambda op: True, 240) >= 25


def test_schemathesis_management_routes_as_operator(live: _LiveServer) -> None:
    """The management API with an operator key (which passes every access check), in a store
    of its own: whatever tenants, keys and webhooks it makes touch no other test."""
    key = _key(live, "operator", [], operator=True)
    management = ("/v1/admin/tenants", "/v1/admin/deliveries")
    assert _fuzz(live, key, lambda op: op.path.startswith(management), 90) >= 15
