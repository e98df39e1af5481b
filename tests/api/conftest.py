"""A real gateway on loopback: aiohttp test server, SQLite file in tmp, real validator."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.config import load_settings
from gateway.server import create_app
from gateway.store import Database, repo
from gateway.web import DB

XR = "xrechnung-testsuite/business-cases/standard/"


@pytest.fixture
def ubl(corpus_dir: Path) -> bytes:
    return (corpus_dir / XR / "01.01a-INVOICE_ubl.xml").read_bytes()


@pytest.fixture
def cii(corpus_dir: Path) -> bytes:
    """The same invoice as :func:`ubl` (same seller, number, date, amount), in CII syntax."""
    return (corpus_dir / XR / "01.01a-INVOICE_uncefact.xml").read_bytes()


def renumber(ubl: bytes, number: str) -> bytes:
    """The UBL invoice with another invoice number (a different, non-duplicate invoice)."""
    return re.sub(
        rb"<cbc:ID>123456XX</cbc:ID>", f"<cbc:ID>{number}</cbc:ID>".encode(), ubl, count=1
    )


def invalid(ubl: bytes) -> bytes:
    """XRechnung without BuyerReference: BR-DE-15 rejects it."""
    return re.sub(rb"<cbc:BuyerReference>.*?</cbc:BuyerReference>", b"", ubl)


@dataclass
class Gateway:
    app: Any
    url: str
    http: aiohttp.ClientSession

    renumber = staticmethod(renumber)
    invalid = staticmethod(invalid)

    @property
    def db(self) -> Database:
        return self.app[DB]

    async def key(self, tenant: str, *scopes: str) -> str:
        async with self.db.write() as s:
            _, plaintext = await repo.create_api_key(s, tenant, scopes or ("submit", "read"))
        return plaintext

    def headers(self, key: str | None, **extra: str) -> dict[str, str]:
        h = dict(extra)
        if key:
            h["Authorization"] = f"Bearer {key}"
        return h

    async def submit(
        self, key: str, raw: bytes, content_type: str = "application/xml"
    ) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            self.url + "/v1/documents",
            data=raw,
            headers=self.headers(key, **{"Content-Type": content_type}),
        ) as resp:
            return resp.status, await resp.json(content_type=None)

    async def get(self, key: str | None, path: str) -> tuple[int, Any]:
        async with self.http.get(self.url + path, headers=self.headers(key)) as resp:
            return resp.status, await resp.json(content_type=None)

    async def post_json(self, key: str | None, path: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(self.url + path, json=body, headers=self.headers(key)) as resp:
            return resp.status, await resp.json(content_type=None)


def gateway_settings(tmp_path: Path, **overrides: Any) -> Any:
    base: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "webhooks": {  # the webhook receivers of these tests listen on loopback
            "retry_initial": 0.05,
            "retry_max": 0.2,
            "max_attempts": 4,
            "timeout": 5,
            "allow_private_destinations": True,
        },
    }
    for k, v in overrides.items():
        if isinstance(v, dict):
            base.setdefault(k, {}).update(v)
        else:
            base[k] = v
    return load_settings(env={}, overrides=base)


@pytest.fixture
async def gateway(tmp_path: Path, validator: Any, aiohttp_server: Any) -> AsyncIterator[Gateway]:
    settings = gateway_settings(tmp_path)
    app = create_app(settings, validator=validator)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    async with aiohttp.ClientSession() as http:
        yield Gateway(app, str(server.make_url("")).rstrip("/"), http)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_gateway(
    request: pytest.FixtureRequest, tmp_path: Path, validator: Any, aiohttp_server: Any
) -> AsyncIterator[Gateway]:
    """The gateway on SQLite and on PostgreSQL (where over-long values and NULs used to 500)."""
    async with AsyncExitStack() as stack:
        overrides: dict[str, Any] = {}
        if request.param == "postgres":
            from gateway.store import upgrade

            fresh = request.getfixturevalue("pg_databases")
            overrides["database_url"] = await stack.enter_async_context(fresh())
            db = Database.from_settings(gateway_settings(tmp_path, **overrides))
            await upgrade(db.engine)
            await db.dispose()
        app = create_app(gateway_settings(tmp_path, **overrides), validator=validator)
        server = await aiohttp_server(app, host="127.0.0.1", port=0)
        async with aiohttp.ClientSession() as http:
            yield Gateway(app, str(server.make_url("")).rstrip("/"), http)
        await server.close()


@pytest.fixture
async def make_gateway(
    tmp_path: Path, validator: Any, aiohttp_server: Any
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_gateway(**http_settings)``: a gateway with its own ``[http]`` settings."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(**http: Any) -> Gateway:
        app = create_app(gateway_settings(tmp_path, http=http), validator=validator)
        server = await aiohttp_server(app, host="127.0.0.1", port=0)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Gateway(app, str(server.make_url("")).rstrip("/"), session)

    yield make
    for s in sessions:
        await s.close()
