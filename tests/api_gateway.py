"""A real gateway on loopback for the API's tests and the admin routes' (aiohttp test server,
SQLite file in tmp, real validator): the :func:`gateway` fixture and its :class:`Gateway`
client, the :func:`ubl` invoice. ``tests/api/conftest.py`` and ``tests/admin/conftest.py``
expose the fixtures (kept out of a conftest: ``from conftest import`` may resolve to another
folder's conftest when several test folders run together)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
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
